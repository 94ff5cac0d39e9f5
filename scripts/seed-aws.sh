#!/usr/bin/env bash
# Loads the sample data into the deployed database, from inside the VPC: a
# one-shot ECS task of orders-api's own task definition, running
# `orders-api seed` (loads db/seed.sql once; a no-op when data is there).
#   DEPLOY_SUBNET_IDS=subnet-a,subnet-b [DEPLOY_STAGE=dev] [AWS_REGION=...] scripts/seed-aws.sh
set -euo pipefail
stage="${DEPLOY_STAGE:-dev}"
region="${AWS_REGION:-us-east-1}"
: "${DEPLOY_SUBNET_IDS:?set DEPLOY_SUBNET_IDS (the private subnets of the stack, comma-separated)}"
stack="order-back-office-$stage"
output() {
  aws cloudformation describe-stacks --region "$region" --stack-name "$stack" \
    --query "Stacks[0].Outputs[?OutputKey=='$1'].OutputValue" --output text
}
cluster=$(output ClusterName)
group=$(output ServicesSecurityGroupId)
echo "running 'orders-api seed' as a one-shot task in $cluster"
task=$(aws ecs run-task --region "$region" --cluster "$cluster" --launch-type FARGATE \
  --task-definition "orders-api-$stage" \
  --network-configuration "awsvpcConfiguration={subnets=[$DEPLOY_SUBNET_IDS],securityGroups=[$group],assignPublicIp=DISABLED}" \
  --overrides '{"containerOverrides":[{"name":"orders-api","command":["seed"]}]}' \
  --query 'tasks[0].taskArn' --output text)
aws ecs wait tasks-stopped --region "$region" --cluster "$cluster" --tasks "$task"
code=$(aws ecs describe-tasks --region "$region" --cluster "$cluster" --tasks "$task" \
  --query 'tasks[0].containers[0].exitCode' --output text)
echo "seed task exited with $code (its log: /ecs/order-back-office-$stage/orders-api)"
[ "$code" = 0 ]
