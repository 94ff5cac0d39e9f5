#!/usr/bin/env python3
"""A stand-in for the `sam` command in the deploy script's tests (no AWS
account, no CloudFormation here). It records every call (argv, one JSON line
per call, in $FAKE_SAM_LOG) and, for `sam deploy`, makes in moto (at
$AWS_ENDPOINT_URL) what the real stack would give the script: the cluster,
the migrate task definition, a subnet and a security group, the services when
their images are passed, the operators' user pool with its roles as groups
and its client (once, kept as CloudFormation keeps them), and a stack whose
outputs name them. It checks what
the real `sam deploy` would refuse: a parameter the template doesn't
declare."""
import json
import os
import sys
from pathlib import Path

import boto3
from samcli.yamlhelper import yaml_parse

ROOT = Path(__file__).resolve().parents[2]


def log(argv):
    with open(os.environ["FAKE_SAM_LOG"], "a") as f:
        f.write(json.dumps(argv) + "\n")


def overrides(argv):
    """The parameters of a `sam deploy`, parsed by SAM CLI's own parser (so a
    value that needs quoting, as a key set does, is read as SAM reads it)."""
    from samcli.cli.types import CfnParameterOverridesType
    i = argv.index("--parameter-overrides")
    items = []
    for item in argv[i + 1:]:
        if item.startswith("--"):
            break
        items.append(item)
    return dict(CfnParameterOverridesType().convert(tuple(items), None, None))


ROLES = ("viewer", "order-operator", "catalog-manager", "customer-manager", "admin")


def user_pool(session, stage):
    """The stack's user pool and operators' client, made once."""
    cognito = session.client("cognito-idp")
    name = f"order-back-office-{stage}"
    pools = [p for p in cognito.list_user_pools(MaxResults=60)["UserPools"] if p["Name"] == name]
    if pools:
        pool = pools[0]["Id"]
        client = cognito.list_user_pool_clients(UserPoolId=pool, MaxResults=10)["UserPoolClients"][0]["ClientId"]
        return pool, client
    pool = cognito.create_user_pool(PoolName=name)["UserPool"]["Id"]
    for role in ROLES:
        cognito.create_group(UserPoolId=pool, GroupName=role)
    client = cognito.create_user_pool_client(
        UserPoolId=pool, ClientName=f"order-back-office-operators-{stage}",
        ExplicitAuthFlows=["ALLOW_USER_PASSWORD_AUTH", "ALLOW_REFRESH_TOKEN_AUTH"],
    )["UserPoolClient"]["ClientId"]
    return pool, client


def database(session, stage, protected):
    """The stack's Aurora cluster, its deletion protection as the deploy
    set it."""
    rds = session.client("rds")
    name = f"order-back-office-{stage}-db"
    try:
        rds.describe_db_clusters(DBClusterIdentifier=name)
        rds.modify_db_cluster(DBClusterIdentifier=name, DeletionProtection=protected, ApplyImmediately=True)
    except rds.exceptions.DBClusterNotFoundFault:
        rds.create_db_cluster(DBClusterIdentifier=name, Engine="aurora-mysql", MasterUsername="admin",
                              MasterUserPassword="not-a-real-one-1", DeletionProtection=protected)
    return name


def delete(argv):
    """`sam delete`: the stack goes; the cluster leaves its final snapshot
    (DeletionPolicy Snapshot); the pool stays (Retain)."""
    session = boto3.session.Session(region_name=arg(argv, "--region"))
    cfn, rds = session.client("cloudformation"), session.client("rds")
    stack = arg(argv, "--stack-name")
    out = {o["OutputKey"]: o["OutputValue"]
           for o in cfn.describe_stacks(StackName=stack)["Stacks"][0].get("Outputs", [])}
    cluster = out.get("DatabaseClusterId")
    if cluster:
        rds.create_db_cluster_snapshot(DBClusterIdentifier=cluster,
                                       DBClusterSnapshotIdentifier=f"{stack}-databasecluster-final")
    cfn.delete_stack(StackName=stack)
    return 0


def arg(argv, name):
    return argv[argv.index(name) + 1]


def deploy(argv):
    declared = yaml_parse((ROOT / "template.yaml").read_text())["Parameters"]
    params = overrides(argv)
    unknown = sorted(set(params) - set(declared))
    if unknown:
        print(f"Error: parameters not in the template: {unknown}", file=sys.stderr)
        return 1
    session = boto3.session.Session(region_name=arg(argv, "--region"))
    ecs, ec2, cfn = (session.client(s) for s in ("ecs", "ec2", "cloudformation"))
    stack = arg(argv, "--stack-name")
    stage = params.get("Stage", "dev")
    cluster = f"order-back-office-{stage}"
    ecs.create_cluster(clusterName=cluster)
    family = f"order-back-office-migrate-{stage}"
    task_def = ecs.register_task_definition(
        family=family, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
        containerDefinitions=[{"name": "migrate", "image": params["MigrateImage"], "memory": 512,
                               "command": ["migrate"]}],
    )["taskDefinition"]["taskDefinitionArn"]
    vpc = ec2.create_vpc(CidrBlock="10.40.0.0/16")["Vpc"]["VpcId"]
    # As the template's VPC: DNS hostnames on (the tasks' ENIs get names).
    ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
    subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.40.0.0/20")["Subnet"]["SubnetId"]
    group = ec2.create_security_group(GroupName=f"services-{len(open(os.environ['FAKE_SAM_LOG']).readlines())}",
                                      Description="services", VpcId=vpc)["GroupId"]
    if params.get("CustomersImage") and params.get("OrdersImage"):
        for name in ("customers-api", "orders-api"):
            ecs.create_service(cluster=cluster, serviceName=name, desiredCount=0,
                               taskDefinition=task_def, launchType="FARGATE")
    pool, client = user_pool(session, stage)
    db_cluster = database(session, stage, params.get("DatabaseDeletionProtection", "true") == "true")
    endpoint = os.environ["AWS_ENDPOINT_URL"].rstrip("/")
    outputs = {"ClusterName": cluster, "UserPoolId": pool, "OperatorsClientId": client,
               "JwtJwksUrl": f"{endpoint}/{pool}/.well-known/jwks.json",
               "MigrateTaskDefinition": task_def, "TaskSubnets": subnet,
               "ServicesSecurityGroupId": group, "DatabaseClusterId": db_cluster,
               "CreateAndConfirmUrl": "https://api.example/orchestrator/create-and-confirm-order",
               "ConsoleUrl": "https://api.example/console"}
    body = json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    })
    try:
        cfn.describe_stacks(StackName=stack)
        cfn.update_stack(StackName=stack, TemplateBody=body)
    except cfn.exceptions.ClientError:
        cfn.create_stack(StackName=stack, TemplateBody=body)
    if "--no-execute-changeset" in argv:
        # What the script reads and runs. (moto's change sets do not carry
        # outputs, so the stack above already has them.)
        # A resource of its own, so that it has a change to run, as SAM's has.
        call = len(open(os.environ["FAKE_SAM_LOG"]).readlines())
        changed = json.loads(body)
        changed["Resources"][f"Deploy{call}"] = {"Type": "AWS::SNS::Topic"}
        cfn.create_change_set(StackName=stack, TemplateBody=json.dumps(changed), ChangeSetType="UPDATE",
                              ChangeSetName=f"samcli-deploy{call}")
    return 0


def main(argv):
    log(argv)
    if argv and argv[0] == "deploy":
        return deploy(argv)
    if argv and argv[0] == "delete":
        return delete(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
