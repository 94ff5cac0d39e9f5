#!/usr/bin/env bash
# Builds customers-api and orders-api images and pushes them to ECR.
#   AWS_ACCOUNT_ID=123456789012 AWS_REGION=us-east-1 RDS_CA_SHA256=<pin> [TAG=v1] [IMAGE_ARCH=arm64] scripts/images.sh
# Needs Docker and the AWS CLI with credentials allowed to push to ECR.
# RDS_CA_SHA256 is the checksum of the RDS CA bundle the images carry, as you
# reviewed it (scripts/rds-ca-pin.sh prints it): a changed bundle fails the build.
# IMAGE_ARCH is arm64 (the template's default TaskArchitecture, ARM64) or
# amd64; the build cross-compiles on any machine, no emulation. The last
# lines are the exports scripts/deploy.py reads:
#   eval "$(scripts/images.sh | grep '^export ')"
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ACCOUNT_ID:?set AWS_ACCOUNT_ID}"
: "${RDS_CA_SHA256:?set RDS_CA_SHA256, the pinned checksum of the RDS CA bundle (scripts/rds-ca-pin.sh)}"
region="${AWS_REGION:-us-east-1}"
tag="${TAG:-$(git rev-parse --short HEAD)}"
arch="${IMAGE_ARCH:-arm64}"
case "$arch" in
  arm64) base=arm64v8/debian:bookworm-slim; task_arch=ARM64 ;;
  amd64) base=amd64/debian:bookworm-slim; task_arch=X86_64 ;;
  *) echo "IMAGE_ARCH must be arm64 or amd64" >&2; exit 1 ;;
esac
# BuildKit (with buildx) also needs the target platform; the classic builder
# takes the architecture from RUNTIME_BASE alone.
platform=()
if docker buildx version >/dev/null 2>&1 && [ "${DOCKER_BUILDKIT:-1}" != 0 ]; then
  platform=(--platform "linux/$arch")
fi
registry="$AWS_ACCOUNT_ID.dkr.ecr.$region.amazonaws.com"
aws ecr get-login-password --region "$region" | docker login --username AWS --password-stdin "$registry" >&2
for svc in customers-api orders-api; do
  aws ecr describe-repositories --region "$region" --repository-names "$svc" >/dev/null 2>&1 \
    || aws ecr create-repository --region "$region" --repository-name "$svc" \
         --image-scanning-configuration scanOnPush=true >/dev/null
  port=3002; [ "$svc" = customers-api ] && port=3001
  docker build "${platform[@]}" --network host --build-arg SERVICE="$svc" --build-arg PORT="$port" \
    --build-arg ARCH="$arch" --build-arg RUNTIME_BASE="$base" \
    --build-arg RDS_CA_SHA256="$RDS_CA_SHA256" \
    -t "$registry/$svc:$tag-$arch" . >&2
  got=$(docker image inspect -f '{{.Architecture}}' "$registry/$svc:$tag-$arch")
  [ "$got" = "$arch" ] || { echo "$svc: the image is $got, not $arch" >&2; exit 1; }
  docker push "$registry/$svc:$tag-$arch" >&2
done
echo "export CUSTOMERS_IMAGE=$registry/customers-api:$tag-$arch"
echo "export ORDERS_IMAGE=$registry/orders-api:$tag-$arch"
echo "export DEPLOY_TASK_ARCH=$task_arch"
