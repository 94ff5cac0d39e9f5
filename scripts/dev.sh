#!/usr/bin/env bash
# Runs the whole back office locally, without Docker: customers-api on :3001
# and orders-api on :3002 against the database of .env. Ctrl-C stops them all.
set -euo pipefail
cd "$(dirname "$0")/.."
[ -f .env ] || { echo "no .env: run 'make setup' first" >&2; exit 1; }
cargo build -q -p customers-api -p orders-api
target="${CARGO_TARGET_DIR:-target}"
pids=()
cleanup() { kill "${pids[@]}" 2>/dev/null || true; wait 2>/dev/null || true; }
trap cleanup EXIT INT TERM
PORT=3001 "$target/debug/customers-api" & pids+=($!)
PORT=3002 CUSTOMERS_API_BASE="${CUSTOMERS_API_BASE:-http://127.0.0.1:3001}" "$target/debug/orders-api" & pids+=($!)
for url in http://127.0.0.1:3001/ready http://127.0.0.1:3002/ready; do
  for _ in $(seq 1 60); do curl -fsS "$url" >/dev/null 2>&1 && break; sleep 0.5; done
done
echo "customers-api: http://localhost:3001/docs   orders-api: http://localhost:3002/docs   (Ctrl-C stops both)" >&2
wait -n "${pids[@]}"
