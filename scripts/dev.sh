#!/usr/bin/env bash
# Runs the whole back office locally, without Docker: customers-api on :3001,
# orders-api on :3002 (against the database of .env) and the orchestrator
# through `cargo lambda watch` on :3003. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] || { echo "no .env: run 'make setup' first" >&2; exit 1; }
cargo build -q -p customers-api -p orders-api
target="${CARGO_TARGET_DIR:-target}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
PORT=3001 "$target/debug/customers-api" & pids+=($!)
PORT=3002 "$target/debug/orders-api" & pids+=($!)
if cargo lambda --version >/dev/null 2>&1; then
  (cd orchestrator-lambda && exec cargo lambda watch -A 0.0.0.0 -P 3003 --bin orchestrator-lambda --env-file ../.env) & pids+=($!)
else
  echo "cargo-lambda is not installed (pip install -r requirements-dev.txt): no orchestrator on :3003" >&2
fi
for url in http://127.0.0.1:3001/ready http://127.0.0.1:3002/ready; do
  for _ in $(seq 1 60); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.5; done
done
echo "customers-api http://localhost:3001/docs | orders-api http://localhost:3002/docs | orchestrator http://localhost:3003/orchestrator/create-and-confirm-order (Ctrl-C stops all)" >&2
wait -n "${pids[@]}"
