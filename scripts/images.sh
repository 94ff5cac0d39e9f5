#!/usr/bin/env bash
# Builds customers-api and orders-api images and pushes them to ECR.
#   AWS_ACCOUNT_ID=123456789012 AWS_REGION=us-east-1 RDS_CA_SHA256=<pin> [TAG=v1] [IMAGE_ARCH=arm64] scripts/images.sh
# Needs Docker and the AWS CLI with credentials allowed to push to ECR.
# RDS_CA_SHA256 is the checksum of the RDS CA bundle the images carry, as you
# reviewed it (scripts/rds-ca-pin.sh prints it): a changed bundle fails the build.
# IMAGE_ARCH is arm64 (the template's default TaskArchitecture, ARM64) or
# amd64; the build cross-compiles on any machine, no emulation.
#
# Releases are immutable: the repositories refuse to move a tag (and keep
# the newest 50 images, untagged ones for 14 days); the tag is the commit,
# so uncommitted changes are refused (or set TAG to a name of your own); a
# tag already in the repository is not built again; and what deploy.py gets
# names each image by its digest, so a task started later runs exactly this
# build. The last lines are the exports scripts/deploy.py reads:
#   eval "$(scripts/images.sh | grep '^export ')"
set -euo pipefail
cd "$(dirname "$0")/.."
: "${AWS_ACCOUNT_ID:?set AWS_ACCOUNT_ID}"
: "${RDS_CA_SHA256:?set RDS_CA_SHA256, the pinned checksum of the RDS CA bundle (scripts/rds-ca-pin.sh)}"
region="${AWS_REGION:-us-east-1}"
if [ -z "${TAG:-}" ] && [ -n "$(git status --porcelain --untracked-files=no)" ]; then
  echo "uncommitted changes: commit them first (the images are tagged with the commit, $(git rev-parse --short HEAD)), or set TAG to a name of your own" >&2
  exit 1
fi
tag="${TAG:-$(git rev-parse --short=12 HEAD)}"
lifecycle='{"rules":[{"rulePriority":1,"description":"untagged images after 14 days","selection":{"tagStatus":"untagged","countType":"sinceImagePushed","countUnit":"days","countNumber":14},"action":{"type":"expire"}},{"rulePriority":2,"description":"the newest 50 images","selection":{"tagStatus":"any","countType":"imageCountMoreThan","countNumber":50},"action":{"type":"expire"}}]}'
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
digest_of() {  # the digest of $1:$2 in the repository, or nothing
  aws ecr describe-images --region "$region" --repository-name "$1" --image-ids "imageTag=$2" \
    --query 'imageDetails[0].imageDigest' --output text 2>/dev/null | grep '^sha256:' || true
}
declare -A digests
for svc in customers-api orders-api; do
  aws ecr describe-repositories --region "$region" --repository-names "$svc" >/dev/null 2>&1 \
    || aws ecr create-repository --region "$region" --repository-name "$svc" \
         --image-tag-mutability IMMUTABLE --image-scanning-configuration scanOnPush=true >/dev/null
  # A repository made before (or by hand) gets the same rules.
  aws ecr put-image-tag-mutability --region "$region" --repository-name "$svc" --image-tag-mutability IMMUTABLE >/dev/null
  aws ecr put-lifecycle-policy --region "$region" --repository-name "$svc" --lifecycle-policy-text "$lifecycle" >/dev/null
  digest=$(digest_of "$svc" "$tag-$arch")
  if [ -n "$digest" ]; then
    echo "$svc:$tag-$arch is in the repository already ($digest): not built again" >&2
    digests[$svc]=$digest
    continue
  fi
  port=3002; [ "$svc" = customers-api ] && port=3001
  docker build "${platform[@]}" --network host --build-arg SERVICE="$svc" --build-arg PORT="$port" \
    --build-arg ARCH="$arch" --build-arg RUNTIME_BASE="$base" \
    --build-arg RDS_CA_SHA256="$RDS_CA_SHA256" \
    -t "$registry/$svc:$tag-$arch" . >&2
  got=$(docker image inspect -f '{{.Architecture}}' "$registry/$svc:$tag-$arch")
  [ "$got" = "$arch" ] || { echo "$svc: the image is $got, not $arch" >&2; exit 1; }
  docker push "$registry/$svc:$tag-$arch" >&2
  digests[$svc]=$(digest_of "$svc" "$tag-$arch")
  [ -n "${digests[$svc]}" ] || { echo "$svc: no digest for $tag-$arch after the push" >&2; exit 1; }
done
echo "export CUSTOMERS_IMAGE=$registry/customers-api@${digests[customers-api]}"
echo "export ORDERS_IMAGE=$registry/orders-api@${digests[orders-api]}"
echo "export DEPLOY_TASK_ARCH=$task_arch"
