#!/usr/bin/env python3
"""Deploys the order back office (template.yaml) into an AWS account, empty or
not, in one command (`make deploy`):

  1. preflight: the ECS service-linked role (created when missing), the
     region's quotas the stack depends on, the account's Lambda concurrency
     against OrchestratorReservedConcurrency;
  2. `sam build` (the arm64 Lambda);
  3. `sam deploy`, pass 1: everything but the services' new images (a new
     stack gets the network, the database, the secrets, the cluster, the
     migrate task and the Lambda, and no services yet);
  4. the migrate task (`orders-api migrate`, of the new orders-api image), as
     the database's admin: both services' migrations and their users
     (`--seed`, or DEPLOY_SEED=1, also loads the sample data);
  5. `sam deploy`, pass 2: the services on the new images;
  6. waits until both services are stable, prints the URL.

Nothing secret passes through here: the stack generates its secrets. Settings
come from the environment (docs/deploy.md has the list):
  required: CUSTOMERS_IMAGE, ORDERS_IMAGE (make images prints them)
  optional: AWS_REGION (us-east-1), DEPLOY_STAGE (dev), and the DEPLOY_*
            variables of PARAMETERS below, each a template parameter.

  deploy.py [--dry-run] [--seed] [--migrate-only] [--url] [--add-operator USER] [--token USER]
      --dry-run       reads the account, prints what it would create and
                      pass, changes nothing (no role, no build, no deploy,
                      no task)
      --migrate-only  only the migrate task, on the deployed stack (with
                      --seed: load the sample data into it)
      --url           prints the deployed stack's create-and-confirm URL
      --add-operator USER
                      creates USER in the stack's user pool, with the
                      password OPERATOR_PASSWORD and the roles of ROLE
                      (comma-separated; default admin)
      --token USER    signs USER in (password OPERATOR_PASSWORD) and prints
                      their access token (1 h) for the deployed stack
      --destroy       deletes the stack (`sam delete`, which asks first;
                      DESTROY_YES=1 does not), after checking that the
                      database is not protected, then lists what outlives
                      the stack and the command that removes each

Before each `sam deploy` of an existing stack, and before pass 2, the issuer's
key set is fetched from the stack's JwtJwksUrl and passed as JwtJwks
(DEPLOY_JWKS_INLINE=0: not), so that the tasks and the function check tokens
with no route to the issuer; and the stack's ConsoleUrl is passed back as
the parameter ConsoleUrl, where Cognito sends operators after they sign in
to the console (DEPLOY_CONSOLE_URL names another, behind a custom domain).

Each pass is a change set: `sam deploy --no-execute-changeset` makes it, this
script reads it and refuses to run one that would replace or delete the
database cluster or the user pool (the data: a replaced cluster is a new,
empty database) unless DEPLOY_ALLOW_REPLACE names them; then it runs it and
waits. The stack's policy (scripts/stack-policy.json) denies the same to any
other way of updating the stack. A new stack is created with the database's
deletion protection off, and pass 2 switches it on (DEPLOY_DB_DELETION_PROTECTION,
default true): a first create that fails can then roll back cleanly.

A stack left in a failed state is recognised before anything else: a first
create that rolled back (ROLLBACK_COMPLETE) holds no data and is deleted so
that it can be created again; an update whose rollback failed
(UPDATE_ROLLBACK_FAILED) is asked once to continue its rollback; the others
(ROLLBACK_FAILED, DELETE_FAILED, an operation in progress) stop the deploy
with the commands that recover them (docs/operations.md, "A deploy that
failed").

SAM (the `sam` command, or $SAM) does the deploys; the AWS calls here use
boto3 (AWS_ENDPOINT_URL points them elsewhere, as the tests do with moto).
"""
from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import boto3
from botocore.exceptions import BotoCoreError, ClientError

ROOT = Path(__file__).resolve().parent.parent

# Environment variable -> template parameter. Only the variables that are set
# are passed; on an existing stack SAM keeps the previous value of the others.
PARAMETERS = {
    "DEPLOY_VPC_ID": "VpcId",
    "DEPLOY_SUBNET_IDS": "SubnetIds",
    "DEPLOY_NAT": "CreateNatGateway",
    "DEPLOY_VPC_ENDPOINTS": "CreateVpcEndpoints",
    "DEPLOY_ROUTE_TABLE_IDS": "RouteTableIds",
    "DEPLOY_DB_HOST": "DatabaseHost",
    "DEPLOY_DB_SECURITY_GROUP": "DatabaseSecurityGroupId",
    "DEPLOY_DB_ADMIN_SECRET_ARN": "DatabaseAdminSecretArn",
    "DEPLOY_DB_NAME": "DatabaseName",
    "DEPLOY_DB_MIN_ACU": "DatabaseMinCapacity",
    "DEPLOY_DB_MAX_ACU": "DatabaseMaxCapacity",
    "DEPLOY_DB_DELETION_PROTECTION": "DatabaseDeletionProtection",
    "DEPLOY_TASK_ARCH": "TaskArchitecture",
    "DEPLOY_MIN_TASKS": "MinTasks",
    "DEPLOY_MAX_TASKS": "MaxTasks",
    "DEPLOY_RESERVED_CONCURRENCY": "OrchestratorReservedConcurrency",
    "DEPLOY_DEPLOYMENT_TYPE": "DeploymentType",
    "DEPLOY_ALARM_EMAIL": "AlarmEmail",
    "DEPLOY_JWT_ISSUER": "JwtIssuer",
    "DEPLOY_JWT_AUDIENCE": "JwtAudience",
    "DEPLOY_JWT_JWKS_URL": "JwtJwksUrl",
    "DEPLOY_CONSOLE_URL": "ConsoleUrl",
    "DEPLOY_SWEEP_IDLE_INTERVAL_SECS": "SweepIdleIntervalSecs",
    "DEPLOY_CONTAINER_INSIGHTS": "ContainerInsights",
}
# DEPLOY_PROFILE: the parameters each profile picks; a DEPLOY_* variable
# that is set wins over its profile's value. docs/deploy.md, "What it costs",
# gives each profile's monthly figure.
PROFILES = {
    # Cheapest sensible: one NAT gateway instead of eight endpoint-AZs, a
    # database that pauses when idle (the sweeper looks every 6 hours, the
    # pools close idle connections after 60 s), one task per API, no Container Insights.
    "dev": {"CreateNatGateway": "true", "DatabaseMinCapacity": "0", "DatabaseMaxCapacity": "2",
            "MinTasks": "1", "MaxTasks": "2", "SweepIdleIntervalSecs": "21600", "ContainerInsights": "disabled"},
    # Two tasks per API across two AZs, endpoints (no single AZ to lose), a
    # database that stays warm.
    "prod": {"CreateNatGateway": "false", "DatabaseMinCapacity": "0.5", "DatabaseMaxCapacity": "4",
             "MinTasks": "2", "MaxTasks": "6", "SweepIdleIntervalSecs": "600", "ContainerInsights": "enabled"},
}
# Set by this script itself.
OWN_PARAMETERS = ("Stage", "MigrateImage", "CustomersImage", "OrdersImage", "JwtJwks")
# The most a key set may weigh once compacted: what the function's
# environment (4 KB in all, Lambda's limit) holds beside its other variables
# at their longest (the template contract test adds them up).
JWKS_MAX_BYTES = 2304
# What checking a signature needs of a key; the rest (x5c certificate
# chains, x5t thumbprints) only weighs.
JWK_MEMBERS = ("kty", "kid", "use", "alg", "n", "e", "crv", "x", "y")
# An image named by its digest (the template's AllowedPattern, too).
IMAGE_BY_DIGEST = re.compile(r"[^@ ]+@sha256:[0-9a-f]{64}")
# What holds the data: never replaced or deleted by a deploy unless
# DEPLOY_ALLOW_REPLACE names it (and the stack policy denies it otherwise).
PROTECTED = ("DatabaseCluster", "UserPool")
STACK_POLICY = ROOT / "scripts" / "stack-policy.json"

# Quotas read before deploying: (service code, quota code, AWS default, what).
VPCS = ("vpc", "L-F678F1CE", 5, "VPCs per region")
ELASTIC_IPS = ("ec2", "L-0263D0A3", 5, "EC2-VPC Elastic IPs")
FARGATE_VCPUS = ("fargate", "L-3032A538", 6, "Fargate On-Demand vCPUs")
TASK_VCPU = 0.25  # each task definition asks for 256 CPU units
LAMBDA_UNRESERVED_FLOOR = 100  # Lambda keeps this much unreserved, always


class DeployError(Exception):
    """A reason to stop, said in one line."""


@dataclass
class Settings:
    region: str
    stage: str
    customers_image: str
    orders_image: str
    parameters: dict[str, str] = field(default_factory=dict)
    seed: bool = False
    # Copy the issuer's key set into the stack (JwtJwks), so that nothing in
    # the VPC needs a route to the issuer: DEPLOY_JWKS_INLINE (default 1).
    inline_jwks: bool = True
    # PROTECTED resources this deploy may replace or delete (DEPLOY_ALLOW_REPLACE).
    allow_replace: tuple[str, ...] = ()
    # Show each change set and ask before running it (DEPLOY_CONFIRM=1).
    confirm: bool = False

    @property
    def stack(self) -> str:
        return f"order-back-office-{self.stage}"

    @classmethod
    def from_env(cls, env: dict[str, str], seed: bool) -> "Settings":
        profile = env.get("DEPLOY_PROFILE", "dev").strip() or "dev"
        if profile not in PROFILES:
            raise DeployError(f"DEPLOY_PROFILE={profile!r}: use one of {', '.join(PROFILES)}")
        parameters = dict(PROFILES[profile])
        if env.get("DEPLOY_VPC_ID", "").strip():
            parameters.pop("CreateNatGateway")  # only for a VPC the stack creates
        parameters.update({p: env[v].strip() for v, p in PARAMETERS.items() if env.get(v, "").strip()})
        return cls(
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            stage=env.get("DEPLOY_STAGE") or "dev",
            customers_image=env.get("CUSTOMERS_IMAGE", ""),
            orders_image=env.get("ORDERS_IMAGE", ""),
            parameters=parameters,
            seed=seed or env.get("DEPLOY_SEED", "") in ("1", "true", "yes"),
            inline_jwks=env.get("DEPLOY_JWKS_INLINE", "1") not in ("0", "false", "no"),
            allow_replace=tuple(r.strip() for r in env.get("DEPLOY_ALLOW_REPLACE", "").split(",") if r.strip()),
            confirm=env.get("DEPLOY_CONFIRM") == "1",
        )

    def require_images(self) -> None:
        """A deploy needs both images (the migrate task and the URL or a
        token do not)."""
        missing = [v for v, i in (("CUSTOMERS_IMAGE", self.customers_image),
                                  ("ORDERS_IMAGE", self.orders_image)) if not i]
        if missing:
            raise DeployError(f"set {', '.join(missing)} (make images prints them; docs/deploy.md)")
        # A tag can be moved or reused; a digest is the build itself, so a
        # task started later (scaling, a replaced task) runs the same code.
        by_tag = [v for v, i in (("CUSTOMERS_IMAGE", self.customers_image), ("ORDERS_IMAGE", self.orders_image))
                  if not IMAGE_BY_DIGEST.fullmatch(i)]
        if by_tag:
            raise DeployError(f"{', '.join(by_tag)} must name the image by digest (repository@sha256:...), "
                              "as make images prints it")

    def int_parameter(self, name: str, default: int) -> int:
        raw = self.parameters.get(name)
        if raw is None:
            return default
        try:
            return int(raw)
        except ValueError as e:
            raise DeployError(f"{name}={raw!r} is not a whole number") from e


class Aws:
    """The boto3 clients the deploy uses, in one region."""

    def __init__(self, region: str):
        session = boto3.session.Session(region_name=region)
        self.region = region
        self.cfn = session.client("cloudformation")
        self.ec2 = session.client("ec2")
        self.ecs = session.client("ecs")
        self.iam = session.client("iam")
        self.awslambda = session.client("lambda")
        self.quotas = session.client("service-quotas")
        self.sts = session.client("sts")
        self.secrets = session.client("secretsmanager")
        self.cognito = session.client("cognito-idp")
        self.rds = session.client("rds")
        self.ecr = session.client("ecr")
        self.s3 = session.client("s3")

    @staticmethod
    def fetch_jwks(url: str) -> str:
        """The key set at `url` (https; plain http only on this machine, for
        tests), on one line, checked to be a JWKS document of signing keys."""
        parsed = urllib.parse.urlparse(url)
        local = parsed.hostname in ("127.0.0.1", "localhost")
        if parsed.scheme != "https" and not (parsed.scheme == "http" and local):
            raise DeployError(f"the issuer's key set must be fetched over https, not {url}")
        try:
            with urllib.request.urlopen(url, timeout=10) as res:  # noqa: S310 (scheme checked above)
                body = res.read(65536)  # before compaction: certificates weigh
        except (urllib.error.URLError, TimeoutError) as e:
            raise DeployError(f"could not fetch the issuer's key set at {url}: {e}") from e
        try:
            compact = compact_jwks(json.loads(body))
        except (ValueError, KeyError, AssertionError) as e:
            raise DeployError(f"{url} is not a key set (JWKS) with named signing keys") from e
        if len(compact) > JWKS_MAX_BYTES or "'" in compact:
            raise DeployError(f"the key set at {url} weighs {len(compact)} bytes, more than the function's "
                              f"environment holds beside its other settings ({JWKS_MAX_BYTES}): "
                              "set DEPLOY_JWKS_INLINE=0 (the components then fetch it themselves)")
        return compact


def compact_jwks(document: dict) -> str:
    """The signing keys of a key set, with only what verification reads, on
    one line."""
    keys = [{m: k[m] for m in JWK_MEMBERS if m in k} for k in document["keys"]
            if isinstance(k, dict) and k.get("use", "sig") == "sig"]
    assert keys and all(k.get("kid") and k.get("kty") for k in keys)
    return json.dumps({"keys": keys}, separators=(",", ":"))


def say(message: str) -> None:
    print(f"deploy: {message}", flush=True)


# --- preflight ----------------------------------------------------------------


def ensure_ecs_service_linked_role(aws: Aws, dry_run: bool) -> str:
    """ECS needs its service-linked role before CloudFormation's first
    cluster; a new account often has none. Returns what was found or done."""
    # By its path: IAM matches role names without regard to case, not
    # every stand-in does.
    roles = aws.iam.list_roles(PathPrefix="/aws-service-role/ecs.amazonaws.com/")["Roles"]
    if roles:
        return "present"
    if dry_run:
        return "missing (would be created)"
    aws.iam.create_service_linked_role(AWSServiceName="ecs.amazonaws.com")
    return "created"


def quota(aws: Aws, spec: tuple[str, str, int, str]) -> tuple[float, str]:
    """The account's value of a quota, where it came from."""
    service, code, default, _ = spec
    try:
        value = aws.quotas.get_service_quota(ServiceCode=service, QuotaCode=code)["Quota"]["Value"]
        return float(value), "account"
    except (ClientError, BotoCoreError):
        pass
    try:
        value = aws.quotas.get_aws_default_service_quota(ServiceCode=service, QuotaCode=code)
        return float(value["Quota"]["Value"]), "AWS default"
    except (ClientError, BotoCoreError):
        return float(default), "assumed default (Service Quotas did not answer)"


def unless_no_stack(call, **kwargs):
    """`call(**kwargs)`, or None when CloudFormation says the stack does
    not exist."""
    try:
        return call(**kwargs)
    except ClientError as e:
        if "does not exist" in str(e):
            return None
        raise


def stack_status(aws: Aws, stack: str) -> str | None:
    """The stack's status; None when there is none (or only a deleted one,
    or one that a change set announced and nothing created)."""
    described = unless_no_stack(aws.cfn.describe_stacks, StackName=stack)
    stacks = described["Stacks"] if described else []
    live = [s["StackStatus"] for s in stacks if s.get("StackStatus") not in ("DELETE_COMPLETE", "REVIEW_IN_PROGRESS")]
    return live[0] if live else None


def failed_resources(aws: Aws, stack: str, status: str) -> list[str]:
    """The stack's resources whose last operation ended in `status`."""
    resources = aws.cfn.describe_stack_resources(StackName=stack)["StackResources"]
    return [r["LogicalResourceId"] for r in resources if r.get("ResourceStatus") == status]


def wait_stack(aws: Aws, stack: str, poll_secs: float = 10.0, patience_secs: float = 7200.0) -> str:
    """Waits until no operation is in progress on `stack`; its status then."""
    deadline = time.monotonic() + patience_secs
    while True:
        status = stack_status(aws, stack) or "DELETE_COMPLETE"
        if not status.endswith("_IN_PROGRESS"):
            return status
        if time.monotonic() > deadline:
            raise DeployError(f"{stack} is still {status} after {patience_secs:g} s")
        time.sleep(poll_secs)


def recover(aws: Aws, stack: str, region: str, poll_secs: float = 10.0) -> str | None:
    """Brings a stack left in a failed state back to one a deploy can start
    from, where that is safe, or says how (DeployError). Returns the status
    to deploy from (None: a new stack)."""
    status = stack_status(aws, stack)
    cli = f"aws cloudformation --region {region}"
    if status is None or status.endswith("_COMPLETE") and status not in ("ROLLBACK_COMPLETE",):
        return status
    if status == "ROLLBACK_COMPLETE":
        # A first create that failed and was rolled back: every resource it
        # made is gone (the database was created unprotected, see pass 1),
        # and CloudFormation lets such a stack only be deleted.
        kept = failed_resources(aws, stack, "DELETE_SKIPPED")
        say(f"{stack} is ROLLBACK_COMPLETE: its first create failed and was rolled back, it holds no data; "
            "deleting it so that it can be created again")
        if kept:
            say(f"  kept by their DeletionPolicy, outside the stack from now on: {', '.join(kept)} "
                "(docs/operations.md, \"A deploy that failed\", says how to remove them)")
        aws.cfn.delete_stack(StackName=stack)
        wait_stack(aws, stack, poll_secs)
        if stack_status(aws, stack) is not None:
            raise DeployError(f"{stack} could not be deleted: {cli} describe-stack-events --stack-name {stack}")
        return None
    if status == "UPDATE_ROLLBACK_FAILED":
        # Safe to retry: it only asks CloudFormation to finish rolling back
        # to the last working state (nothing is skipped).
        say(f"{stack} is UPDATE_ROLLBACK_FAILED: asking CloudFormation to continue the rollback")
        aws.cfn.continue_update_rollback(StackName=stack)
        status = wait_stack(aws, stack, poll_secs)
        if status == "UPDATE_ROLLBACK_COMPLETE":
            return status
        stuck = failed_resources(aws, stack, "UPDATE_FAILED")
        raise DeployError(
            f"{stack} is still {status}: the rollback cannot update {', '.join(stuck) or 'some resources'}. "
            "Fix the cause (its events: "
            f"{cli} describe-stack-events --stack-name {stack}), then run the deploy again; or skip them "
            f"(left as they are now, out of step with the template): {cli} continue-update-rollback "
            f"--stack-name {stack} --resources-to-skip {' '.join(stuck) or '<LogicalId>'}")
    if status == "ROLLBACK_FAILED":
        stuck = failed_resources(aws, stack, "DELETE_FAILED")
        raise DeployError(
            f"{stack} is ROLLBACK_FAILED: its first create failed and the rollback could not delete "
            f"{', '.join(stuck) or 'some resources'}. Delete the stack keeping them: {cli} delete-stack "
            f"--stack-name {stack} --retain-resources {' '.join(stuck) or '<LogicalId>'}, remove them by hand "
            "(docs/operations.md, \"A deploy that failed\"), then deploy again")
    if status == "DELETE_FAILED":
        stuck = failed_resources(aws, stack, "DELETE_FAILED")
        raise DeployError(
            f"{stack} is DELETE_FAILED ({', '.join(stuck) or 'some resources'} could not be deleted): finish "
            f"the delete ({cli} delete-stack --stack-name {stack} --retain-resources "
            f"{' '.join(stuck) or '<LogicalId>'}) before deploying again")
    if status.endswith("_IN_PROGRESS"):
        raise DeployError(f"{stack} is {status}: another operation is running on it; wait for it to end "
                          f"({cli} describe-stacks --stack-name {stack}) and deploy again")
    raise DeployError(f"{stack} is {status}: see its events ({cli} describe-stack-events --stack-name {stack})")


def reserved_concurrency_problem(wanted: int, limit: int, unreserved: int, held: int) -> str | None:
    """Why `wanted` reserved executions cannot be set, or None. `held` is what
    the function reserves now (it goes back to the pool when changed)."""
    if wanted <= 0:
        return None
    can = unreserved + held - LAMBDA_UNRESERVED_FLOOR
    if wanted <= can:
        return None
    fit = max(can, 0)
    advice = (
        f"set DEPLOY_RESERVED_CONCURRENCY to at most {fit}"
        if fit > 0
        else "set DEPLOY_RESERVED_CONCURRENCY=0 (none)"
    )
    return (
        f"the account's Lambda concurrency is {limit} with {unreserved} unreserved, and Lambda keeps "
        f"{LAMBDA_UNRESERVED_FLOOR} unreserved: {wanted} cannot be reserved; {advice}, "
        "or ask for a higher 'Concurrent executions' quota (Service Quotas, L-B99A9384)"
    )


def check_lambda_concurrency(aws: Aws, settings: Settings) -> str:
    wanted = settings.int_parameter("OrchestratorReservedConcurrency", 0)
    try:
        limits = aws.awslambda.get_account_settings()["AccountLimit"]
    except (ClientError, BotoCoreError) as e:
        if wanted > 0:
            raise DeployError(f"could not read the account's Lambda concurrency ({e}); "
                              "unset DEPLOY_RESERVED_CONCURRENCY or retry") from e
        return "not read (none reserved, nothing to check)"
    limit = int(limits["ConcurrentExecutions"])
    unreserved = int(limits["UnreservedConcurrentExecutions"])
    held = 0
    try:
        held = int(aws.awslambda.get_function_concurrency(
            FunctionName=f"order-back-office-orchestrator-{settings.stage}"
        ).get("ReservedConcurrentExecutions") or 0)
    except ClientError:
        pass
    problem = reserved_concurrency_problem(wanted, limit, unreserved, held)
    if problem:
        raise DeployError(problem)
    return f"{limit} concurrent executions, {unreserved} unreserved; reserving {wanted or 'none'}"


def check_quotas(aws: Aws, settings: Settings, new_stack: bool) -> list[str]:
    """The quotas this deploy would exceed; raises on a hard stop."""
    report = []
    creates_vpc = new_stack and "VpcId" not in settings.parameters
    if creates_vpc:
        limit, source = quota(aws, VPCS)
        used = len(aws.ec2.describe_vpcs()["Vpcs"])
        report.append(f"{VPCS[3]}: {used} used of {limit:g} ({source}); this stack adds 1")
        if used + 1 > limit:
            raise DeployError(f"{VPCS[3]}: {used} of {limit:g} in use, the stack needs one more "
                              "(give DEPLOY_VPC_ID, or raise the quota)")
        if settings.parameters.get("CreateNatGateway") == "true":
            limit, source = quota(aws, ELASTIC_IPS)
            used = len(aws.ec2.describe_addresses()["Addresses"])
            report.append(f"{ELASTIC_IPS[3]}: {used} used of {limit:g} ({source}); the NAT gateway adds 1")
            if used + 1 > limit:
                raise DeployError(f"{ELASTIC_IPS[3]}: {used} of {limit:g} in use, the NAT gateway needs one")
    limit, source = quota(aws, FARGATE_VCPUS)
    min_tasks = settings.int_parameter("MinTasks", 2)
    max_tasks = settings.int_parameter("MaxTasks", 6)
    # A rolling deploy starts the new tasks before stopping the old ones
    # (MaximumPercent 200), and the migrate task runs beside them.
    steady = 2 * min_tasks * TASK_VCPU * 2 + TASK_VCPU
    peak = 2 * max_tasks * TASK_VCPU * 2 + TASK_VCPU
    report.append(f"{FARGATE_VCPUS[3]}: {limit:g} ({source}); needs {steady:g} to deploy at MinTasks, "
                  f"{peak:g} to deploy at MaxTasks")
    if steady > limit:
        raise DeployError(f"{FARGATE_VCPUS[3]} is {limit:g}: deploying {min_tasks} tasks per service needs "
                          f"{steady:g}; lower DEPLOY_MIN_TASKS or raise the quota")
    if peak > limit:
        report.append(f"  warning: at MaxTasks a deploy could need {peak:g} vCPUs; lower DEPLOY_MAX_TASKS "
                      "or raise the quota to be safe")
    return report


# --- SAM ------------------------------------------------------------------------


def sam_command() -> list[str]:
    return shlex.split(os.environ.get("SAM", "sam"))


def deploy_parameters(settings: Settings, with_images: bool, new_stack: bool = False) -> dict[str, str]:
    parameters = dict(settings.parameters)
    parameters["Stage"] = settings.stage
    parameters["MigrateImage"] = settings.orders_image
    if with_images:
        parameters["CustomersImage"] = settings.customers_image
        parameters["OrdersImage"] = settings.orders_image
        # Pass 2 runs on a stack that exists: protection as asked (on by default).
        parameters.setdefault("DatabaseDeletionProtection", "true")
    elif new_stack:
        # A first create that fails must be able to roll back, database
        # included: protection comes on in pass 2, once the stack exists.
        parameters["DatabaseDeletionProtection"] = "false"
    return parameters


def override(key: str, value: str) -> str:
    """One `--parameter-overrides` item as sam parses it: a value with a
    space, a quote or a backslash (a key set) goes in single quotes."""
    if re.search(r"[\s\"'\\]", value):
        return f"{key}='{value}'"
    return f"{key}={value}"


def sam_deploy_args(settings: Settings, parameters: dict[str, str]) -> list[str]:
    overrides = [override(k, v) for k, v in sorted(parameters.items())]
    args = [
        "deploy",
        "--stack-name", settings.stack,
        "--region", settings.region,
        "--capabilities", "CAPABILITY_IAM",
        "--resolve-s3",
        "--s3-prefix", settings.stack,
        "--no-fail-on-empty-changeset",
        # This script reads the change set before it runs (review_change_set).
        "--no-execute-changeset",
        "--parameter-overrides", *overrides,
    ]
    return args


def review_change_set(changes: list[dict], allowed: tuple[str, ...]) -> list[str]:
    """What in a change set would replace or delete a PROTECTED resource
    without leave (DEPLOY_ALLOW_REPLACE), one line each."""
    refused = []
    for change in changes:
        rc = change.get("ResourceChange", {})
        name = rc.get("LogicalResourceId")
        if name not in PROTECTED or name in allowed:
            continue
        if rc.get("Action") == "Remove":
            refused.append(f"{name} would be deleted")
        elif rc.get("Replacement") in ("True", "Conditional"):
            causes = sorted({d.get("Target", {}).get("Name") or d.get("CausingEntity") or "?"
                             for d in rc.get("Details", []) if d.get("Target", {}).get("RequiresRecreation") != "Never"})
            why = f" (because of {', '.join(causes)})" if causes else ""
            refused.append(f"{name} would be replaced{why}: a new, empty "
                           f"{'database' if name == 'DatabaseCluster' else 'user pool'}")
    return refused


def pending_change_set(aws: Aws, stack: str) -> dict | None:
    """The change set `sam deploy --no-execute-changeset` just made, if it
    found anything to change."""
    listed = unless_no_stack(aws.cfn.list_change_sets, StackName=stack)
    if listed is None:
        return None
    ready = [c for c in listed["Summaries"] if c.get("ExecutionStatus") == "AVAILABLE"]
    if not ready:
        return None
    newest = max(ready, key=lambda c: c["CreationTime"])
    return aws.cfn.describe_change_set(StackName=stack, ChangeSetName=newest["ChangeSetId"])


def set_stack_policy(aws: Aws, stack: str, allow: tuple[str, ...] = ()) -> None:
    """The stack's policy: scripts/stack-policy.json, less the resources
    this deploy has leave to replace."""
    policy = json.loads(STACK_POLICY.read_text())
    for statement in policy["Statement"]:
        if statement["Effect"] == "Deny":
            statement["Resource"] = [r for r in statement["Resource"] if r.split("/")[-1] not in allow]
    policy["Statement"] = [st for st in policy["Statement"] if st["Resource"]]
    aws.cfn.set_stack_policy(StackName=stack, StackPolicyBody=json.dumps(policy))


def apply_change_set(aws: Aws, settings: Settings, poll_secs: float = 10.0) -> None:
    """Reads the change set SAM made, refuses what would lose data, runs the
    rest and waits for it."""
    change_set = pending_change_set(aws, settings.stack)
    if change_set is None:
        say("no change to make")
        return
    changes = change_set.get("Changes", [])
    for c in changes:
        rc = c.get("ResourceChange", {})
        replacement = " (replaced)" if rc.get("Replacement") == "True" else ""
        say(f"  {rc.get('Action')} {rc.get('LogicalResourceId')} {rc.get('ResourceType')}{replacement}")
    refused = review_change_set(changes, settings.allow_replace)
    if refused:
        aws.cfn.delete_change_set(StackName=settings.stack, ChangeSetName=change_set["ChangeSetId"])
        raise DeployError("refused, nothing was changed: " + "; ".join(refused) +
                          ". If that is what you want, take a snapshot and set DEPLOY_ALLOW_REPLACE="
                          + ",".join(r.split()[0] for r in refused) + " (docs/operations.md)")
    if settings.confirm and input("deploy: run this change set? [y/N] ").strip().lower() != "y":
        aws.cfn.delete_change_set(StackName=settings.stack, ChangeSetName=change_set["ChangeSetId"])
        raise DeployError("not confirmed, nothing was changed")
    existing = change_set.get("ChangeSetType", "UPDATE") != "CREATE" and stack_status(aws, settings.stack)
    if existing and settings.allow_replace:
        set_stack_policy(aws, settings.stack, settings.allow_replace)
    aws.cfn.execute_change_set(StackName=settings.stack, ChangeSetName=change_set["ChangeSetId"])
    status = wait_stack(aws, settings.stack, poll_secs)
    # The policy is set (again) once the stack exists, whatever happened.
    if stack_status(aws, settings.stack) is not None:
        set_stack_policy(aws, settings.stack)
    if status not in ("CREATE_COMPLETE", "UPDATE_COMPLETE"):
        events = aws.cfn.describe_stack_events(StackName=settings.stack)["StackEvents"]
        first = next((e for e in reversed(events) if e.get("ResourceStatus", "").endswith("_FAILED")), None)
        cause = f": {first['LogicalResourceId']} {first.get('ResourceStatusReason', '')}" if first else ""
        raise DeployError(f"{settings.stack} ended {status}{cause} (deploy again: make deploy recovers "
                          "what it safely can, and says what it cannot)")


def run(cmd: list[str]) -> None:
    say("$ " + " ".join(shlex.quote(c) for c in cmd))
    done = subprocess.run(cmd, cwd=ROOT, check=False)
    if done.returncode != 0:
        raise DeployError(f"{cmd[0]} {cmd[1] if len(cmd) > 1 else ''} failed (exit {done.returncode})")


# --- the migrate task ---------------------------------------------------------------


def outputs(aws: Aws, stack: str) -> dict[str, str]:
    stack_desc = aws.cfn.describe_stacks(StackName=stack)["Stacks"][0]
    return {o["OutputKey"]: o["OutputValue"] for o in stack_desc.get("Outputs", [])}


def run_migrate_task(aws: Aws, settings: Settings, poll_secs: float = 6.0, patience_secs: float = 900.0) -> None:
    out = outputs(aws, settings.stack)
    command = ["migrate", "--seed"] if settings.seed else ["migrate"]
    response = aws.ecs.run_task(
        cluster=out["ClusterName"],
        taskDefinition=out["MigrateTaskDefinition"],
        launchType="FARGATE",
        startedBy="deploy",
        networkConfiguration={"awsvpcConfiguration": {
            "subnets": out["TaskSubnets"].split(","),
            "securityGroups": [out["ServicesSecurityGroupId"]],
            "assignPublicIp": "DISABLED",
        }},
        overrides={"containerOverrides": [{"name": "migrate", "command": command}]},
    )
    if response.get("failures") or not response.get("tasks"):
        raise DeployError(f"the migrate task did not start: {response.get('failures')}")
    task = response["tasks"][0]["taskArn"]
    say(f"migrate task {task.rsplit('/', 1)[-1]} started ({' '.join(command)})")
    deadline = time.monotonic() + patience_secs
    while True:
        described = aws.ecs.describe_tasks(cluster=out["ClusterName"], tasks=[task])["tasks"][0]
        if described.get("lastStatus") == "STOPPED":
            break
        if time.monotonic() > deadline:
            raise DeployError(f"the migrate task was not done after {patience_secs:g} s")
        time.sleep(poll_secs)
    containers = described.get("containers") or [{}]
    code = containers[0].get("exitCode")
    log = f"/ecs/order-back-office-{settings.stage}/migrate"
    if code != 0:
        why = containers[0].get("reason") or described.get("stoppedReason") or "no exit code"
        raise DeployError(f"the migrate task failed (exit {code}: {why}); its log: {log}")
    say(f"migrate task done (log: {log})")


def stack_jwks(aws: Aws, settings: Settings) -> str | None:
    """The deployed issuer's key set, to pass as JwtJwks, when it is to be
    inlined and the stack says where it is."""
    if not settings.inline_jwks:
        return None
    out = outputs(aws, settings.stack)
    url = out.get("JwtJwksUrl")
    if not url:
        return None
    say(f"copying the issuer's key set from {url} into the stack (JwtJwks)")
    return aws.fetch_jwks(url)


def operator_password() -> str:
    password = os.environ.get("OPERATOR_PASSWORD", "")
    if not password:
        raise DeployError("set OPERATOR_PASSWORD (in the environment, never on the command line)")
    return password


def add_operator(aws: Aws, settings: Settings, username: str) -> str:
    """Creates a user of the stack's pool with OPERATOR_PASSWORD (permanent)
    and the roles of ROLE (comma-separated, default admin), as groups."""
    out = outputs(aws, settings.stack)
    pool = out.get("UserPoolId")
    if not pool:
        raise DeployError("the stack has no user pool of its own (JwtIssuer names another issuer)")
    roles = [r.strip() for r in os.environ.get("ROLE", "admin").split(",") if r.strip()]
    known = {g["GroupName"] for g in aws.cognito.list_groups(UserPoolId=pool)["Groups"]}
    unknown = sorted(set(roles) - known)
    if unknown:
        raise DeployError(f"no such role: {', '.join(unknown)} (the roles: {', '.join(sorted(known))})")
    password = operator_password()
    try:
        aws.cognito.admin_create_user(UserPoolId=pool, Username=username, MessageAction="SUPPRESS")
    except aws.cognito.exceptions.UsernameExistsException as e:
        raise DeployError(f"{username} exists already (change roles with aws cognito-idp admin-add-user-to-group)") from e
    aws.cognito.admin_set_user_password(UserPoolId=pool, Username=username, Password=password, Permanent=True)
    for role in roles:
        aws.cognito.admin_add_user_to_group(UserPoolId=pool, Username=username, GroupName=role)
    return f"{username} may sign in with the roles {', '.join(roles)}"


def sign_in(aws: Aws, settings: Settings, username: str) -> str:
    """An access token of the stack's pool for `username` (its password in
    OPERATOR_PASSWORD): what every route of the stack takes."""
    out = outputs(aws, settings.stack)
    client = out.get("OperatorsClientId")
    if not client:
        raise DeployError("the stack has no user pool of its own: get a token from your issuer")
    try:
        answer = aws.cognito.initiate_auth(
            ClientId=client, AuthFlow="USER_PASSWORD_AUTH",
            AuthParameters={"USERNAME": username, "PASSWORD": operator_password()})
    except aws.cognito.exceptions.NotAuthorizedException as e:
        raise DeployError(f"{username} could not sign in: wrong user or password") from e
    if "AuthenticationResult" not in answer:
        raise DeployError(f"{username} must first answer {answer.get('ChallengeName')} (docs/deploy.md)")
    return answer["AuthenticationResult"]["AccessToken"]


def wait_services(aws: Aws, cluster: str) -> None:
    say("waiting for customers-api and orders-api to be stable")
    aws.ecs.get_waiter("services_stable").wait(
        cluster=cluster, services=["customers-api", "orders-api"],
        WaiterConfig={"Delay": 10, "MaxAttempts": 90},
    )


# --- destroy ----------------------------------------------------------------------


def leftovers(aws: Aws, settings: Settings, out: dict[str, str], cluster: str | None) -> list[str]:
    """What outlives the stack (kept on purpose, or never part of it), each
    with the command that removes it."""
    region, found = settings.region, []
    pool = out.get("UserPoolId")
    if pool:
        found.append(f"the user pool {pool} and its operators (kept: DeletionPolicy Retain): "
                     f"aws cognito-idp update-user-pool --region {region} --user-pool-id {pool} "
                     f"--deletion-protection INACTIVE && aws cognito-idp delete-user-pool --region {region} "
                     f"--user-pool-id {pool}")
    if cluster:
        snapshots = aws.rds.describe_db_cluster_snapshots(DBClusterIdentifier=cluster, SnapshotType="manual")
        for snap in snapshots.get("DBClusterSnapshots", []):
            name = snap["DBClusterSnapshotIdentifier"]
            found.append(f"the database's final snapshot {name} (DeletionPolicy Snapshot): aws rds "
                         f"delete-db-cluster-snapshot --region {region} --db-cluster-snapshot-identifier {name}")
    for repo in ("customers-api", "orders-api"):
        try:
            aws.ecr.describe_repositories(repositoryNames=[repo])
        except ClientError:
            continue
        found.append(f"the ECR repository {repo} (make images made it, with every image): "
                     f"aws ecr delete-repository --region {region} --repository-name {repo} --force")
    try:
        sam = outputs(aws, "aws-sam-cli-managed-default").get("SourceBucket")
    except ClientError:
        sam = None
    if sam:
        found.append(f"the build uploads under s3://{sam}/{settings.stack}/ (SAM's bucket, shared by every "
                     f"SAM stack of the region): aws s3 rm --region {region} --recursive "
                     f"s3://{sam}/{settings.stack}/")
    found.append("the secrets, in their 7 to 30 day recovery window (CloudFormation schedules their deletion; "
                 "nothing to do unless you want the names back now)")
    return found


def destroy(settings: Settings, aws: Aws | None = None) -> list[str]:
    """Deletes the stack; returns what outlives it (leftovers)."""
    aws = aws or Aws(settings.region)
    if stack_status(aws, settings.stack) is None:
        raise DeployError(f"there is no stack {settings.stack} in {settings.region}")
    out = outputs(aws, settings.stack)
    cluster = out.get("DatabaseClusterId")
    if cluster:
        described = aws.rds.describe_db_clusters(DBClusterIdentifier=cluster)["DBClusters"][0]
        if described.get("DeletionProtection"):
            raise DeployError(f"the database {cluster} is protected from deletion: first "
                              "DEPLOY_DB_DELETION_PROTECTION=false make deploy (a final snapshot is kept either way)")
    cmd = [*sam_command(), "delete", "--stack-name", settings.stack, "--region", settings.region]
    if os.environ.get("DESTROY_YES") == "1":
        cmd.append("--no-prompts")
    run(cmd)
    if stack_status(aws, settings.stack) is not None:
        raise DeployError(f"{settings.stack} is still there (see its events, or answer sam delete's question)")
    found = leftovers(aws, settings, out, cluster)
    say(f"{settings.stack} is deleted. What outlives it, and how to remove each:")
    for line in found:
        say(f"  - {line}")
    return found


# --- the whole deploy -------------------------------------------------------------


def stack_values(aws: Aws, settings: Settings) -> dict[str, str]:
    """What a deploy takes back from the deployed stack: the issuer's key
    set (JwtJwks), and the console's address (ConsoleUrl, unless
    DEPLOY_CONSOLE_URL names another), where the user pool sends operators
    back after they sign in: the HTTP API must exist before it is known."""
    values = {}
    jwks = stack_jwks(aws, settings)
    if jwks:
        values["JwtJwks"] = jwks
    if "ConsoleUrl" not in settings.parameters:
        console = outputs(aws, settings.stack).get("ConsoleUrl")
        if console:
            values["ConsoleUrl"] = console
    return values


def deploy(settings: Settings, dry_run: bool, aws: Aws | None = None) -> dict:
    """Runs the deploy (or, dry, says what it would do); returns the plan."""
    settings.require_images()
    aws = aws or Aws(settings.region)
    account = aws.sts.get_caller_identity()["Account"]
    new_stack = (recover(aws, settings.stack, settings.region) if not dry_run
                 else stack_status(aws, settings.stack)) is None
    say(f"account {account}, region {settings.region}, stack {settings.stack} "
        f"({'new' if new_stack else 'update'})")
    known = {} if new_stack else stack_values(aws, settings)
    plan = {
        "stack": settings.stack,
        "new_stack": new_stack,
        "ecs_service_linked_role": ensure_ecs_service_linked_role(aws, dry_run),
        "lambda_concurrency": check_lambda_concurrency(aws, settings),
        "quotas": check_quotas(aws, settings, new_stack),
        "pass_1": deploy_parameters(settings, with_images=False, new_stack=new_stack),
        "pass_2": deploy_parameters(settings, with_images=True),
        "migrate": ["migrate", "--seed"] if settings.seed else ["migrate"],
    }
    say(f"ECS service-linked role: {plan['ecs_service_linked_role']}")
    say(f"Lambda: {plan['lambda_concurrency']}")
    for line in plan["quotas"]:
        say(line)
    if dry_run:
        print(json.dumps(plan, indent=2))
        return plan
    run([*sam_command(), "build", "--beta-features"])
    say("pass 1: everything but the services' new images")
    run([*sam_command(), *sam_deploy_args(settings, {**plan["pass_1"], **known})])
    apply_change_set(aws, settings)
    run_migrate_task(aws, settings)
    say("pass 2: the services on the new images, the console's sign-in, deletion protection")
    known = stack_values(aws, settings)
    run([*sam_command(), *sam_deploy_args(settings, {**plan["pass_2"], **known})])
    apply_change_set(aws, settings)
    out = outputs(aws, settings.stack)
    wait_services(aws, out["ClusterName"])
    say(f"done: POST {out.get('CreateAndConfirmUrl')}")
    say(f"the console: {out.get('ConsoleUrl')} (make operator-aws makes its first operator)")
    return plan


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--dry-run", action="store_true")
    parser.add_argument("--seed", action="store_true")
    parser.add_argument("--migrate-only", action="store_true")
    parser.add_argument("--url", action="store_true")
    parser.add_argument("--token", metavar="USER")
    parser.add_argument("--add-operator", metavar="USER")
    parser.add_argument("--destroy", action="store_true")
    args = parser.parse_args(argv)
    try:
        if args.destroy:
            destroy(Settings.from_env(dict(os.environ), False))
        elif args.url or args.token or args.add_operator:
            settings = Settings.from_env(dict(os.environ), False)
            aws = Aws(settings.region)
            if args.add_operator:
                print(add_operator(aws, settings, args.add_operator))
            elif args.token:
                print(sign_in(aws, settings, args.token))
            else:
                print(outputs(aws, settings.stack)["CreateAndConfirmUrl"])
        elif args.migrate_only:
            settings = Settings.from_env(dict(os.environ), args.seed)
            run_migrate_task(Aws(settings.region), settings)
        else:
            deploy(Settings.from_env(dict(os.environ), args.seed), args.dry_run)
    except DeployError as e:
        print(f"deploy: stopped: {e}", file=sys.stderr)
        return 1
    except (ClientError, BotoCoreError) as e:
        print(f"deploy: stopped: AWS said: {e}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
