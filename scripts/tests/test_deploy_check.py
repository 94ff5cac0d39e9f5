"""What CloudFormation receives (SAM's translation of template.yaml) against
CloudFormation's own rules: no dependency cycle, cfn-lint clean, and every
role that reads a secret able to decrypt it. Each check is also shown
failing on a template with the fault it guards against: the canary's alarm
on the HTTP API that once closed a cycle, secrets readers without kms:Decrypt."""
import json
import os
import subprocess
import sys

import pytest
from samcli.yamlhelper import yaml_parse

import cfn_graph
import translate
from conftest import ROOT

HAS_KEY = {"HasEncryptionKey": True}


def template_with(edit) -> dict:
    doc = yaml_parse((ROOT / "template.yaml").read_text())
    edit(doc)
    return doc


def translate_doc(doc: dict, tmp_path) -> dict:
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(doc))
    return translate.translate(None, path)


def cfn_lint(template: dict, tmp_path) -> subprocess.CompletedProcess:
    path = tmp_path / "translated.json"
    path.write_text(json.dumps(template))
    return subprocess.run([str(ROOT / ".venv" / "bin" / "cfn-lint"), "--ignore-checks", "W2001", "--", str(path)],
                          capture_output=True, text=True, timeout=120)


# --- the dependency graph ---------------------------------------------------------


def test_the_translated_template_has_no_dependency_cycle_and_lints_clean(tmp_path):
    out = translate.translate()
    assert cfn_graph.cycles(cfn_graph.edges(out)) == []
    done = cfn_lint(out, tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr


def with_api_alarm_in_the_canary(doc):
    alarms = doc["Resources"]["OrchestratorFunction"]["Properties"]["DeploymentPreference"]["Alarms"]
    alarms.append({"Ref": "Api5xxAlarm"})


def test_an_http_api_alarm_among_the_canarys_closes_a_cycle_both_checks_see(tmp_path):
    out = translate_doc(template_with(with_api_alarm_in_the_canary), tmp_path)
    found = cfn_graph.cycles(cfn_graph.edges(out))
    assert len(found) == 1, found
    steps = {(a, b) for a, b, _ in found[0]}
    assert ("OrchestratorFunctionAliaslive", "OrchestratorFunctionDeploymentGroup") in steps
    assert ("Api5xxAlarm", "HttpApi") in steps
    where = dict(((a, b), w) for a, b, w in found[0])
    assert where[("OrchestratorFunctionAliaslive", "OrchestratorFunctionDeploymentGroup")].startswith("UpdatePolicy.")
    assert "a dependency cycle" in cfn_graph.describe(found[0])
    done = cfn_lint(out, tmp_path)
    assert done.returncode != 0 and "E3004" in done.stdout, done.stdout


def test_the_graph_reads_every_kind_of_reference():
    template = {"Resources": {
        "A": {"Type": "T", "Properties": {"X": {"Fn::Sub": "${B.Arn}-${AWS::Region}-${!Literal}"}}},
        "B": {"Type": "T", "Metadata": {"M": {"Fn::GetAtt": "C.Name"}}},
        "C": {"Type": "T", "CreationPolicy": {"P": {"Fn::Sub": ["${X}", {"X": {"Ref": "D"}}]}}},
        "D": {"Type": "T", "DependsOn": "A"},
        "E": {"Type": "T", "Properties": {"Y": {"Ref": "SomeParameter"}}},
    }}
    found = cfn_graph.cycles(cfn_graph.edges(template))
    assert [[(a, b) for a, b, _ in c] for c in found] == [[("A", "B"), ("B", "C"), ("C", "D"), ("D", "A")]]


def test_the_command_exits_non_zero_and_prints_the_cycle(tmp_path):
    path = tmp_path / "t.json"
    path.write_text(json.dumps({"Resources": {"A": {"Type": "T", "DependsOn": ["A"]}}}))
    done = subprocess.run([sys.executable, str(ROOT / "scripts" / "cfn_graph.py"), str(path)],
                          capture_output=True, text=True)
    assert done.returncode == 1 and "A -> A" in done.stdout, done.stdout


# --- who may decrypt what -----------------------------------------------------------------


def resolve(node, conditions: dict[str, bool]):
    """`node` with every Fn::If taken as `conditions` says (AWS::NoValue dropped)."""
    if isinstance(node, dict):
        if set(node) == {"Fn::If"}:
            name, yes, no = node["Fn::If"]
            return resolve(yes if conditions.get(name, False) else no, conditions)
        return {k: v for k, v in ((k, resolve(v, conditions)) for k, v in node.items()) if v != NO_VALUE}
    if isinstance(node, list):
        return [v for v in (resolve(v, conditions) for v in node) if v != NO_VALUE]
    return node


NO_VALUE = {"Ref": "AWS::NoValue"}


def statements(template: dict, role: str, conditions: dict[str, bool]) -> list[dict]:
    props = resolve(template["Resources"][role]["Properties"], conditions)
    found = []
    for policy in props.get("Policies", []):
        found += policy["PolicyDocument"]["Statement"]
    return found


def listed(value) -> list:
    return value if isinstance(value, list) else [value]


def allows(stmts: list[dict], action: str, resource) -> list[dict]:
    return [s for s in stmts if s["Effect"] == "Allow" and action in listed(s["Action"])
            and resource in listed(s["Resource"])]


def secret_readers(template: dict) -> dict[str, set[str]]:
    """role -> the secrets that role reads for its task or function."""
    readers: dict[str, set[str]] = {}
    for name, res in template["Resources"].items():
        if res["Type"] == "AWS::ECS::TaskDefinition":
            role = res["Properties"]["ExecutionRoleArn"]["Fn::GetAtt"][0]
            for c in res["Properties"]["ContainerDefinitions"]:
                for s in c.get("Secrets", []):
                    sub = s["ValueFrom"]["Fn::Sub"]
                    text, extra = (sub, {}) if isinstance(sub, str) else sub
                    secret = text.split("}")[0].lstrip("${")
                    readers.setdefault(role, set()).add(json.dumps(extra.get(secret, {"Ref": secret})))
        elif res["Type"] == "AWS::Lambda::Function":
            env = res["Properties"].get("Environment", {}).get("Variables", {})
            if "APP_SECRET_ARN" in env:
                role = res["Properties"]["Role"]["Fn::GetAtt"][0]
                readers.setdefault(role, set()).add(json.dumps(env["APP_SECRET_ARN"]))
    return readers


def same_arn(node):
    """`!Sub "${X}"` is `!Ref X`."""
    if isinstance(node, dict) and isinstance(node.get("Fn::Sub"), str):
        text = node["Fn::Sub"]
        if text.startswith("${") and text.endswith("}") and text.count("$") == 1:
            return {"Ref": text[2:-1]}
    return node


def decrypt_problems(template: dict) -> list[str]:
    """Why a secret reader cannot read its secrets under EncryptionKeyArn, or
    may decrypt more than through Secrets Manager; with a created database
    and with an existing one."""
    problems = []
    for world in ({"CreateDatabase": True}, {"CreateDatabase": False}):
        conditions = HAS_KEY | world
        for role, secrets in sorted(secret_readers(template).items()):
            stmts = [{**s, "Resource": [same_arn(r) for r in listed(s["Resource"])]}
                     for s in statements(template, role, conditions)]
            for secret in secrets:
                arn = same_arn(resolve(json.loads(secret), conditions))
                if not allows(stmts, "secretsmanager:GetSecretValue", arn):
                    problems.append(f"{role} may not read {arn}")
            decrypts = allows(stmts, "kms:Decrypt", {"Ref": "EncryptionKeyArn"})
            if not decrypts:
                problems.append(f"{role} reads secrets encrypted with EncryptionKeyArn but may not kms:Decrypt it")
            for s in decrypts:
                via = s.get("Condition", {}).get("StringEquals", {}).get("kms:ViaService")
                if via != {"Fn::Sub": "secretsmanager.${AWS::Region}.amazonaws.com"}:
                    problems.append(f"{role} may kms:Decrypt other than through Secrets Manager: {via}")
            for s in stmts:
                if "kms:Decrypt" in listed(s["Action"]) and s not in decrypts:
                    problems.append(f"{role} may kms:Decrypt {s['Resource']}")
            without = statements(template, role, world | {"HasEncryptionKey": False})
            if allows(without, "kms:Decrypt", {"Ref": "EncryptionKeyArn"}):
                problems.append(f"{role} names EncryptionKeyArn when none is given")
    return sorted(set(problems))


def test_every_role_that_reads_a_secret_may_decrypt_its_key_through_secrets_manager_only():
    out = translate.translate()
    readers = secret_readers(out)
    assert set(readers) == {"CustomersExecutionRole", "OrdersExecutionRole", "MigrateExecutionRole",
                            "OrchestratorFunctionRole"}, readers
    assert decrypt_problems(out) == []


def test_a_secret_reader_without_kms_decrypt_is_found(tmp_path):
    def drop_decrypt(doc):
        policy = doc["Resources"]["OrdersExecutionRole"]["Properties"]["Policies"][0]["PolicyDocument"]
        policy["Statement"] = policy["Statement"][:1]
    out = translate_doc(template_with(drop_decrypt), tmp_path)
    assert decrypt_problems(out) == [
        "OrdersExecutionRole reads secrets encrypted with EncryptionKeyArn but may not kms:Decrypt it"]


def test_a_decrypt_through_any_service_is_found(tmp_path):
    def open_decrypt(doc):
        policy = doc["Resources"]["OrchestratorFunction"]["Properties"]["Policies"][0]
        policy["Statement"][1]["Fn::If"][1].pop("Condition")
    out = translate_doc(template_with(open_decrypt), tmp_path)
    assert decrypt_problems(out) == [
        "OrchestratorFunctionRole may kms:Decrypt other than through Secrets Manager: None"]


# --- make deploy-check itself ------------------------------------------------------------


@pytest.mark.skipif(os.environ.get("DEPLOY_CHECK_NESTED") == "1", reason="already inside make deploy-check")
def test_deploy_check_refuses_a_template_with_the_cycle(tmp_path):
    path = tmp_path / "template.yaml"
    path.write_text(json.dumps(template_with(with_api_alarm_in_the_canary)))
    env = dict(os.environ, TEMPLATE=str(path), DEPLOY_CHECK_NESTED="1",
               PATH=f"{ROOT / '.venv' / 'bin'}:{os.environ['PATH']}")
    done = subprocess.run(["bash", str(ROOT / "scripts" / "deploy-check.sh")], env=env,
                          capture_output=True, text=True, timeout=300)
    assert done.returncode != 0, done.stdout
    assert "E3004" in done.stdout, done.stdout[-2000:]
