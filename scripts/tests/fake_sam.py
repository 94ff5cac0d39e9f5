#!/usr/bin/env python3
"""A stand-in for the `sam` command in the deploy script's tests (no AWS
account, no CloudFormation here). It records every call (argv, one JSON line
per call, in $FAKE_SAM_LOG) and, for `sam deploy`, makes in moto (at
$AWS_ENDPOINT_URL) what the real stack would give the script: the cluster,
the migrate task definition, a subnet and a security group, the services when
their images are passed, and a stack whose outputs name them. It checks what
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
    i = argv.index("--parameter-overrides")
    values = {}
    for item in argv[i + 1:]:
        if item.startswith("--"):
            break
        key, _, value = item.partition("=")
        values[key] = value
    return values


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
    secrets = session.client("secretsmanager")
    try:
        jwt = secrets.describe_secret(SecretId=f"{stack}-jwt")["ARN"]
    except secrets.exceptions.ResourceNotFoundException:
        # As GenerateSecretString would: made once, kept on later deploys.
        jwt = secrets.create_secret(Name=f"{stack}-jwt", SecretString=json.dumps(
            {"JWT_SECRET": secrets.get_random_password(PasswordLength=64, ExcludePunctuation=True)["RandomPassword"]}
        ))["ARN"]
    outputs = {"ClusterName": cluster, "JwtSecretArn": jwt, "MigrateTaskDefinition": task_def, "TaskSubnets": subnet,
               "ServicesSecurityGroupId": group,
               "CreateAndConfirmUrl": "https://api.example/orchestrator/create-and-confirm-order"}
    body = json.dumps({
        "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
        "Outputs": {k: {"Value": v} for k, v in outputs.items()},
    })
    try:
        cfn.describe_stacks(StackName=stack)
        cfn.update_stack(StackName=stack, TemplateBody=body)
    except cfn.exceptions.ClientError:
        cfn.create_stack(StackName=stack, TemplateBody=body)
    return 0


def main(argv):
    log(argv)
    if argv and argv[0] == "deploy":
        return deploy(argv)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
