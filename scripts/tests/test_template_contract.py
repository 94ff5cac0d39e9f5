"""template.yaml against what it deploys: the Dockerfile's runtime image, the
variables the code reads, the secrets' keys, the ports, the security groups
and the deploy script. Read through SAM's own parser and translator
(samtranslator, offline), so that what is checked is what CloudFormation
would get."""
import json
import re
from pathlib import Path

import pytest
from samcli.yamlhelper import yaml_parse
from samtranslator.translator.transform import transform

import deploy

ROOT = Path(__file__).resolve().parents[2]
TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
RESOURCES = TEMPLATE["Resources"]
PARAMETERS = TEMPLATE["Parameters"]

# The crate whose binary each task's image runs (the Dockerfile's SERVICE),
# and the code it is built from.
IMAGE_OF = {"CustomersImage": "customers-api", "OrdersImage": "orders-api",
            "MigrateImage": "orders-api"}
# The kit's crates each binary links (kit-testing is a dev-dependency only).
SERVER_KIT = ["kit/identity/src", "kit/runtime/src", "kit/server/src"]
SOURCES = {
    "customers-api": ["customers-api/src", *SERVER_KIT],
    "orders-api": ["orders-api/src", *SERVER_KIT, "kit/client/src"],
    "orchestrator-lambda": ["orchestrator-lambda/src", "kit/identity/src", "kit/runtime/src",
                            "kit/client/src"],
}
READERS = r'(?:required|optional|optional_url|parsed_or|parsed_in|secs_in|millis_in|env::var)\(\s*"([A-Z][A-Z0-9_]+)"'
DB_PARTS = {"DB_HOST", "DB_NAME", "DB_USER", "DB_PASSWORD"}
# Set by the platform, not by the template: Lambda's own variables and the
# AWS SDK's (region, credentials), read by the function's SDK.
PLATFORM = re.compile(r"^(AWS_.*|_HANDLER|LAMBDA_.*)$")


def read_vars(crate: str) -> dict[str, set[str]]:
    """The variables a binary reads, and those it requires."""
    read, required, prefixes = set(), set(), set()
    for folder in SOURCES[crate]:
        for path in (ROOT / folder).rglob("*.rs"):
            text = path.read_text()
            # Only the code that is built into the binary, not its tests.
            text = text.split("#[cfg(test)]")[0]
            read |= set(re.findall(READERS, text))
            # A family of variables read by prefix (SERVICE_TOKENS_<NAME>).
            prefixes |= set(re.findall(r'strip_prefix\(\s*"([A-Z][A-Z0-9_]*_)"\s*\)', text))
            required |= set(re.findall(r'required\(\s*"([A-Z][A-Z0-9_]+)"', text))
            if "try_from_default_env" in text:
                read.add("RUST_LOG")  # tracing's EnvFilter reads it
    # The DB_* parts are required only in place of DATABASE_URL (checked
    # per task below), not by every binary that links the kit.
    return {"read": read, "required": required - DB_PARTS, "prefixes": prefixes}


def ecs_containers():
    for name, res in RESOURCES.items():
        if res["Type"] != "AWS::ECS::TaskDefinition":
            continue
        for c in res["Properties"]["ContainerDefinitions"]:
            image_param = c["Image"]["Ref"]
            yield name, IMAGE_OF[image_param], c


def env_names(c) -> set[str]:
    return {e["Name"] for e in c.get("Environment", [])} | {s["Name"] for s in c.get("Secrets", [])}


def env_value(c, name):
    for e in c.get("Environment", []):
        if e["Name"] == name:
            return e["Value"]
    return None


def runtime_stage() -> dict:
    """Paths the Dockerfile's runtime stage puts in the image, its entry point."""
    text = (ROOT / "Dockerfile").read_text()
    stage = text[text.index("AS runtime"):]
    copied = set(re.findall(r"^COPY\s+(?:--\S+\s+)*\S+\s+(\S+)$", stage, re.M))
    entry = json.loads(re.search(r"^ENTRYPOINT\s+(\[.*\])$", stage, re.M).group(1))
    health = json.loads(re.search(r"^HEALTHCHECK .*CMD\s+(\[.*\])$", stage, re.M).group(1))
    return {"copied": copied, "entrypoint": entry, "healthcheck": health}


def subcommands(crate: str) -> set[str]:
    """The first arguments a service binary acts on (besides serving)."""
    text = (ROOT / crate / "src" / "main.rs").read_text()
    return set(re.findall(r'Some\("([a-z-]+)"\)', text)) | {"healthcheck"}


# --- the image ------------------------------------------------------------------


def test_health_checks_and_commands_name_what_the_image_has():
    image = runtime_stage()
    assert image["entrypoint"][0] in image["copied"], image
    for task, crate, c in ecs_containers():
        check = c.get("HealthCheck", {}).get("Command")
        if check:
            assert check[0] == "CMD", f"{task}: exec form (no shell in the image)"
            assert check[1:] == image["healthcheck"], (
                f"{task}: health check {check[1:]} is not the image's own {image['healthcheck']}")
            assert check[1] in image["copied"], f"{task}: {check[1]} is not in the runtime image"
        if "EntryPoint" in c:
            assert c["EntryPoint"][0] in image["copied"], f"{task}: entry point not in the image"
        if "Command" in c:
            assert c["Command"][0] in subcommands(crate), (
                f"{task}: {crate} does not know the command {c['Command']}")


def test_the_runtime_image_carries_the_ca_bundle_the_tasks_verify_the_database_with():
    dockerfile = (ROOT / "Dockerfile").read_text()
    for task, _, c in ecs_containers():
        ca = env_value(c, "DB_SSL_CA")
        assert ca, f"{task}: no DB_SSL_CA: the connection would not verify the server"
        assert ca.startswith("/etc/ssl/certs/"), ca
        assert Path(ca).name in dockerfile, f"{task}: {ca} is not what the certs stage writes"


def test_users_and_file_systems_are_the_images():
    dockerfile = (ROOT / "Dockerfile").read_text()
    user = re.search(r"^USER\s+(\S+)$", dockerfile[dockerfile.index("AS runtime"):], re.M).group(1)
    for task, _, c in ecs_containers():
        assert c.get("User") in (user, f"{user}:{user}"), task
        assert c.get("ReadonlyRootFilesystem") is True, task


# --- the variables --------------------------------------------------------------------


@pytest.mark.parametrize("task, crate, container", list(ecs_containers()), ids=lambda v: v if isinstance(v, str) else "")
def test_each_task_passes_what_its_binary_reads_and_nothing_else(task, crate, container):
    code = read_vars(crate)
    given = env_names(container)
    unread = {v for v in given - code["read"] if not v.startswith(tuple(code["prefixes"]))}
    assert not unread, f"{task}: passes {sorted(unread)}, which {crate} never reads"
    # The database comes as DATABASE_URL or as its DB_* parts.
    needed = set(code["required"]) - {"DATABASE_URL"}
    if "DATABASE_URL" not in given:
        needed |= DB_PARTS
    if "Command" in container:
        # A one-shot command reads what its own module requires.
        needed &= DB_PARTS
    missing = needed - given
    assert not missing, f"{task}: {crate} requires {sorted(missing)}"


def test_the_function_gets_what_it_reads_and_nothing_else():
    code = read_vars("orchestrator-lambda")
    fn = RESOURCES["OrchestratorFunction"]["Properties"]
    given = set(fn["Environment"]["Variables"])
    unread = given - code["read"]
    assert not unread, f"the function is given {sorted(unread)}, which it never reads"
    required = {v for v in code["required"] if not PLATFORM.match(v)} - {"SERVICE_TOKEN"}
    assert required <= given, f"the function requires {sorted(required - given)}"
    assert "APP_SECRET_ARN" in given, "the function's secrets come from Secrets Manager"


def test_the_migrate_task_provisions_both_service_users():
    migrate = next(c for t, _, c in ecs_containers() if t == "MigrateTaskDefinition")
    names = env_names(migrate)
    for v in ("CUSTOMERS_DB_USER", "CUSTOMERS_DB_PASSWORD", "ORDERS_DB_USER", "ORDERS_DB_PASSWORD"):
        assert v in names, v
    services = [c for t, _, c in ecs_containers() if t != "MigrateTaskDefinition"]
    for c in services:
        assert env_value(c, "MIGRATE_ON_START") == "false", c["Name"]


# --- secrets ------------------------------------------------------------------------------


def secret_keys(resource: str) -> set[str]:
    if resource == "DatabaseCluster.MasterUserSecret.SecretArn" or resource == "DatabaseAdminSecretArn":
        return {"username", "password"}  # RDS's managed master secret, and the documented shape
    gen = RESOURCES[resource]["Properties"]["GenerateSecretString"]
    return set(json.loads(gen["SecretStringTemplate"])) | {gen["GenerateStringKey"]}


def value_from_targets(value_from) -> list[tuple[str, str]]:
    """(secret, key) pairs a ValueFrom may point at."""
    if isinstance(value_from, dict) and "Fn::Sub" in value_from:
        sub = value_from["Fn::Sub"]
        text, extra = (sub, {}) if isinstance(sub, str) else (sub[0], sub[1])
        m = re.fullmatch(r"\$\{(\w+)\}:(\w+)::", text)
        assert m, f"ValueFrom {text!r} does not name a JSON key"
        name, key = m.groups()
        if name in extra:
            branches = extra[name]["Fn::If"][1:]
            refs = []
            for b in branches:
                if "Fn::GetAtt" in b:
                    refs.append(".".join(b["Fn::GetAtt"]) if isinstance(b["Fn::GetAtt"], list) else b["Fn::GetAtt"])
                else:
                    refs.append(b["Ref"])
            return [(r, key) for r in refs]
        return [(name, key)]
    raise AssertionError(f"ValueFrom {value_from!r} is not a Sub of a secret")


def test_every_secret_key_a_task_reads_is_in_that_secret():
    for task, _, c in ecs_containers():
        for s in c.get("Secrets", []):
            for secret, key in value_from_targets(s["ValueFrom"]):
                assert key in secret_keys(secret), f"{task}: {s['Name']} reads {key} of {secret}, which lacks it"


def test_each_execution_role_reads_only_the_secrets_its_task_receives():
    for task, _, c in ecs_containers():
        role = RESOURCES[task]["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
        allowed = RESOURCES[role]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"][0]["Resource"]
        allowed = json.dumps(allowed)
        used = {secret for s in c.get("Secrets", []) for secret, _ in value_from_targets(s["ValueFrom"])}
        for secret in used:
            ref = secret.split(".")[0]
            assert ref in allowed, f"{task}: its execution role may not read {secret}"
        for name, res in RESOURCES.items():
            if res["Type"] == "AWS::SecretsManager::Secret" and name not in used:
                assert f'"{name}"' not in allowed, f"{task}: its role may read {name}, which it does not use"


def function_secrets() -> list[str]:
    """The secrets APP_SECRET_ARN lists (one Ref, or a Sub of several)."""
    arns = RESOURCES["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]["APP_SECRET_ARN"]
    return [arns["Ref"]] if "Ref" in arns else re.findall(r"\$\{(\w+)\}", arns["Fn::Sub"])


def test_the_function_reads_the_secrets_it_lists():
    fn = RESOURCES["OrchestratorFunction"]["Properties"]
    listed = function_secrets()
    keys = set().union(*(secret_keys(s) for s in listed))
    assert {"SERVICE_TOKEN"} <= keys
    allowed = json.dumps(fn["Policies"])
    assert all(s in allowed for s in listed)


def test_customers_api_knows_each_caller_by_the_token_that_caller_holds():
    """orders-api's SERVICE_TOKEN and the function's are two secrets, and
    customers-api gets each under its caller's name (SERVICE_TOKENS_<NAME>)."""
    containers = {t: c for t, _, c in ecs_containers()}
    customers = next(c for t, c in containers.items() if t.startswith("Customers"))
    orders = next(c for t, c in containers.items() if t.startswith("Orders"))
    known = {s["Name"]: value_from_targets(s["ValueFrom"])[0]
             for s in customers.get("Secrets", []) if s["Name"].startswith("SERVICE_TOKENS_")}
    held_by_orders = next(value_from_targets(s["ValueFrom"])[0]
                          for s in orders["Secrets"] if s["Name"] == "SERVICE_TOKEN")
    listed = function_secrets()
    held_by_function = [(s, "SERVICE_TOKEN") for s in listed if "SERVICE_TOKEN" in secret_keys(s)]
    assert len(held_by_function) == 1, listed
    assert known == {"SERVICE_TOKENS_ORDERS_API": held_by_orders,
                     "SERVICE_TOKENS_ORCHESTRATOR": held_by_function[0]}, known
    assert held_by_orders != held_by_function[0], "one credential per service"
    assert "SERVICE_TOKEN" not in env_names(customers), "customers-api calls no one"


def test_nothing_secret_is_a_parameter():
    for name, p in PARAMETERS.items():
        assert not p.get("NoEcho"), f"{name} is a secret parameter: the stack generates its secrets"
        assert not re.search(r"password|secret$|token", name, re.I) or name.endswith("Arn"), name
    for name, res in RESOURCES.items():
        if res["Type"] == "AWS::SecretsManager::Secret":
            props = res["Properties"]
            assert "SecretString" not in props, f"{name}: a value written in the template"
            assert "GenerateSecretString" in props, name


# --- ports and security groups ---------------------------------------------------------------


def task_port(task: str) -> int:
    c = RESOURCES[task]["Properties"]["ContainerDefinitions"][0]
    port = int(c["PortMappings"][0]["ContainerPort"])
    assert int(env_value(c, "PORT")) == port, f"{task}: PORT is not the mapped port"
    return port


def url_port(value) -> int:
    text = value["Fn::Sub"] if isinstance(value, dict) else value
    return int(re.search(r":(\d+)$", text).group(1))


def ingress(group: str, source: str) -> list[tuple[int, int]]:
    found = []
    for res in RESOURCES.values():
        if res["Type"] != "AWS::EC2::SecurityGroupIngress":
            continue
        p = res["Properties"]
        if group in json.dumps(p["GroupId"]) and p["SourceSecurityGroupId"] == {"Ref": source}:
            found.append((int(p["FromPort"]), int(p["ToPort"])))
    return found


def allows(rules, port) -> bool:
    return any(lo <= port <= hi for lo, hi in rules)


def test_callers_use_the_ports_the_tasks_listen_on_and_the_groups_let_them_through():
    customers, orders = task_port("CustomersTaskDefinition"), task_port("OrdersTaskDefinition")
    fn_env = RESOURCES["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    assert url_port(fn_env["CUSTOMERS_API_BASE"]) == customers
    assert url_port(fn_env["ORDERS_API_BASE"]) == orders
    orders_c = RESOURCES["OrdersTaskDefinition"]["Properties"]["ContainerDefinitions"][0]
    assert url_port(env_value(orders_c, "CUSTOMERS_API_BASE")) == customers
    # Lambda -> both APIs; orders-api -> customers-api; both -> the database.
    assert allows(ingress("ServicesSecurityGroup", "LambdaSecurityGroup"), customers)
    assert allows(ingress("ServicesSecurityGroup", "LambdaSecurityGroup"), orders)
    assert allows(ingress("ServicesSecurityGroup", "ServicesSecurityGroup"), customers)
    db_rules = ingress("DatabaseSecurityGroup", "ServicesSecurityGroup")
    assert allows(db_rules, 3306), "the services cannot reach a created database"
    assert allows(ingress("DatabaseSecurityGroupId", "ServicesSecurityGroup"), 3306), (
        "the services cannot reach an existing database")
    for task, _, c in ecs_containers():
        assert env_value(c, "DB_PORT") == "3306", task
    fn_vpc = RESOURCES["OrchestratorFunction"]["Properties"]["VpcConfig"]
    assert fn_vpc["SecurityGroupIds"] == [{"Ref": "LambdaSecurityGroup"}]
    for svc in ("CustomersService", "OrdersService"):
        groups = RESOURCES[svc]["Properties"]["NetworkConfiguration"]["AwsvpcConfiguration"]["SecurityGroups"]
        assert groups == [{"Ref": "ServicesSecurityGroup"}], svc


# --- the deploy script -----------------------------------------------------------------------


def test_every_parameter_the_deploy_script_passes_is_declared():
    passed = set(deploy.PARAMETERS.values()) | set(deploy.OWN_PARAMETERS)
    assert passed <= set(PARAMETERS), sorted(passed - set(PARAMETERS))
    settings = deploy.Settings.from_env({"CUSTOMERS_IMAGE": "c", "ORDERS_IMAGE": "o"}, seed=False)
    for with_images in (False, True):
        assert set(deploy.deploy_parameters(settings, with_images)) <= set(PARAMETERS)
    # Parameters without a usable default must be passed by the script.
    required = {n for n, p in PARAMETERS.items() if "Default" not in p}
    required |= {"MigrateImage"}  # a rule refuses its empty default
    assert required <= set(deploy.deploy_parameters(settings, with_images=False)), required


def test_the_deploy_outputs_the_script_reads_exist():
    text = (ROOT / "scripts" / "deploy.py").read_text()
    read = set(re.findall(r'\bout\["(\w+)"\]', text)) | set(re.findall(r'\bout\.get\("(\w+)"\)', text))
    read |= set(re.findall(r'\boutputs\([^)]*\)\["(\w+)"\]', text))
    assert {"ClusterName", "MigrateTaskDefinition", "JwtJwksUrl", "UserPoolId", "OperatorsClientId"} <= read, read
    for name in read:
        assert name in TEMPLATE["Outputs"], f"deploy.py reads the output {name}"


# --- SAM's translation ------------------------------------------------------------------------


class _NoPolicies:
    def load(self):
        return {}


def translated(**parameters):
    doc = yaml_parse((ROOT / "template.yaml").read_text())
    doc["Resources"]["OrchestratorFunction"]["Properties"]["CodeUri"] = "s3://bucket/key"
    return transform(doc, {"MigrateImage": "m", **parameters}, _NoPolicies())


def test_sam_releases_the_function_by_alias_behind_alarms(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    out = translated()["Resources"]
    groups = [r for r in out.values() if r["Type"] == "AWS::CodeDeploy::DeploymentGroup"]
    assert len(groups) == 1
    alarms = {a["Name"]["Ref"] for a in groups[0]["Properties"]["AlarmConfiguration"]["Alarms"]}
    assert alarms == {"OrchestratorErrorsAlarm", "OrchestratorThrottlesAlarm", "OrchestratorDurationAlarm"}
    # The rollback alarms watch the version being released (its own
    # invocations through the alias), never the HTTP API: see test_deploy_check.
    for name in ("OrchestratorErrorsAlarm", "OrchestratorDurationAlarm"):
        dims = {d["Name"]: d["Value"] for d in out[name]["Properties"]["Dimensions"]}
        assert set(dims) == {"Resource", "FunctionName", "ExecutedVersion"}, name
        assert dims["ExecutedVersion"]["Fn::GetAtt"][1] == "Version", name
    for name in ("Api5xxAlarm", "ApiLatencyAlarm"):
        assert out[name]["Properties"]["AlarmActions"] == [{"Ref": "AlarmTopic"}], name
    assert groups[0]["Properties"]["AutoRollbackConfiguration"]["Enabled"] is True
    # The HTTP API invokes the alias, so a canary's traffic split applies to it.
    permissions = [r for r in out.values() if r["Type"] == "AWS::Lambda::Permission"
                   and "Orchestrator" in json.dumps(r["Properties"]["FunctionName"])]
    assert permissions and all("Aliaslive" in json.dumps(p["Properties"]["FunctionName"]) for p in permissions)
    # The only other: EventBridge may run the key-set check.
    others = [r["Properties"] for r in out.values() if r["Type"] == "AWS::Lambda::Permission"
              and "Orchestrator" not in json.dumps(r["Properties"]["FunctionName"])]
    assert [(p["FunctionName"], p["Principal"]) for p in others] == [({"Ref": "KeySetCheck"}, "events.amazonaws.com")]
    fn = out["OrchestratorFunction"]["Properties"]
    assert fn["TracingConfig"] == {"Mode": "Active"}
    assert fn["LoggingConfig"]["LogFormat"] == "JSON"


# --- who may call ---------------------------------------------------------------------


def scope_rs() -> str:
    return (ROOT / "kit" / "identity" / "src" / "scope.rs").read_text()


def test_no_component_is_given_a_key_that_could_sign_a_user_token():
    text = (ROOT / "template.yaml").read_text()
    assert "JWT_SECRET" not in text
    for name, res in RESOURCES.items():
        if res["Type"] == "AWS::SecretsManager::Secret":
            gen = res["Properties"].get("GenerateSecretString", {})
            assert gen.get("GenerateStringKey") in ("SERVICE_TOKEN", "password"), name


def test_every_component_checks_the_same_issuer_audience_and_keys_as_the_authorizer():
    fn = RESOURCES["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    authorizer = RESOURCES["HttpApi"]["Properties"]["Auth"]["Authorizers"]["UserToken"]["JwtConfiguration"]
    assert fn["JWT_ISSUER"] == authorizer["issuer"]
    assert [fn["JWT_AUDIENCE"]] == authorizer["audience"]
    tasks = [c for t, _, c in ecs_containers() if t != "MigrateTaskDefinition"]
    assert len(tasks) == 2
    for c in tasks:
        for name in ("JWT_JWKS", "JWT_ISSUER", "JWT_AUDIENCE", "JWT_MAX_TTL_SECS"):
            assert env_value(c, name) == fn[name], (c["Name"], name)


def test_every_route_but_the_health_check_is_behind_the_jwt_authorizer():
    auth = RESOURCES["HttpApi"]["Properties"]["Auth"]
    assert auth["DefaultAuthorizer"] == "UserToken"
    assert auth["Authorizers"]["UserToken"]["IdentitySource"] == "$request.header.Authorization"
    events = RESOURCES["OrchestratorFunction"]["Properties"]["Events"]
    open_routes = {e["Properties"]["Path"] for e in events.values()
                   if e["Properties"].get("Auth", {}).get("Authorizer") == "NONE"}
    assert open_routes == {"/orchestrator/health", *CONSOLE_ROUTES}, open_routes
    assert len(events) == 4


# The console's routes, as the function serves them (console.rs).
CONSOLE_ROUTES = set(re.findall(r'pub const (?:ASSET_)?PATH: &str = "([^"]+)";',
                                (ROOT / "orchestrator-lambda" / "src" / "console.rs").read_text()))


def http_api_paths(monkeypatch):
    """Every route of the HTTP API as SAM translates it: path, method, definition."""
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    body = translated()["Resources"]["HttpApi"]["Properties"]["Body"]
    return [(path, method, d) for path, item in body["paths"].items() for method, d in item.items()]


def test_sam_puts_every_route_but_the_open_ones_behind_the_authorizer(monkeypatch):
    routes = http_api_paths(monkeypatch)
    assert len(routes) == 10, [r[:2] for r in routes]
    for path, method, d in routes:
        wanted = [{"NONE": []}] if path in {"/orchestrator/health", *CONSOLE_ROUTES} else [{"UserToken": []}]
        assert d.get("security") == wanted, (path, method, d.get("security"))
    assert CONSOLE_ROUTES == {"/console", "/console/{asset}"}


def test_the_apis_public_routes_reach_their_tasks_through_the_vpc_link_and_nothing_else_does(monkeypatch):
    owner = {"customers": ("CustomersDiscovery", "CustomersService", "CustomersTaskDefinition"),
             "products": ("OrdersDiscovery", "OrdersService", "OrdersTaskDefinition"),
             "orders": ("OrdersDiscovery", "OrdersService", "OrdersTaskDefinition")}
    proxied = {}
    for path, method, d in http_api_paths(monkeypatch):
        integration = d["x-amazon-apigateway-integration"]
        if integration.get("connectionType") != "VPC_LINK":
            continue
        assert method == "x-amazon-apigateway-any-method" and integration["type"] == "http_proxy", path
        assert integration["connectionId"] == {"Ref": "VpcLink"}, path
        proxied[path] = integration["uri"]["Fn::GetAtt"][0]
    # Only the resources' routes: never /internal/*, /metrics, /docs, /ready.
    assert set(proxied) == {p for r in owner for p in (f"/{r}", f"/{r}/{{proxy+}}")}, sorted(proxied)
    for path, discovery in proxied.items():
        assert discovery == owner[path.split("/")[1]][0], path
    for discovery, service, task in set(owner.values()):
        records = {r["Type"] for r in RESOURCES[discovery]["Properties"]["DnsConfig"]["DnsRecords"]}
        assert records == {"A", "SRV"}, discovery  # the integration needs the port
        registry = RESOURCES[service]["Properties"]["ServiceRegistries"][0]
        container = RESOURCES[task]["Properties"]["ContainerDefinitions"][0]
        assert registry["ContainerName"] == container["Name"], service
        assert registry["ContainerPort"] == task_port(task), service
        assert allows(ingress("ServicesSecurityGroup", "VpcLinkSecurityGroup"), task_port(task)), service
    link = RESOURCES["VpcLink"]["Properties"]
    assert link["SecurityGroupIds"] == [{"Ref": "VpcLinkSecurityGroup"}]
    egress = RESOURCES["VpcLinkSecurityGroup"]["Properties"]["SecurityGroupEgress"]
    assert all(e["DestinationSecurityGroupId"] == {"Ref": "ServicesSecurityGroup"} for e in egress)


def test_the_console_signs_operators_in_with_the_operators_client_back_to_its_own_address():
    client = RESOURCES["OperatorsClient"]["Properties"]
    assert client["GenerateSecret"] is False  # a browser holds no secret: PKCE instead
    assert client["AllowedOAuthFlows"] == {"Fn::If": ["ConsoleSignIn", ["code"], {"Ref": "AWS::NoValue"}]}
    assert client["CallbackURLs"] == {"Fn::If": ["ConsoleSignIn", [{"Ref": "ConsoleUrl"}], {"Ref": "AWS::NoValue"}]}
    fn = RESOURCES["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    assert fn["CONSOLE_OIDC_CLIENT_ID"] == {"Fn::If": ["ConsoleSignIn", {"Ref": "OperatorsClient"}, ""]}
    # The console calls the APIs on its own origin, through the HTTP API.
    assert fn["CONSOLE_CUSTOMERS_URL"] == "" and fn["CONSOLE_ORDERS_URL"] == ""
    domain = "${UserPoolDomain}.auth.${AWS::Region}.amazoncognito.com"
    for name, path in (("AUTHORIZE", "/oauth2/authorize"), ("TOKEN", "/oauth2/token"), ("LOGOUT", "/logout")):
        assert fn[f"CONSOLE_OIDC_{name}_URL"] == {"Fn::If": ["ConsoleSignIn", {"Fn::Sub": f"https://{domain}{path}"}, ""]}
    # The output the deploy passes back as ConsoleUrl is the console's route.
    output = TEMPLATE["Outputs"]["ConsoleUrl"]["Value"]["Fn::Sub"]
    assert output.endswith("/console") and "/console" in CONSOLE_ROUTES
    assert re.fullmatch(PARAMETERS["ConsoleUrl"]["AllowedPattern"], "https://x.execute-api.us-east-1.amazonaws.com/console")


def test_the_pools_groups_and_scopes_are_the_roles_and_scopes_the_services_know():
    groups = {r["Properties"]["GroupName"] for r in RESOURCES.values() if r["Type"] == "AWS::Cognito::UserPoolGroup"}
    roles = set(re.findall(r'Role::\w+ => "([a-z-]+)"', scope_rs()))
    assert groups == roles and len(roles) == 5, (groups, roles)
    server = next(r for r in RESOURCES.values() if r["Type"] == "AWS::Cognito::UserPoolResourceServer")
    scopes = {s["ScopeName"] for s in server["Properties"]["Scopes"]}
    known = set(re.findall(r'^\s+\w+ = "([a-z]+:[a-z]+)",$', scope_rs(), re.M))
    assert scopes == known and len(known) == 7, (scopes, known)
    # Operators are made by an admin, never by signing up.
    pool = RESOURCES["UserPool"]["Properties"]
    assert pool["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True


# --- the database's limits -----------------------------------------------------------------


def max_connections_at_least(max_acu: float) -> int:
    """A floor under Aurora MySQL's default max_connections for a writer of
    `max_acu` (2 GiB an ACU): the small classes' documented rule, 45 per
    doubling of memory from 1 GiB (2 GiB: 45, 4 GiB: 90, the documented
    db.t3.small and db.t3.medium); larger memory only raises it."""
    import math
    return int(45 * math.log2(2 * max_acu))


def rolling_deploy_connections(max_tasks: int, per_task: int) -> int:
    """Both APIs at MaxTasks while a deploy runs a second set beside them,
    plus the migrate task (its pool of 2 and one connection for the users)
    and room for an admin session (2)."""
    percent = {RESOURCES[s]["Properties"]["DeploymentConfiguration"]["MaximumPercent"]
               for s in ("CustomersService", "OrdersService")}
    assert percent == {200}, percent
    return 2 * max_tasks * 2 * per_task + 5


@pytest.mark.parametrize("profile", ["template defaults", *deploy.PROFILES])
def test_the_pools_fit_the_databases_connection_limit_at_its_maximum_capacity_during_a_rolling_deploy(profile):
    values = {n: p.get("Default") for n, p in PARAMETERS.items()}
    values.update(deploy.PROFILES.get(profile, {}))
    for task in ("CustomersTaskDefinition", "OrdersTaskDefinition"):
        c = RESOURCES[task]["Properties"]["ContainerDefinitions"][0]
        assert env_value(c, "DB_MAX_CONNECTIONS") == {"Ref": "DbConnectionsPerTask"}, task
    needed = rolling_deploy_connections(int(values["MaxTasks"]), int(values["DbConnectionsPerTask"]))
    limit = max_connections_at_least(float(values["DatabaseMaxCapacity"]))
    assert needed <= limit, f"{profile}: {needed} connections at MaxTasks during a deploy, the database takes {limit}"


def test_the_slow_query_log_that_is_exported_is_written():
    cluster = RESOURCES["DatabaseCluster"]["Properties"]
    assert "slowquery" in cluster["EnableCloudwatchLogsExports"]
    params = RESOURCES["DatabaseParameters"]["Properties"]["Parameters"]
    assert params["slow_query_log"] == "1" and params["log_output"] == "FILE"
    assert float(params["long_query_time"]) > 0
