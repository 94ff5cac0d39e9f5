"""The canary's pre-traffic hook, as template.yaml inlines it, run here
against stand-ins for the Lambda and CodeDeploy clients; and its wiring in
SAM's translation: the alias waits for it, it may invoke the new version
only, and the route it runs is one the HTTP API does not serve."""
import io
import json
import re
import types

import pytest
from samcli.yamlhelper import yaml_parse

import translate
from conftest import ROOT

HOOK = yaml_parse((ROOT / "template.yaml").read_text())["Resources"]["PreTrafficHook"]["Properties"]
SELF_CHECK_PATH = re.search(r'pub const PATH: &str = "([^"]+)";',
                            (ROOT / "orchestrator-lambda" / "src" / "self_check.rs").read_text()).group(1)


class StandInLambda:
    def __init__(self, answer=None, error=None, raises=None):
        self.answer, self.error, self.raises = answer, error, raises
        self.invoked = []

    def invoke(self, FunctionName, Payload):
        self.invoked.append((FunctionName, json.loads(Payload)))
        if self.raises:
            raise self.raises
        out = {"StatusCode": 200, "Payload": io.BytesIO(json.dumps(self.answer).encode())}
        if self.error:
            out["FunctionError"] = self.error
        return out


class StandInCodeDeploy:
    def __init__(self):
        self.reported = []

    def put_lifecycle_event_hook_execution_status(self, **kw):
        self.reported.append(kw)


def run_hook(monkeypatch, lam):
    deploy = StandInCodeDeploy()
    boto3 = types.SimpleNamespace(client=lambda name: {"lambda": lam, "codedeploy": deploy}[name])
    module = types.ModuleType("hook")
    monkeypatch.setitem(__import__("sys").modules, "boto3", boto3)
    exec(compile(HOOK["InlineCode"], "PreTrafficHook", "exec"), module.__dict__)
    monkeypatch.setenv("NEW_VERSION", "arn:aws:lambda:us-east-1:1:function:orchestrator:7")
    status = module.handler({"DeploymentId": "d-1", "LifecycleEventHookExecutionId": "h-1"}, None)
    assert deploy.reported == [{"deploymentId": "d-1", "lifecycleEventHookExecutionId": "h-1", "status": status}]
    return status, module


def test_a_version_whose_self_check_answers_200_is_let_through(monkeypatch):
    lam = StandInLambda({"statusCode": 200, "body": '{"status":"ok"}'})
    status, module = run_hook(monkeypatch, lam)
    assert status == "Succeeded"
    # The new version itself (not the alias), on the self-check route.
    (name, event), = lam.invoked
    assert name.endswith(":7")
    assert event["rawPath"] == event["requestContext"]["http"]["path"] == SELF_CHECK_PATH
    assert event["requestContext"]["http"]["method"] == "GET"


@pytest.mark.parametrize("lam", [
    StandInLambda({"statusCode": 503, "body": '{"status":"failed"}'}),
    StandInLambda({"errorMessage": "boom"}, error="Unhandled"),
    StandInLambda(raises=RuntimeError("throttled")),
], ids=["503", "crash", "invoke fails"])
def test_a_version_that_fails_its_self_check_or_cannot_run_fails_the_deployment(monkeypatch, lam):
    status, _ = run_hook(monkeypatch, lam)
    assert status == "Failed"


def test_the_hooks_event_is_the_one_the_functions_tests_send():
    ns = {}
    exec(compile(HOOK["InlineCode"], "PreTrafficHook", "exec"), ns | {"__name__": "hook"}, ns)
    fixture = json.loads((ROOT / "orchestrator-lambda" / "events" / "self-check.json").read_text())
    assert ns["EVENT"] == fixture


def test_the_hook_fits_inline_code(monkeypatch):
    assert len(HOOK["InlineCode"]) < 4096


def test_the_alias_waits_for_the_hook_which_may_invoke_the_new_version_only():
    out = translate.translate()["Resources"]
    alias = out["OrchestratorFunctionAliaslive"]
    update = alias["UpdatePolicy"]["CodeDeployLambdaAliasUpdate"]
    assert update["BeforeAllowTrafficHook"] == {"Ref": "PreTrafficHook"}
    hook = out["PreTrafficHook"]["Properties"]
    assert hook["FunctionName"]["Fn::Sub"].startswith("CodeDeployHook_")  # what CodeDeploy's role may invoke
    version = alias["Properties"]["FunctionVersion"]["Fn::GetAtt"][0]
    assert hook["Environment"]["Variables"]["NEW_VERSION"] == {"Ref": version}
    statements = out["PreTrafficHookRole"]["Properties"]["Policies"][0]["PolicyDocument"]["Statement"]
    invoke = [s for s in statements if s["Action"] == "lambda:InvokeFunction"]
    assert [s["Resource"] for s in invoke] == [{"Ref": version}]
    report = [s for s in statements if s["Action"] == "codedeploy:PutLifecycleEventHookExecutionStatus"]
    assert "deploymentgroup:${ServerlessDeploymentApplication}/*" in report[0]["Resource"]["Fn::Sub"]
    assert len(statements) == 2


def test_no_route_of_the_http_api_reaches_the_self_check():
    body = translate.translate()["Resources"]["HttpApi"]["Properties"]["Body"]
    assert not [p for p in body["paths"] if "self-check" in p]
    assert all(not p.startswith("$default") and p != "/{proxy+}" for p in body["paths"]), sorted(body["paths"])
