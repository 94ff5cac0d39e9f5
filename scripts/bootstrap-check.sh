#!/usr/bin/env bash
# The artifact that would be deployed is the one tested: the arm64 `bootstrap`
# that `sam build` made runs here under qemu-aarch64, against the Lambda
# runtime API of `cargo lambda watch --only-lambda-apis`, and must answer a
# real saga (201) against customers-api and orders-api on a fresh database.
# It also fails if the binary needs a glibc newer than Amazon Linux 2023's.
#
#   scripts/bootstrap-check.sh [path/to/bootstrap]
#
# Default path: $SAM_BUILD_DIR/OrchestratorFunction/bootstrap (make sam-build).
# Installs qemu-user-static and the arm64 C library (Debian) when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bootstrap="${1:-${SAM_BUILD_DIR:-.aws-sam/build}/OrchestratorFunction/bootstrap}"
[ -f "$bootstrap" ] || { echo "$bootstrap is missing: run 'make sam-build' first" >&2; exit 1; }
AL2023_GLIBC=2.34

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
if ! command -v qemu-aarch64-static >/dev/null 2>&1 || [ ! -e /usr/aarch64-linux-gnu/lib/ld-linux-aarch64.so.1 ]; then
  echo "installing qemu-user-static and libc6-arm64-cross" >&2
  apt_install qemu-user-static libc6-arm64-cross
fi

echo "--- glibc the bootstrap needs (Amazon Linux 2023 has $AL2023_GLIBC)"
needed=$(readelf --version-info "$bootstrap" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -V | tail -1)
echo "GLIBC_$needed"
if [ "$(printf '%s\n%s\n' "$needed" "$AL2023_GLIBC" | sort -V | tail -1)" != "$AL2023_GLIBC" ]; then
  echo "the bootstrap needs glibc $needed, newer than Amazon Linux 2023's $AL2023_GLIBC" >&2
  exit 1
fi

export SERVICE_TOKEN="bootstrap-service-token-$(openssl rand -hex 16)"
export ORCHESTRATOR_SERVICE_TOKEN="bootstrap-orchestrator-token-$(openssl rand -hex 16)"
# shellcheck source=lib/apis.sh
. scripts/lib/apis.sh
start_apis bootstrap "${CARGO_TARGET_DIR:-$root/target}/debug" warn
rport=$(free_port)

(cd orchestrator-lambda && exec cargo lambda watch --only-lambda-apis \
   --invoke-address 127.0.0.1 --invoke-port "$rport") >"$work/cargo-lambda.log" 2>&1 & pids+=($!)
for _ in $(seq 1 240); do (exec 3<>"/dev/tcp/127.0.0.1/$rport") 2>/dev/null && break; sleep 0.25; done
echo "--- the arm64 bootstrap under qemu-aarch64"
env -i PATH="$PATH" AWS_LAMBDA_FUNCTION_NAME=orchestrator-lambda AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$rport/.rt" \
  CUSTOMERS_API_BASE="http://127.0.0.1:$cport" ORDERS_API_BASE="http://127.0.0.1:$oport" \
  JWT_JWKS="$JWT_JWKS" JWT_ISSUER="$JWT_ISSUER" JWT_AUDIENCE="$JWT_AUDIENCE" \
  SERVICE_TOKEN="$ORCHESTRATOR_SERVICE_TOKEN" RUST_LOG=info \
  qemu-aarch64-static -L /usr/aarch64-linux-gnu "$bootstrap" >"$work/bootstrap.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$rport/orchestrator/health" 60 "$work"/*.log

token=$(scripts/mint-token.sh bootstrap-check 600)
answer=$(curl -s -w '\n%{http_code}' "http://127.0.0.1:$rport/orchestrator/create-and-confirm-order" \
  -H 'Content-Type: application/json' -H "Authorization: Bearer $token" \
  -d '{"customer_id": 1, "items": [{"product_id": 2, "qty": 3}], "idempotency_key": "bootstrap-check-1"}')
status=$(tail -n 1 <<<"$answer")
echo "saga answered $status: $(head -n 1 <<<"$answer" | cut -c1-160)"
if [ "$status" != 201 ] || ! grep -q '"status":"CONFIRMED"' <<<"$answer"; then
  echo "the arm64 bootstrap did not complete a saga" >&2
  tail -n 20 "$work/bootstrap.log" >&2
  exit 1
fi
grep -q '"level":"INFO"' "$work/bootstrap.log" || { echo "the bootstrap logged nothing" >&2; exit 1; }
echo "bootstrap check passed: the deployable arm64 binary serves a saga"
