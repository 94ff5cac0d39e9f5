#!/usr/bin/env python3
"""Runs template.yaml's ECS task definitions as containers on this machine,
the way ECS would, and checks that each goes healthy by its own health check
and answers /ready (what the ECS CLI's "local" mode did).

The template is read with SAM CLI's own parser (intrinsic functions kept as
data, then resolved here for the parameters' defaults). Of each container
definition it takes: the image (mapped to a local tag), entry point and
command, port mappings (published on 127.0.0.1), environment, secrets (from a
local values in place of Secrets Manager: each secret generated as its
GenerateSecretString says, the admin's as RDS's managed secret would hold
it), user, ReadonlyRootFilesystem, memory and the health check (exec form,
as ECS runs it: no shell). Tasks of an ECS service registered in Cloud Map
get that service's DNS name on the network, as the Lambda and orders-api
address them in AWS. A MySQL container (mysql:8.4, as compose) stands in for
Aurora: DB_HOST names it and DB_SSL_CA is emptied (it speaks plain TCP; the
local images carry no RDS CA bundle). A local issuer (scripts/dev-keys.sh)
stands in for the stack's Cognito user pool: its key set is passed as the
template's JwtJwks parameter, as make deploy passes the pool's, and the
pool and its client get stand-in ids; the order below carries a token it
signed for that issuer and audience.

First, as scripts/deploy.py does between its two passes, the migrate task
(`migrate --seed`) creates the database, the schema, the two services'
users and the sample data as the admin; then the services start as their
own users, and an order placed through orders-api proves that it reaches
customers-api by its Cloud Map name.

  ecs-local.py [--image NAME=TAG ...] [--keep]

NAME is a container name of the template; default TAG is NAME:local (the
images `make up` builds); the migrate container runs orders-api's.
"""
import argparse
import json
import os
import re
import secrets
import shutil
import string
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request

import docker
from samcli.yamlhelper import yaml_parse

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
REGION = "us-east-1"
SECONDS = 1_000_000_000


class Template:
    """template.yaml with its parameters at their defaults."""

    def __init__(self, path):
        with open(path, encoding="utf-8") as f:
            self.doc = yaml_parse(f.read())
        self.resources = self.doc["Resources"]
        self.params = {
            name: str(p["Default"])
            for name, p in self.doc.get("Parameters", {}).items()
            if "Default" in p
        }
        self.params.update({"AWS::Region": REGION, "AWS::URLSuffix": "amazonaws.com"})

    def condition(self, name):
        """A condition of the template, for the parameters' defaults."""
        return self.evaluate(self.doc["Conditions"][name])

    def evaluate(self, expr):
        if isinstance(expr, dict):
            (fn, args), = expr.items()
            if fn == "Fn::Equals":
                return str(self.resolve(args[0])) == str(self.resolve(args[1]))
            if fn == "Fn::Not":
                return not self.evaluate(args[0])
            if fn == "Fn::And":
                return all(self.evaluate(a) for a in args)
            if fn == "Fn::Or":
                return any(self.evaluate(a) for a in args)
            if fn == "Condition":
                return self.condition(args)
        raise SystemExit(f"condition {expr!r} is not understood here")

    def of_type(self, kind):
        return {n: r for n, r in self.resources.items() if r["Type"] == kind}

    def resolve(self, value):
        """Intrinsics that container definitions use: Ref, Sub, GetAtt."""
        if isinstance(value, list):
            return [self.resolve(v) for v in value]
        if not isinstance(value, dict):
            return value
        if "Ref" in value:
            name = value["Ref"]
            if name in self.params:
                return self.params[name]
            return f"<{name}>"
        if "Fn::Sub" in value:
            sub = value["Fn::Sub"]
            text, extra = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
            for name, v in extra.items():
                text = text.replace("${" + name + "}", str(self.resolve(v)))
            for name, v in self.params.items():
                text = text.replace("${" + name + "}", v)
            # What remains names resources: <Name>, as Ref gives them.
            return re.sub(r"\$\{([\w.]+)\}", r"<\1>", text)
        if "Fn::If" in value:
            condition, yes, no = value["Fn::If"]
            return self.resolve(yes if self.condition(condition) else no)
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            target = target.split(".") if isinstance(target, str) else target
            return f"<{'.'.join(target)}>"
        return {k: self.resolve(v) for k, v in value.items()}

    def cloud_map_name(self, task_definition):
        """The DNS name ECS registers the tasks of this definition under."""
        for service in self.of_type("AWS::ECS::Service").values():
            props = service["Properties"]
            if props.get("TaskDefinition", {}).get("Ref") != task_definition:
                continue
            for registry in props.get("ServiceRegistries", []):
                discovery = self.resources[registry["RegistryArn"]["Fn::GetAtt"][0]]
                ns_ref = discovery["Properties"]["NamespaceId"]["Fn::GetAtt"][0]
                namespace = self.resolve(self.resources[ns_ref]["Properties"]["Name"])
                return f"{discovery['Properties']['Name']}.{namespace}"
        return None


def secret_ref(value_from):
    """`<Secret>:KEY::` (a JSON key of a secret) -> (Secret, KEY)."""
    m = re.fullmatch(r"<([\w.]+)>:(\w+)::", value_from)
    if not m:
        raise SystemExit(f"ValueFrom {value_from!r} does not name a JSON key of a secret")
    return m.group(1), m.group(2)


def local_secrets(template, admin_password):
    """Each secret of the template as Secrets Manager would generate it (its
    SecretStringTemplate plus GenerateStringKey, letters and digits), and the
    admin's as RDS's managed master secret holds it."""
    values = {"DatabaseCluster.MasterUserSecret.SecretArn": {"username": "root", "password": admin_password}}
    for name, res in template.of_type("AWS::SecretsManager::Secret").items():
        gen = res["Properties"]["GenerateSecretString"]
        value = json.loads(gen["SecretStringTemplate"])
        length = int(gen.get("PasswordLength", 32))
        value[gen["GenerateStringKey"]] = "".join(
            secrets.choice(string.ascii_letters + string.digits) for _ in range(length))
        values[name] = value
    return values


def container_spec(template, container, image, secret_values):
    c = template.resolve(container)
    env = {e["Name"]: str(e["Value"]) for e in c.get("Environment", [])}
    for s in c.get("Secrets", []):
        secret, key = secret_ref(s["ValueFrom"])
        if key not in secret_values.get(secret, {}):
            raise SystemExit(f"{c['Name']}: {secret} has no key {key}")
        env[s["Name"]] = secret_values[secret][key]
    # The stand-in for Aurora: by its network alias, without TLS.
    if "DB_HOST" in env:
        env["DB_HOST"] = "database"
        env["DB_SSL_CA"] = ""
    spec = {
        "image": image,
        "environment": env,
        "ports": {f"{p['ContainerPort']}/{p.get('Protocol', 'tcp')}": ("127.0.0.1", None)
                  for p in c.get("PortMappings", [])},
        "read_only": bool(c.get("ReadonlyRootFilesystem", False)),
    }
    if "User" in c:
        spec["user"] = c["User"]
    if "EntryPoint" in c:
        spec["entrypoint"] = c["EntryPoint"]
    if "Command" in c:
        spec["command"] = c["Command"]
    if "Memory" in c:
        spec["mem_limit"] = f"{c['Memory']}m"
    hc = c.get("HealthCheck")
    if hc:
        if hc["Command"][0] not in ("CMD", "CMD-SHELL"):
            raise SystemExit(f"{c['Name']}: health check must start with CMD or CMD-SHELL")
        spec["healthcheck"] = {
            "test": hc["Command"],
            "interval": int(hc.get("Interval", 30)) * SECONDS,
            "timeout": int(hc.get("Timeout", 5)) * SECONDS,
            "retries": int(hc.get("Retries", 3)),
            "start_period": int(hc.get("StartPeriod", 0)) * SECONDS,
        }
    return spec


def wait_healthy(container, limit_s):
    deadline = time.monotonic() + limit_s
    while time.monotonic() < deadline:
        container.reload()
        if container.status == "exited":
            break
        health = container.attrs["State"].get("Health", {}).get("Status")
        if health == "healthy":
            return True
        if health == "unhealthy":
            break
        time.sleep(1)
    container.reload()
    print(f"--- {container.name}: {container.status}, health "
          f"{container.attrs['State'].get('Health', {}).get('Status')}; its log:", file=sys.stderr)
    print(container.logs(tail=30).decode(errors="replace"), file=sys.stderr)
    for entry in container.attrs["State"].get("Health", {}).get("Log", [])[-3:]:
        print(f"health check: exit {entry['ExitCode']}: {entry['Output'][:300]}", file=sys.stderr)
    return False


def start(client, network, name, aliases, **spec):
    """Creates the container on the network under its aliases, then starts it
    (so that names resolve from its first instruction on)."""
    c = client.containers.create(name=name, network=network.name, **spec)
    network.disconnect(c)
    network.connect(c, aliases=aliases)
    c.start()
    return c


def http(method, url, token=None, body=None):
    req = urllib.request.Request(url, method=method, data=json.dumps(body).encode() if body else None)
    req.add_header("Content-Type", "application/json")
    if token:
        req.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def host_port(container, port):
    container.reload()
    return container.attrs["NetworkSettings"]["Ports"][f"{port}/tcp"][0]["HostPort"]


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--image", action="append", default=[], help="NAME=TAG")
    ap.add_argument("--keep", action="store_true", help="leave the containers running")
    args = ap.parse_args()
    images = dict(i.split("=", 1) for i in args.image)
    template = Template(os.path.join(ROOT, "template.yaml"))
    client = docker.from_env()
    run_id = secrets.token_hex(4)
    admin_password = secrets.token_hex(16)
    values = local_secrets(template, admin_password)
    keys = tempfile.mkdtemp(prefix="ecs-local-keys-")
    issuer_env = {**os.environ, "DEV_KEYS_DIR": keys}
    template.params["JwtJwks"] = subprocess.run(
        [os.path.join(ROOT, "scripts", "dev-keys.sh"), "--inline"], env=issuer_env,
        check=True, capture_output=True, text=True).stdout.strip()
    template.params.update({"UserPool": "us-east-1_EcsLocal", "OperatorsClient": "ecslocalclient"})
    network = client.networks.create(f"ecs-local-{run_id}")
    started = []
    ok = False
    try:
        # No MYSQL_DATABASE: the migrate task creates the database, as it
        # does on a database that has none yet.
        db = start(
            client, network, f"ecs-local-{run_id}-database", ["database"], image="mysql:8.4",
            environment={"MYSQL_ROOT_PASSWORD": admin_password},
            command=["--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
            healthcheck={"test": ["CMD-SHELL", "mysqladmin ping -h 127.0.0.1 -u root -p$MYSQL_ROOT_PASSWORD --silent"],
                         "interval": 2 * SECONDS, "timeout": 3 * SECONDS, "retries": 60})
        started.append(db)
        if not wait_healthy(db, 120):
            raise SystemExit("the local MySQL did not come up")
        definitions = template.of_type("AWS::ECS::TaskDefinition")

        def spec_of(td_name):
            container = definitions[td_name]["Properties"]["ContainerDefinitions"][0]
            name = container["Name"]
            image = images.get(name, "orders-api:local" if name == "migrate" else f"{name}:local")
            return container, container_spec(template, container, image, values)

        # The migrate task, as scripts/deploy.py runs it: `migrate --seed`.
        container, spec = spec_of("MigrateTaskDefinition")
        spec["command"] = ["migrate", "--seed"]
        print(f"--- MigrateTaskDefinition/migrate: {spec['image']} {spec['command']} as user "
              f"{spec.get('user')}, read-only root {spec['read_only']}")
        migrate = start(client, network, f"ecs-local-{run_id}-migrate", [], **spec)
        started.append(migrate)
        code = migrate.wait(timeout=180)["StatusCode"]
        print(f"migrate --seed (one-shot task): exit {code}")
        if code != 0:
            print(migrate.logs(tail=20).decode(errors="replace"), file=sys.stderr)
            raise SystemExit("the migrate task failed")

        tasks = {}
        for td_name in definitions:
            if td_name == "MigrateTaskDefinition":
                continue
            alias = template.cloud_map_name(td_name)
            container, spec = spec_of(td_name)
            name = container["Name"]
            print(f"--- {td_name}/{name}: {spec['image']} as user {spec.get('user', '(image)')} "
                  f"(database user {spec['environment'].get('DB_USER')}), read-only root {spec['read_only']}, "
                  f"health check {spec.get('healthcheck', {}).get('test')}, Cloud Map name {alias}")
            c = start(client, network, f"ecs-local-{run_id}-{name}", [alias] if alias else [], **spec)
            started.append(c)
            tasks[name] = (c, spec, container)
        for name, (c, spec, container) in tasks.items():
            if "healthcheck" in spec and not wait_healthy(c, 120):
                raise SystemExit(f"{name} did not go healthy by its own health check")
            for port in container.get("PortMappings", []):
                status, body = http("GET", f"http://127.0.0.1:{host_port(c, port['ContainerPort'])}/ready")
                print(f"{name}: healthy; GET /ready -> {status} {body[:120]}")
                if status != 200:
                    raise SystemExit(f"{name} /ready answered {status}")
        # An order through orders-api, as its own database user: its customer
        # check goes to customers-api by the Cloud Map name of the template.
        orders_c, orders_spec, _ = tasks["orders-api"]
        env = {**issuer_env, "JWT_ISSUER": orders_spec["environment"]["JWT_ISSUER"],
               "JWT_AUDIENCE": orders_spec["environment"]["JWT_AUDIENCE"]}
        token = subprocess.run([os.path.join(ROOT, "scripts", "mint-token.sh"), "ecs-local", "600"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        port = host_port(orders_c, 3002)
        status, body = http("POST", f"http://127.0.0.1:{port}/orders", token,
                            {"customer_id": 1, "items": [{"product_id": 2, "qty": 1}]})
        print(f"POST /orders -> {status} {body[:160]}")
        if status != 201:
            raise SystemExit("orders-api could not place an order (customer check by Cloud Map name)")
        ok = True
        print("ECS task definitions: migrate --seed as the admin, every service healthy by its own health "
              "check as its own database user, /ready 200, an order")
    finally:
        shutil.rmtree(keys, ignore_errors=True)
        if args.keep and ok:
            print("left running: " + ", ".join(c.name for c in started))
        else:
            if not ok:
                for c in started:
                    try:
                        c.reload()
                        print(f"--- {c.name} ({c.status}):\n" + c.logs(tail=15).decode(errors="replace"), file=sys.stderr)
                    except docker.errors.APIError:
                        pass
            for c in started:
                try:
                    c.remove(force=True, v=True)
                except docker.errors.APIError:
                    pass
            network.remove()


if __name__ == "__main__":
    main()
