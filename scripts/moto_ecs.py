#!/usr/bin/env python3
"""Prepares a moto_server as a stand-in for ECS, for the orchestrator's
endpoint-discovery tests.

  moto_ecs.py ENDPOINT setup CLUSTER SERVICE PORT COUNT
      a VPC with DNS hostnames, a subnet, a Fargate service and COUNT tasks
      started for it (moto's create_service starts none), kept RUNNING
  moto_ecs.py ENDPOINT replace CLUSTER SERVICE
      stops the service's tasks and starts one new task in their place

Prints {"ips": [...]} : the private IPv4 addresses of the running tasks.
"""
import json
import sys
import urllib.request

import boto3


def client(kind, endpoint):
    return boto3.client(kind, endpoint_url=endpoint, region_name="us-east-1",
                        aws_access_key_id="test", aws_secret_access_key="test")


def keep_tasks_running(endpoint):
    # Tasks advance a state only after this many DescribeTasks calls.
    body = {"model_name": "ecs::task", "transition": {"progression": "manual", "times": 1000000}}
    req = urllib.request.Request(endpoint + "/moto-api/state-manager/set-transition",
                                 data=json.dumps(body).encode(), method="POST")
    urllib.request.urlopen(req).read()


def network(ec2):
    vpcs = [v for v in ec2.describe_vpcs()["Vpcs"] if v["CidrBlock"] == "10.200.0.0/16"]
    if vpcs:
        vpc = vpcs[0]["VpcId"]
        subnet = ec2.describe_subnets(Filters=[{"Name": "vpc-id", "Values": [vpc]}])["Subnets"][0]["SubnetId"]
        sg = ec2.describe_security_groups(Filters=[{"Name": "group-name", "Values": ["services"]}])["SecurityGroups"][0]["GroupId"]
    else:
        vpc = ec2.create_vpc(CidrBlock="10.200.0.0/16")["Vpc"]["VpcId"]
        ec2.modify_vpc_attribute(VpcId=vpc, EnableDnsHostnames={"Value": True})
        subnet = ec2.create_subnet(VpcId=vpc, CidrBlock="10.200.1.0/24")["Subnet"]["SubnetId"]
        sg = ec2.create_security_group(GroupName="services", Description="services", VpcId=vpc)["GroupId"]
    return {"awsvpcConfiguration": {"subnets": [subnet], "securityGroups": [sg]}}


def run_tasks(ecs, ec2, cluster, service, count):
    ecs.run_task(cluster=cluster, taskDefinition=service, count=count, group=f"service:{service}",
                 launchType="FARGATE", networkConfiguration=network(ec2))


def running_ips(ecs, cluster, service):
    arns = ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]
    if not arns:
        return []
    tasks = ecs.describe_tasks(cluster=cluster, tasks=arns)["tasks"]
    return [d["value"] for t in tasks if t["lastStatus"] == "RUNNING"
            for a in t.get("attachments", []) for d in a.get("details", [])
            if d["name"] == "privateIPv4Address"]


def main():
    endpoint, command, cluster, service = sys.argv[1:5]
    ecs, ec2 = client("ecs", endpoint), client("ec2", endpoint)
    if command == "setup":
        port, count = int(sys.argv[5]), int(sys.argv[6])
        keep_tasks_running(endpoint)
        ecs.create_cluster(clusterName=cluster)
        ecs.register_task_definition(
            family=service, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256", memory="512",
            containerDefinitions=[{"name": service, "image": f"{service}:latest", "memory": 512,
                                   "portMappings": [{"containerPort": port}]}])
        ecs.create_service(cluster=cluster, serviceName=service, taskDefinition=service, desiredCount=count,
                           launchType="FARGATE", networkConfiguration=network(ec2))
        if count:
            run_tasks(ecs, ec2, cluster, service, count)
    elif command == "replace":
        for arn in ecs.list_tasks(cluster=cluster, serviceName=service, desiredStatus="RUNNING")["taskArns"]:
            ecs.stop_task(cluster=cluster, task=arn, reason="replaced")
        run_tasks(ecs, ec2, cluster, service, 1)
    else:
        sys.exit(f"unknown command {command}")
    print(json.dumps({"ips": running_ips(ecs, cluster, service)}))


if __name__ == "__main__":
    main()
