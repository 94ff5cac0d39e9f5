#!/usr/bin/env bash
# Runs the back office locally, without Docker, from one workspace build:
# customers-api on :3001, orders-api on :3002 (against the database of .env)
# and the orchestrator on :3003: the Lambda runtime API and HTTP front of
# `cargo lambda watch --only-lambda-apis`, polled by the orchestrator's own
# binary (the one `cargo build` made: nothing is compiled a second time).
# Ctrl-C stops them all.
#   scripts/dev.sh            all three
#   scripts/dev.sh --lambda   the orchestrator only (the APIs run elsewhere)
#   scripts/dev.sh --apis     the two APIs only (for sam local start-api)
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] || { echo "no .env: run 'make setup' first" >&2; exit 1; }
scripts/dev-keys.sh >/dev/null  # the dev issuer (make setup made it; kept as it is)
only_lambda=false
only_apis=false
[ "${1:-}" = "--lambda" ] && only_lambda=true
[ "${1:-}" = "--apis" ] && only_apis=true

taken() { (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null; }
ports=(3001 3002 3003)
$only_lambda && ports=(3003)
$only_apis && ports=(3001 3002)
for port in "${ports[@]}"; do
  if taken "$port"; then
    echo "port $port is taken (is 'make dev' or 'make lambda' already running?)" >&2
    exit 1
  fi
done
$only_apis || command -v cargo-lambda >/dev/null 2>&1 || {
  echo "cargo-lambda is not installed: run 'make setup' (it creates .venv/)" >&2
  exit 1
}

echo "building the workspace (cargo build --workspace --bins)..." >&2
cargo build --workspace --bins
target="${CARGO_TARGET_DIR:-target}/debug"
# The services read .env themselves; the orchestrator gets it from here.
set -a
# shellcheck disable=SC1091
. ./.env
# The console (http://localhost:3003/console) calls the APIs on their own
# ports: these defaults serve a .env made before the console came.
CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-http://localhost:3003,http://127.0.0.1:3003,http://localhost:9000,http://127.0.0.1:9000}"
CONSOLE_CUSTOMERS_URL="${CONSOLE_CUSTOMERS_URL:-http://127.0.0.1:3001}"
CONSOLE_ORDERS_URL="${CONSOLE_ORDERS_URL:-http://127.0.0.1:3002}"
set +a

pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
# shellcheck source=lib/common.sh
. scripts/lib/common.sh

if ! $only_lambda; then
  PORT=3001 "$target/customers-api" & pids+=($!)
  PORT=3002 "$target/orders-api" & pids+=($!)
fi
if ! $only_apis; then
  (cd orchestrator-lambda && exec cargo lambda watch --only-lambda-apis --invoke-address 127.0.0.1 --invoke-port 3003) & pids+=($!)
  for _ in $(seq 1 120); do taken 3003 && break; sleep 0.25; done
  # The orchestrator's own service token (orders-api's is SERVICE_TOKEN).
  SERVICE_TOKEN="${ORCHESTRATOR_SERVICE_TOKEN:?.env lacks ORCHESTRATOR_SERVICE_TOKEN: compare it with .env.example}" \
  AWS_LAMBDA_FUNCTION_NAME=orchestrator-lambda AWS_LAMBDA_FUNCTION_VERSION=1 \
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:3003/.rt" \
    "$target/orchestrator-lambda" & pids+=($!)
fi

if ! $only_lambda; then
  wait_http http://127.0.0.1:3001/ready 30
  wait_http http://127.0.0.1:3002/ready 30
fi
$only_apis || wait_http http://127.0.0.1:3003/orchestrator/health 30
if $only_apis; then
  echo "ready: customers-api http://localhost:3001/docs | orders-api http://localhost:3002/docs (Ctrl-C stops both)" >&2
elif $only_lambda; then
  echo "orchestrator http://localhost:3003/orchestrator/create-and-confirm-order, the console http://localhost:3003/console (Ctrl-C stops it)" >&2
else
  echo "ready: the console http://localhost:3003/console (sign in with: make -s token) | customers-api http://localhost:3001/docs | orders-api http://localhost:3002/docs | orchestrator http://localhost:3003/orchestrator/create-and-confirm-order (Ctrl-C stops all)" >&2
fi
wait -n "${pids[@]}"
