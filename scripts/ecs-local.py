#!/usr/bin/env python3
"""Runs template.yaml's ECS task definitions as containers on this machine,
the way ECS would, and checks that each goes healthy by its own health check
and answers /ready (what the ECS CLI's "local" mode did).

The template is read with SAM CLI's own parser (intrinsic functions kept as
data, then resolved here for the parameters' defaults). Of each container
definition it takes: the image (mapped to a local tag), entry point and
command, port mappings (published on 127.0.0.1), environment, secrets (from a
local JSON file in place of Secrets Manager, by the key each `ValueFrom`
names), user, ReadonlyRootFilesystem, memory and the health check (exec
form, as ECS runs it: no shell). Tasks of an ECS service registered in Cloud
Map get that service's DNS name on the network, as the Lambda and
orders-api address them in AWS. A MySQL container (mysql:8.4, as compose)
stands in for RDS.

Then, as `make seed-aws` does in AWS, a one-shot task of orders-api with the
command ["seed"] loads the sample data, and an order placed through
orders-api proves that it reaches customers-api by its Cloud Map name.

  ecs-local.py [--image NAME=TAG ...] [--keep]

NAME is a container name of the template; default TAG is NAME:local (the
images `make up` builds).
"""
import argparse
import json
import os
import secrets
import subprocess
import sys
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
            return text
        if "Fn::GetAtt" in value:
            target = value["Fn::GetAtt"]
            target = target.split(".") if isinstance(target, str) else target
            return f"<{target[0]}.{target[1]}>"
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


def secret_key(value_from):
    """`arn:...:secret:name:KEY::` (a JSON key of the secret) -> KEY."""
    parts = value_from.split(":")
    if len(parts) < 4 or parts[-2:] != ["", ""] or not parts[-3]:
        raise SystemExit(f"ValueFrom {value_from!r} does not name a JSON key of a secret")
    return parts[-3]


def container_spec(template, container, image, secret_values):
    c = template.resolve(container)
    env = {e["Name"]: str(e["Value"]) for e in c.get("Environment", [])}
    for s in c.get("Secrets", []):
        key = secret_key(s["ValueFrom"])
        if key not in secret_values:
            raise SystemExit(f"{c['Name']}: secret key {key} is not in the local secrets")
        env[s["Name"]] = secret_values[key]
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
    password = secrets.token_hex(16)
    local_secrets = {
        "DATABASE_URL": f"mysql://backoffice:{password}@database:3306/backoffice",
        "JWT_SECRET": secrets.token_hex(32),
        "SERVICE_TOKEN": secrets.token_hex(32),
    }
    network = client.networks.create(f"ecs-local-{run_id}")
    started = []
    ok = False
    try:
        db = start(
            client, network, f"ecs-local-{run_id}-database", ["database"], image="mysql:8.4",
            environment={"MYSQL_DATABASE": "backoffice", "MYSQL_USER": "backoffice",
                         "MYSQL_PASSWORD": password, "MYSQL_ROOT_PASSWORD": secrets.token_hex(16)},
            command=["--character-set-server=utf8mb4", "--collation-server=utf8mb4_unicode_ci"],
            healthcheck={"test": ["CMD-SHELL", "mysqladmin ping -h 127.0.0.1 -u root -p$MYSQL_ROOT_PASSWORD --silent"],
                         "interval": 2 * SECONDS, "timeout": 3 * SECONDS, "retries": 60})
        started.append(db)
        if not wait_healthy(db, 120):
            raise SystemExit("the local MySQL did not come up")

        tasks = {}
        for td_name, td in template.of_type("AWS::ECS::TaskDefinition").items():
            alias = template.cloud_map_name(td_name)
            for container in td["Properties"]["ContainerDefinitions"]:
                name = container["Name"]
                spec = container_spec(template, container, images.get(name, f"{name}:local"), local_secrets)
                print(f"--- {td_name}/{name}: {spec['image']} as user {spec.get('user', '(image)')}, "
                      f"read-only root {spec['read_only']}, health check {spec.get('healthcheck', {}).get('test')}, "
                      f"Cloud Map name {alias}")
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

        # The seed as `make seed-aws` runs it: orders-api's task, command ["seed"].
        orders_c, orders_spec, _ = tasks["orders-api"]
        seed_spec = {**orders_spec, "command": ["seed"], "ports": {}}
        seed_spec.pop("healthcheck", None)
        seed = start(client, network, f"ecs-local-{run_id}-seed", [], **seed_spec)
        started.append(seed)
        code = seed.wait(timeout=120)["StatusCode"]
        print(f"orders-api seed (one-shot task): exit {code}")
        if code != 0:
            print(seed.logs(tail=20).decode(errors="replace"), file=sys.stderr)
            raise SystemExit("the seed task failed")

        # An order through orders-api: its customer check goes to customers-api
        # by the Cloud Map name of the template.
        env = {**os.environ, "JWT_SECRET": local_secrets["JWT_SECRET"],
               "JWT_ISSUER": orders_spec["environment"].get("JWT_ISSUER", ""),
               "JWT_AUDIENCE": orders_spec["environment"].get("JWT_AUDIENCE", "")}
        token = subprocess.run([os.path.join(ROOT, "scripts", "mint-token.sh"), "ecs-local", "600"],
                               env=env, check=True, capture_output=True, text=True).stdout.strip()
        port = host_port(orders_c, 3002)
        status, body = http("POST", f"http://127.0.0.1:{port}/orders", token,
                            {"customer_id": 1, "items": [{"product_id": 2, "qty": 1}]})
        print(f"POST /orders -> {status} {body[:160]}")
        if status != 201:
            raise SystemExit("orders-api could not place an order (customer check by Cloud Map name)")
        ok = True
        print("ECS task definitions: every container healthy by its own health check, /ready 200, seed and an order")
    finally:
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
