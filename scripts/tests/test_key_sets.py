"""The issuer's key set in the stack: compacted to what verification reads,
capped at what the function's environment holds beside its other variables
(added up on SAM's translation, each at its longest), and watched: the
inlined copy's drift from what the issuer publishes raises an alarm."""
import io
import json
import re
import types

import pytest
from samcli.yamlhelper import yaml_parse

import deploy
import translate
from conftest import ROOT

TEMPLATE = yaml_parse((ROOT / "template.yaml").read_text())
LAMBDA_ENV_LIMIT = 4096  # bytes, all of a function's variables together

# The longest each reference can be (parameters' MaxLength or pattern, AWS's
# own limits for generated names and ids).
LONGEST = {"Stage": 16, "AWS::Region": 16, "AWS::AccountId": 12, "AWS::Partition": 10,
           "UserPool": 55, "OperatorsClient": 128, "UserPoolDomain": 63,
           "OrchestratorServiceTokenSecret": 200, "JwtMaxTtlSecs": 6}


def longest(value) -> str:
    if isinstance(value, str):
        return value
    if "Fn::If" in value:
        return max((longest(b) for b in value["Fn::If"][1:]), key=len)
    if "Ref" in value:
        name = value["Ref"]
        limit = TEMPLATE["Parameters"].get(name, {}).get("MaxLength") or LONGEST[name]
        return "x" * int(limit)
    if "Fn::Sub" in value:
        return re.sub(r"\$\{([^}]+)\}", lambda m: longest({"Ref": m.group(1)}), value["Fn::Sub"])
    raise AssertionError(f"cannot size {value}")


class Published(io.BytesIO):
    """An issuer's answer, as urlopen gives it (a context manager)."""

    def __enter__(self):
        return self

    def __exit__(self, *a):
        return False


def test_the_functions_environment_holds_the_largest_key_set_allowed():
    env = translate.translate()["Resources"]["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    worst = {k: longest(v) for k, v in env.items()}
    # The key set is JWT_JWKS when inlined: at its cap.
    assert TEMPLATE["Parameters"]["JwtJwks"]["MaxLength"] == deploy.JWKS_MAX_BYTES
    worst["JWT_JWKS"] = "x" * deploy.JWKS_MAX_BYTES
    size = len(json.dumps(worst, separators=(",", ":")))
    assert size <= LAMBDA_ENV_LIMIT, f"{size} bytes: the function would not be created"
    # And not needlessly small: under 300 bytes to spare.
    assert LAMBDA_ENV_LIMIT - size < 300, size


def test_a_key_set_keeps_only_its_signing_keys_and_what_verification_reads():
    document = {"keys": [
        {"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "n": "nn", "e": "AQAB",
         "x5c": ["MIIC" + "A" * 1500], "x5t": "t"},
        {"kty": "EC", "kid": "b", "crv": "P-256", "x": "xx", "y": "yy"},
        {"kty": "RSA", "kid": "c", "use": "enc", "n": "nn", "e": "AQAB"},
    ]}
    compact = json.loads(deploy.compact_jwks(document))
    assert compact == {"keys": [{"kty": "RSA", "kid": "a", "use": "sig", "alg": "RS256", "n": "nn", "e": "AQAB"},
                                {"kty": "EC", "kid": "b", "crv": "P-256", "x": "xx", "y": "yy"}]}
    with pytest.raises(AssertionError):
        deploy.compact_jwks({"keys": [{"kty": "RSA", "kid": "c", "use": "enc"}]})


def test_a_key_set_too_large_for_the_environment_is_refused(monkeypatch):
    big = {"keys": [{"kty": "RSA", "kid": f"k{i}", "n": "n" * 700, "e": "AQAB"} for i in range(4)]}

    monkeypatch.setattr(deploy.urllib.request, "urlopen", lambda url, timeout: Published(json.dumps(big).encode()))
    with pytest.raises(deploy.DeployError, match="more than the function's environment holds"):
        deploy.Aws.fetch_jwks("https://issuer.example/jwks.json")


# --- the drift check --------------------------------------------------------------------------

CHECK = TEMPLATE["Resources"]["KeySetCheck"]

def run_check(monkeypatch, published: list[str], deployed: list[str]):
    sent = []
    cloudwatch = types.SimpleNamespace(put_metric_data=lambda **kw: sent.append(kw))
    monkeypatch.setitem(__import__("sys").modules, "boto3", types.SimpleNamespace(client=lambda name: cloudwatch))
    ns = {"__name__": "check"}
    exec(compile(CHECK["Properties"]["InlineCode"], "KeySetCheck", "exec"), ns)
    doc = lambda kids: json.dumps({"keys": [{"kid": k, "kty": "RSA"} for k in kids]}).encode()
    monkeypatch.setattr(ns["urllib"].request, "urlopen", lambda url, timeout: Published(doc(published)))
    monkeypatch.setenv("JWKS_URL", "https://issuer.example/jwks.json")
    monkeypatch.setenv("DEPLOYED_JWKS", doc(deployed).decode())
    monkeypatch.setenv("STAGE", "dev")
    out = ns["handler"]({}, None)
    (call,) = sent
    assert call["Namespace"] == "OrderBackOffice"
    (datum,) = call["MetricData"]
    return out, datum


def test_the_same_keys_report_nothing_missing(monkeypatch):
    out, datum = run_check(monkeypatch, ["a", "b"], ["a", "b"])
    assert (datum["MetricName"], datum["Value"]) == ("IssuerKeysNotDeployed", 0)


def test_a_key_the_issuer_added_is_reported_and_one_it_retired_is_not(monkeypatch):
    out, datum = run_check(monkeypatch, ["b", "c"], ["a", "b"])
    assert datum["Value"] == 1 and out == {"missing": ["c"], "retired": ["a"]}


def test_the_alarm_watches_what_the_check_puts_and_tells_the_alarm_topic():
    out = translate.translate()["Resources"]
    alarm = out["IssuerKeysAlarm"]["Properties"]
    assert (alarm["Namespace"], alarm["MetricName"]) == ("OrderBackOffice", "IssuerKeysNotDeployed")
    assert alarm["Dimensions"] == [{"Name": "Stage", "Value": {"Ref": "Stage"}}]
    assert alarm["AlarmActions"] == [{"Ref": "AlarmTopic"}]
    for name in ("KeySetCheck", "IssuerKeysAlarm"):
        assert out[name]["Condition"] == "HasJwksDocument", name
    fn = out["KeySetCheck"]["Properties"]
    orchestrator = out["OrchestratorFunction"]["Properties"]["Environment"]["Variables"]
    # It compares the issuer the services trust with the set they were given.
    assert fn["Environment"]["Variables"]["DEPLOYED_JWKS"] == {"Ref": "JwtJwks"}
    assert orchestrator["JWT_JWKS"]["Fn::If"][1] == {"Ref": "JwtJwks"}
    assert fn["Environment"]["Variables"]["JWKS_URL"] == orchestrator["JWT_JWKS"]["Fn::If"][2]
    rules = [r for r in out.values() if r["Type"] == "AWS::Events::Rule"]
    assert [r["Properties"]["ScheduleExpression"] for r in rules] == ["rate(15 minutes)"]
    statements = out["KeySetCheckRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    assert statements == [{"Effect": "Allow", "Action": "cloudwatch:PutMetricData", "Resource": "*",
                           "Condition": {"StringEquals": {"cloudwatch:namespace": "OrderBackOffice"}}}]
