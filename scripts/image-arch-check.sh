#!/usr/bin/env bash
# The images for AWS's other architecture, built and run here: orders-api
# for ARCH=arm64 (cross-compiled, from an arm64 runtime base; what `make
# images` pushes by default), then run under qemu (binfmt_misc): `migrate`
# against a throw-away database on this machine's MySQL/MariaDB, then the
# service itself, healthy by its own health check and answering /health.
#   scripts/image-arch-check.sh        (make image-arm64-check)
#   scripts/image-arch-check.sh --build   the build only (CI builds it ahead)
# Offline machines: the arm64 runtime base is a local stand-in
# (ARM64_IMAGES=1 scripts/docker-bases.sh), labelled as such.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/lib/apis.sh
scripts/docker-engine.sh
[ "$(uname -m)" = aarch64 ] || scripts/arm64-emulation.sh
# A rust stand-in made before it carried the aarch64 standard library is
# made again.
if docker image inspect -f '{{index .Config.Labels "org.order-back-office.stand-in"}}' rust:1.95-slim-bookworm 2>/dev/null | grep -q .; then
  docker run --rm --entrypoint /bin/sh rust:1.95-slim-bookworm -c \
    'ls -d /usr/local/rustup/toolchains/stand-in/lib/rustlib/aarch64-unknown-linux-gnu' >/dev/null 2>&1 \
    || docker rmi rust:1.95-slim-bookworm >/dev/null
fi
ARM64_IMAGES=1 scripts/docker-bases.sh >/dev/null
tag=orders-api:arm64-check
started=$(date +%s)
echo "--- docker build ARCH=arm64 RUNTIME_BASE=arm64v8/debian:bookworm-slim"
docker build -q --network host --build-arg SERVICE=orders-api --build-arg PORT=3002 \
  --build-arg ARCH=arm64 --build-arg RUNTIME_BASE=arm64v8/debian:bookworm-slim \
  --build-arg RDS_CA_URL= -t "$tag" . >/dev/null
echo "built in $(( $(date +%s) - started )) s"
[ "${1:-}" != --build ] || exit 0
arch=$(docker image inspect -f '{{.Architecture}}' "$tag")
[ "$arch" = arm64 ] || { echo "the image is $arch, not arm64" >&2; exit 1; }
db="arch_check_$$"
mysql -h 127.0.0.1 -u root -e "CREATE DATABASE $db CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
name="arch-check-$$"
cleanup() { docker rm -f "$name" >/dev/null 2>&1 || true; drop_database "$db"; }
trap cleanup EXIT
echo "--- orders-api migrate --seed (arm64, under qemu)"
docker run --rm --platform linux/arm64 --network host -e DATABASE_URL="mysql://root@127.0.0.1:3306/$db" \
  "$tag" migrate --seed
port=$(free_port)
keys=$(mktemp -d)
jwks=$(DEV_KEYS_DIR="$keys" scripts/dev-keys.sh --inline); rm -rf "$keys"
echo "--- orders-api serving on :$port (arm64, under qemu)"
docker run -d --name "$name" --platform linux/arm64 --network host \
  -e DATABASE_URL="mysql://root@127.0.0.1:3306/$db" -e PORT="$port" -e MIGRATE_ON_START=false \
  -e CUSTOMERS_API_BASE=http://127.0.0.1:9 -e JWT_JWKS="$jwks" \
  -e JWT_ISSUER=arch-check -e JWT_AUDIENCE=arch-check \
  -e SERVICE_TOKEN=arch-check-service-token-0123456789 "$tag" >/dev/null
wait_http "http://127.0.0.1:$port/health" 120 || { docker logs "$name" | tail -20 >&2; exit 1; }
for _ in $(seq 1 60); do
  [ "$(docker inspect -f '{{.State.Health.Status}}' "$name")" = healthy ] && break
  sleep 2
done
health=$(docker inspect -f '{{.State.Health.Status}}' "$name")
[ "$health" = healthy ] || { echo "health: $health" >&2; exit 1; }
echo "arm64 image check passed: $arch image, migrate --seed, healthy by its own health check, /health 200"
