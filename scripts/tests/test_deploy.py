"""scripts/deploy.py against moto: the service-linked role, the quotas, the
two passes with the migrate task between them, the dry run."""
import base64
import json
import subprocess
import sys

import boto3
import pytest

import deploy
from conftest import ROOT, overrides, sam_calls, set_task_progression


def run_deploy(*args, extra_env=None):
    import os
    env = dict(os.environ)
    env.update(extra_env or {})
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "deploy.py"), *args],
                          env=env, capture_output=True, text=True, timeout=300)


def client(kind):
    return boto3.client(kind)


def ecs_roles():
    return client("iam").list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]


def tasks_of(cluster):
    ecs = client("ecs")
    arns = ecs.list_tasks(cluster=cluster)["taskArns"]
    return ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"] if arns else []


def test_an_empty_account_gets_the_role_pass_one_the_migrate_task_then_the_services(moto):
    assert ecs_roles() == []
    done = run_deploy("--seed", extra_env={"DEPLOY_ALARM_EMAIL": "ops@example.com"})
    assert done.returncode == 0, done.stdout + done.stderr
    # The role ECS needs before CloudFormation's first cluster.
    assert len(ecs_roles()) == 1
    calls = sam_calls(moto)
    assert [c[0] for c in calls] == ["build", "deploy", "deploy"], calls
    first, second = overrides(calls[1]), overrides(calls[2])
    # Pass 1: no services before the schema and the users exist.
    assert "CustomersImage" not in first and "OrdersImage" not in first, first
    assert first["MigrateImage"] == moto["ORDERS_IMAGE"]
    assert first["AlarmEmail"] == "ops@example.com"
    # Pass 2: the services on the new images.
    assert second["CustomersImage"] == moto["CUSTOMERS_IMAGE"]
    assert second["OrdersImage"] == moto["ORDERS_IMAGE"]
    # One migrate task ran, with --seed, in the stack's subnets and group.
    tasks = tasks_of("order-back-office-dev")
    assert len(tasks) == 1, tasks
    task = tasks[0]
    assert task["startedBy"] == "deploy"
    assert task["overrides"]["containerOverrides"][0]["command"] == ["migrate", "--seed"]
    assert "order-back-office-migrate-dev" in task["taskDefinitionArn"]
    assert "migrate task done" in done.stdout
    assert "done: POST https://api.example/orchestrator/create-and-confirm-order" in done.stdout


def test_the_services_never_move_to_new_images_when_the_migrate_task_does_not_finish(moto):
    set_task_progression(moto["AWS_ENDPOINT_URL"], "manual", 1_000_000)
    settings = deploy.Settings.from_env(dict(__import__("os").environ), seed=False)
    aws = deploy.Aws(settings.region)
    original = deploy.run_migrate_task
    deploy.run_migrate_task = lambda a, s: original(a, s, poll_secs=0.05, patience_secs=0.5)
    try:
        with pytest.raises(deploy.DeployError, match="migrate task was not done"):
            deploy.deploy(settings, dry_run=False, aws=aws)
    finally:
        deploy.run_migrate_task = original
    calls = sam_calls(moto)
    assert [c[0] for c in calls] == ["build", "deploy"], "pass 2 ran after a migrate that did not finish"


def test_a_dry_run_reads_the_account_and_changes_nothing(moto):
    done = run_deploy("--dry-run")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "missing (would be created)" in done.stdout
    assert '"pass_1"' in done.stdout and '"MigrateImage"' in done.stdout
    assert sam_calls(moto) == []
    assert ecs_roles() == []
    assert client("ecs").list_clusters()["clusterArns"] == []


def test_an_existing_role_is_left_as_it_is(moto):
    client("iam").create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    done = run_deploy("--dry-run")
    assert "ECS service-linked role: present" in done.stdout, done.stdout


def test_a_full_vpc_quota_stops_the_deploy_before_anything_changes(moto):
    ec2 = client("ec2")
    while len(ec2.describe_vpcs()["Vpcs"]) < 5:
        ec2.create_vpc(CidrBlock="10.9.0.0/16")
    done = run_deploy()
    assert done.returncode == 1
    assert "VPCs per region: 5 of 5 in use" in done.stderr, done.stderr
    assert sam_calls(moto) == []
    # Given a VPC of its own, the same account deploys.
    done = run_deploy("--dry-run", extra_env={"DEPLOY_VPC_ID": "vpc-0123456789abcdef0",
                                              "DEPLOY_SUBNET_IDS": "subnet-0a,subnet-0b"})
    assert done.returncode == 0, done.stderr


def test_images_are_required():
    with pytest.raises(deploy.DeployError, match="CUSTOMERS_IMAGE, ORDERS_IMAGE"):
        deploy.deploy(deploy.Settings.from_env({}, seed=False), dry_run=True)
    with pytest.raises(deploy.DeployError, match="set ORDERS_IMAGE"):
        deploy.deploy(deploy.Settings.from_env({"CUSTOMERS_IMAGE": "c"}, seed=False), dry_run=True)


@pytest.mark.parametrize("wanted, limit, unreserved, held, fits", [
    (0, 10, 10, 0, True),        # none reserved: always fine
    (20, 10, 10, 0, False),      # a new account's 10: nothing can be reserved
    (20, 1000, 1000, 0, True),
    (950, 1000, 1000, 0, False),  # Lambda keeps 100 unreserved
    (900, 1000, 1000, 0, True),
    (30, 1000, 110, 20, True),    # what the function holds now goes back first
    (31, 1000, 110, 20, False),
])
def test_reserved_concurrency_must_leave_the_account_its_unreserved_floor(wanted, limit, unreserved, held, fits):
    problem = deploy.reserved_concurrency_problem(wanted, limit, unreserved, held)
    assert (problem is None) == fits, problem
    if problem:
        assert "DEPLOY_RESERVED_CONCURRENCY" in problem


def test_fargate_quota_too_small_for_min_tasks_stops_the_deploy(moto, monkeypatch):
    settings = deploy.Settings.from_env({"CUSTOMERS_IMAGE": "c", "ORDERS_IMAGE": "o", "DEPLOY_MIN_TASKS": "6",
                                         "DEPLOY_MAX_TASKS": "6"}, seed=False)
    aws = deploy.Aws("us-east-1")
    # Service Quotas in moto knows no Fargate quota: the AWS default (6) applies.
    with pytest.raises(deploy.DeployError, match="Fargate On-Demand vCPUs is 6"):
        deploy.check_quotas(aws, settings, new_stack=True)


def test_the_issuers_key_set_goes_into_the_stack_so_the_vpc_needs_no_route_to_it(moto):
    assert run_deploy().returncode == 0
    calls = sam_calls(moto)
    first, second = overrides(calls[1]), overrides(calls[2])
    # A new stack: no pool before pass 1; pass 2 carries its key set, as
    # SAM parses it (the value is quoted), and a redeploy carries it twice.
    assert "JwtJwks" not in first, first
    jwks = json.loads(second["JwtJwks"])
    assert jwks["keys"] and all(k["kid"] for k in jwks["keys"])
    done = run_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    again = [overrides(c) for c in sam_calls(moto)[4:6]]
    assert all(json.loads(o["JwtJwks"]) == jwks for o in again), again
    # Not inlined on demand (the tasks then fetch the jwks_uri themselves).
    done = run_deploy(extra_env={"DEPLOY_JWKS_INLINE": "0"})
    assert done.returncode == 0
    assert all("JwtJwks" not in overrides(c) for c in sam_calls(moto)[7:9])


def test_the_console_address_goes_back_into_the_stack_for_cognitos_sign_in(moto):
    assert run_deploy().returncode == 0
    calls = sam_calls(moto)
    first, second = overrides(calls[1]), overrides(calls[2])
    # Unknown before the HTTP API exists; then the stack's own output.
    assert "ConsoleUrl" not in first, first
    assert second["ConsoleUrl"] == "https://api.example/console"
    # A custom domain's address wins over the output.
    done = run_deploy(extra_env={"DEPLOY_CONSOLE_URL": "https://ops.example.com/console"})
    assert done.returncode == 0, done.stdout + done.stderr
    assert all(overrides(c)["ConsoleUrl"] == "https://ops.example.com/console" for c in sam_calls(moto)[4:6])
    assert "the console: https://api.example/console" in done.stdout


def test_the_first_operator_is_created_with_a_role_and_signs_in_for_a_token(moto):
    assert run_deploy().returncode == 0
    password = {"OPERATOR_PASSWORD": "Correct-Horse-Battery-9"}
    # The password comes from the environment only.
    refused = run_deploy("--add-operator", "ops@example.com")
    assert refused.returncode == 1 and "OPERATOR_PASSWORD" in refused.stderr
    unknown = run_deploy("--add-operator", "ops@example.com", extra_env={**password, "ROLE": "root"})
    assert unknown.returncode == 1 and "no such role: root" in unknown.stderr, unknown.stderr
    added = run_deploy("--add-operator", "ops@example.com", extra_env={**password, "ROLE": "order-operator"})
    assert added.returncode == 0, added.stderr
    assert "order-operator" in added.stdout
    again = run_deploy("--add-operator", "ops@example.com", extra_env=password)
    assert again.returncode == 1 and "exists already" in again.stderr
    wrong = run_deploy("--token", "ops@example.com", extra_env={"OPERATOR_PASSWORD": "nope-nope-nope-1A"})
    assert wrong.returncode == 1 and "wrong user or password" in wrong.stderr, wrong.stderr
    done = run_deploy("--token", "ops@example.com", extra_env=password)
    assert done.returncode == 0, done.stderr
    header, payload, _ = done.stdout.strip().split(".")
    pad = lambda s: s + "=" * (-len(s) % 4)
    claims = json.loads(base64.urlsafe_b64decode(pad(payload)))
    assert json.loads(base64.urlsafe_b64decode(pad(header)))["alg"] == "RS256"
    stack = client("cloudformation").describe_stacks(StackName="order-back-office-dev")["Stacks"][0]
    out = {o["OutputKey"]: o["OutputValue"] for o in stack["Outputs"]}
    # What the services check: the client as audience, the role as a group.
    assert claims["client_id"] == out["OperatorsClientId"]
    assert claims["token_use"] == "access"
    assert claims["iss"].endswith("/" + out["UserPoolId"])
    assert claims.get("cognito:groups") == ["order-operator"], claims
    url = run_deploy("--url")
    assert url.stdout.strip() == "https://api.example/orchestrator/create-and-confirm-order"


# --- a first deploy that can fail, and nothing that loses the data -------------------------


class StandInCfn:
    """CloudFormation as far as recover() and apply_change_set() use it: a
    stack in a given state, which moto cannot put a stack in."""

    def __init__(self, statuses, resources=(), changes=(), change_set_type="UPDATE"):
        self.statuses = list(statuses)  # one per describe_stacks, the last repeats
        self.resources = [{"LogicalResourceId": n, "ResourceStatus": s} for n, s in resources]
        self.changes = list(changes)
        self.change_set_type = change_set_type
        self.calls = []

    def describe_stacks(self, StackName):
        status = self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0]
        if status is None:
            raise deploy.ClientError({"Error": {"Code": "ValidationError",
                                                "Message": f"Stack with id {StackName} does not exist"}}, "DescribeStacks")
        return {"Stacks": [{"StackStatus": status}]}

    def describe_stack_resources(self, StackName):
        return {"StackResources": self.resources}

    def list_change_sets(self, StackName):
        return {"Summaries": [{"ChangeSetId": "cs-1", "ExecutionStatus": "AVAILABLE", "CreationTime": 1}]}

    def describe_change_set(self, StackName, ChangeSetName):
        return {"ChangeSetId": ChangeSetName, "Changes": self.changes, "ChangeSetType": self.change_set_type}

    def describe_stack_events(self, StackName):
        return {"StackEvents": [{"LogicalResourceId": "DatabaseCluster", "ResourceStatus": "UPDATE_FAILED",
                                 "ResourceStatusReason": "quota"}]}

    def __getattr__(self, name):  # the calls that change something: recorded
        return lambda **kw: self.calls.append((name, kw)) or {}


class StandInAws:
    def __init__(self, cfn):
        self.cfn = cfn


def change(name, action="Modify", replacement="False", target=None):
    details = [{"Target": {"Name": target, "RequiresRecreation": "Always"}}] if target else []
    return {"Type": "Resource", "ResourceChange": {"LogicalResourceId": name, "Action": action,
                                                   "Replacement": replacement, "Details": details,
                                                   "ResourceType": "AWS::X"}}


def test_a_first_create_that_rolled_back_is_deleted_and_created_again():
    cfn = StandInCfn(["ROLLBACK_COMPLETE", "DELETE_IN_PROGRESS", None],
                     resources=[("UserPool", "DELETE_SKIPPED"), ("Vpc", "DELETE_COMPLETE")])
    assert deploy.recover(StandInAws(cfn), "s", "us-east-1", poll_secs=0) is None
    assert [c[0] for c in cfn.calls] == ["delete_stack"]


def test_an_update_whose_rollback_failed_is_continued_once_then_explained():
    cfn = StandInCfn(["UPDATE_ROLLBACK_FAILED", "UPDATE_ROLLBACK_IN_PROGRESS", "UPDATE_ROLLBACK_COMPLETE"])
    assert deploy.recover(StandInAws(cfn), "s", "us-east-1", poll_secs=0) == "UPDATE_ROLLBACK_COMPLETE"
    assert [c[0] for c in cfn.calls] == ["continue_update_rollback"]
    cfn = StandInCfn(["UPDATE_ROLLBACK_FAILED"], resources=[("OrdersService", "UPDATE_FAILED")])
    with pytest.raises(deploy.DeployError, match="--resources-to-skip OrdersService"):
        deploy.recover(StandInAws(cfn), "s", "us-east-1", poll_secs=0)
    assert [c[0] for c in cfn.calls] == ["continue_update_rollback"]


@pytest.mark.parametrize("status, says", [
    ("ROLLBACK_FAILED", "delete-stack --stack-name s --retain-resources DatabaseCluster"),
    ("DELETE_FAILED", "--retain-resources DatabaseCluster"),
    ("UPDATE_IN_PROGRESS", "another operation is running"),
    ("CREATE_FAILED", "see its events"),
])
def test_states_that_are_not_safe_to_touch_stop_the_deploy_with_the_way_out(status, says):
    cfn = StandInCfn([status], resources=[("DatabaseCluster", "DELETE_FAILED")])
    with pytest.raises(deploy.DeployError, match=says):
        deploy.recover(StandInAws(cfn), "s", "us-east-1", poll_secs=0)
    assert cfn.calls == [], "nothing is changed on a stack in that state"


@pytest.mark.parametrize("status", [None, "CREATE_COMPLETE", "UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"])
def test_healthy_states_deploy_as_they_are(status):
    cfn = StandInCfn([status])
    assert deploy.recover(StandInAws(cfn), "s", "us-east-1", poll_secs=0) == status
    assert cfn.calls == []


def test_a_change_set_that_would_replace_or_delete_the_data_is_refused():
    changes = [change("DatabaseCluster", replacement="True", target="DatabaseName"),
               change("UserPool", action="Remove"), change("OrdersService", replacement="True"),
               change("DatabaseWriter", replacement="Conditional")]
    refused = deploy.review_change_set(changes, allowed=())
    assert refused == ["DatabaseCluster would be replaced (because of DatabaseName): a new, empty database",
                       "UserPool would be deleted"], refused
    assert deploy.review_change_set([change("UserPool", replacement="Conditional")], ())
    assert deploy.review_change_set(changes, allowed=("DatabaseCluster", "UserPool")) == []
    assert deploy.review_change_set([change("DatabaseCluster")], ()) == []


def test_a_refused_change_set_is_deleted_not_run():
    cfn = StandInCfn(["UPDATE_COMPLETE"], changes=[change("DatabaseCluster", replacement="True",
                                                          target="KmsKeyId")])
    settings = deploy.Settings.from_env({}, seed=False)
    with pytest.raises(deploy.DeployError, match="DEPLOY_ALLOW_REPLACE=DatabaseCluster"):
        deploy.apply_change_set(StandInAws(cfn), settings, poll_secs=0)
    assert [c[0] for c in cfn.calls] == ["delete_change_set"]


def test_leave_to_replace_lifts_that_resource_from_the_policy_for_one_change_set_only():
    cfn = StandInCfn(["UPDATE_COMPLETE", "UPDATE_IN_PROGRESS", "UPDATE_COMPLETE"],
                     changes=[change("DatabaseCluster", replacement="True", target="DatabaseName")])
    settings = deploy.Settings.from_env({"DEPLOY_ALLOW_REPLACE": "DatabaseCluster"}, seed=False)
    deploy.apply_change_set(StandInAws(cfn), settings, poll_secs=0)
    assert [c[0] for c in cfn.calls] == ["set_stack_policy", "execute_change_set", "set_stack_policy"]
    during, after = (json.loads(c[1]["StackPolicyBody"]) for c in cfn.calls if c[0] == "set_stack_policy")
    assert during["Statement"][1]["Resource"] == ["LogicalResourceId/UserPool"]
    assert after == json.loads((ROOT / "scripts" / "stack-policy.json").read_text())


def test_a_failed_change_set_names_the_first_failure():
    cfn = StandInCfn(["UPDATE_COMPLETE", "UPDATE_ROLLBACK_COMPLETE"], changes=[change("OrdersService")])
    with pytest.raises(deploy.DeployError, match="ended UPDATE_ROLLBACK_COMPLETE: DatabaseCluster quota"):
        deploy.apply_change_set(StandInAws(cfn), deploy.Settings.from_env({}, seed=False), poll_secs=0)


def test_the_stack_policy_denies_replacing_or_deleting_the_data():
    policy = json.loads((ROOT / "scripts" / "stack-policy.json").read_text())
    deny = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert deny == [{"Effect": "Deny", "Principal": "*", "Action": ["Update:Replace", "Update:Delete"],
                     "Resource": [f"LogicalResourceId/{r}" for r in deploy.PROTECTED]}]


def test_a_new_stack_is_created_unprotected_then_protected_and_given_its_policy(moto):
    done = run_deploy()
    assert done.returncode == 0, done.stdout + done.stderr
    calls = sam_calls(moto)
    first, second = overrides(calls[1]), overrides(calls[2])
    assert all("--no-execute-changeset" in c for c in calls[1:])
    assert first["DatabaseDeletionProtection"] == "false"
    assert second["DatabaseDeletionProtection"] == "true"
    policy = client("cloudformation").get_stack_policy(StackName="order-back-office-dev")["StackPolicyBody"]
    assert json.loads(policy) == json.loads((ROOT / "scripts" / "stack-policy.json").read_text())
    # An update leaves protection as asked, from pass 1 on.
    done = run_deploy(extra_env={"DEPLOY_DB_DELETION_PROTECTION": "false"})
    assert done.returncode == 0, done.stdout + done.stderr
    again = [overrides(c) for c in sam_calls(moto)[4:6]]
    assert [o["DatabaseDeletionProtection"] for o in again] == ["false", "false"]


def test_images_by_tag_are_refused_a_digest_is_the_release():
    tagged = {"CUSTOMERS_IMAGE": "r/customers-api:abc", "ORDERS_IMAGE": "r/orders-api@sha256:" + "0" * 64}
    with pytest.raises(deploy.DeployError, match="CUSTOMERS_IMAGE must name the image by digest"):
        deploy.Settings.from_env(tagged, seed=False).require_images()
    import re
    from samcli.yamlhelper import yaml_parse
    declared = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]
    for name in ("CustomersImage", "OrdersImage", "MigrateImage"):
        pattern = declared[name]["AllowedPattern"]
        assert re.fullmatch(pattern, tagged["ORDERS_IMAGE"]) and re.fullmatch(pattern, "")
        assert not re.fullmatch(pattern, tagged["CUSTOMERS_IMAGE"]), name


# --- make destroy ---------------------------------------------------------------------------


def test_destroy_refuses_a_protected_database_then_deletes_and_lists_what_outlives_the_stack(moto):
    assert run_deploy().returncode == 0
    refused = run_deploy("--destroy")
    assert refused.returncode == 1 and "DEPLOY_DB_DELETION_PROTECTION=false make deploy" in refused.stderr
    assert [c[0] for c in sam_calls(moto)].count("delete") == 0
    assert run_deploy(extra_env={"DEPLOY_DB_DELETION_PROTECTION": "false"}).returncode == 0
    client("ecr").create_repository(repositoryName="orders-api")
    done = run_deploy("--destroy", extra_env={"DESTROY_YES": "1"})
    assert done.returncode == 0, done.stdout + done.stderr
    delete = [c for c in sam_calls(moto) if c[0] == "delete"]
    assert delete == [["delete", "--stack-name", "order-back-office-dev", "--region", "us-east-1", "--no-prompts"]]
    pool = client("cognito-idp").list_user_pools(MaxResults=10)["UserPools"][0]["Id"]
    out = done.stdout
    assert f"delete-user-pool --region us-east-1 --user-pool-id {pool}" in out
    assert "delete-db-cluster-snapshot --region us-east-1 --db-cluster-snapshot-identifier order-back-office-dev-databasecluster-final" in out
    assert "delete-repository --region us-east-1 --repository-name orders-api --force" in out
    assert "customers-api --force" not in out  # never made, so not listed
    again = run_deploy("--destroy")
    assert again.returncode == 1 and "there is no stack" in again.stderr
