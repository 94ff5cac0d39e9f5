#!/usr/bin/env bash
# Builds customers-api and orders-api images and pushes them to ECR.
#   AWS_ACCOUNT_ID=123456789012 AWS_REGION=us-east-1 RDS_CA_SHA256=<pin> [TAG=v1] scripts/images.sh
# Needs Docker and the AWS CLI with credentials allowed to push to ECR.
# RDS_CA_SHA256 is the checksum of the RDS CA bundle the images carry, as you
# reviewed it (scripts/rds-ca-pin.sh prints it): a changed bundle fails the build.
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ACCOUNT_ID:?set AWS_ACCOUNT_ID}"
: "${RDS_CA_SHA256:?set RDS_CA_SHA256, the pinned checksum of the RDS CA bundle (scripts/rds-ca-pin.sh)}"
region="${AWS_REGION:-us-east-1}"
tag="${TAG:-$(git rev-parse --short HEAD)}"
registry="$AWS_ACCOUNT_ID.dkr.ecr.$region.amazonaws.com"
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry"
for svc in customers-api orders-api; do
  aws ecr describe-repositories --region "$region" --repository-names "$svc" >/dev/null 2>&1 \
    || aws ecr create-repository --region "$region" --repository-name "$svc" \
         --image-scanning-configuration scanOnPush=true >/dev/null
  port=3002; [ "$svc" = customers-api ] && port=3001
  docker build --platform linux/amd64 --build-arg SERVICE="$svc" --build-arg PORT="$port" \
    --build-arg RDS_CA_SHA256="$RDS_CA_SHA256" \
    -t "$registry/$svc:$tag" .
  docker push "$registry/$svc:$tag"
  echo "$svc image: $registry/$svc:$tag"
done
