#!/usr/bin/env bash
# Rollback-safe migrations, checked: the previous release's services (built
# from BASE in a worktree) serve a smoke flow against the schema this tree's
# migrations produce. A rollback after a deploy runs exactly that: the
# migrate task never undoes a migration (CONTRIBUTING.md, "Migrations a
# release can roll back from").
#
#   scripts/migration-compat.sh [BASE]      (make migration-compat)
#
# BASE defaults to the commit before the newest one that touched a
# migration: the last release that lacked it. The check is skipped when
# this tree's migrations are BASE's (nothing to roll back from), and once a
# pair (BASE, these migrations) has passed, it is remembered in
# $MIGRATION_COMPAT_CACHE (default ~/.cache/order-back-office) and not run
# again. The flow, with an admin's token: list products, create a customer,
# create an order, confirm it, read it and its events, list orders, cancel.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apis.sh
migrations=(customers-api/migrations orders-api/migrations)
base=${1:-$(git rev-parse "$(git log -1 --format=%H -- "${migrations[@]}")^")}
cache="${MIGRATION_COMPAT_CACHE:-$HOME/.cache/order-back-office}"
if git diff --quiet "$base" -- "${migrations[@]}"; then
  echo "migration-compat: the migrations are $(git rev-parse --short "$base")'s: nothing to check"
  exit 0
fi
key="$(git rev-parse "$base")-$(find "${migrations[@]}" -name "*.sql" | sort | xargs cat | sha256sum | cut -c1-16)"
stamp="$cache/migration-compat/$key"
if [ -e "$stamp" ]; then
  echo "migration-compat: $(git rev-parse --short "$base")'s services against these migrations passed before ($stamp)"
  exit 0
fi
target="$(cd "${CARGO_TARGET_DIR:-target}" 2>/dev/null && pwd || echo "$PWD/target")"
new_bin="$target/debug"
old_tree="$cache/migration-compat-worktree"
echo "--- the previous release ($(git log -1 --format='%h %s' "$base" | cut -c1-72)) in a worktree"
git worktree remove --force "$old_tree" 2>/dev/null || rm -rf "$old_tree"
git worktree prune
git worktree add --detach "$old_tree" "$base" >/dev/null
# Built in the same target directory (the dependencies are compiled once;
# the worktree's own crates have artifacts of their own, by path), then its
# binaries copied aside, and this tree's put back in place (cargo links them
# again; nothing is recompiled).
(cd "$old_tree" && CARGO_TARGET_DIR="$target" cargo build -q -p customers-api -p orders-api --bins)
old_bin=$(mktemp -d)
cp "$target/debug/customers-api" "$target/debug/orders-api" "$old_bin/"
CARGO_TARGET_DIR="$target" cargo build -q --workspace --bins
echo "--- this tree's services migrate a fresh database"
export SERVICE_TOKEN=migration-compat-service-token
start_apis migration_compat "$new_bin" warn
for p in "${pids[@]}"; do kill "$p"; done
wait 2>/dev/null || true
pids=()
echo "--- the previous release's services on it (they do not migrate)"
cport=$(free_port); oport=$(free_port)
common=(env -i PATH="$PATH" HOST=127.0.0.1 DATABASE_URL="mysql://root@127.0.0.1:3306/$db" MIGRATE_ON_START=false
        JWT_JWKS="$JWT_JWKS" JWT_ISSUER="$JWT_ISSUER" JWT_AUDIENCE="$JWT_AUDIENCE" SERVICE_TOKEN="$SERVICE_TOKEN" RUST_LOG=warn)
"${common[@]}" PORT="$cport" SERVICE_TOKENS="orders-api=$SERVICE_TOKEN" "$old_bin/customers-api" >"$work/old-customers.log" 2>&1 &
pids+=($!)
"${common[@]}" PORT="$oport" CUSTOMERS_API_BASE="http://127.0.0.1:$cport" "$old_bin/orders-api" >"$work/old-orders.log" 2>&1 &
pids+=($!)
for port in "$cport" "$oport"; do wait_http "http://127.0.0.1:$port/ready" 60 "$work"/old-*.log || exit 1; done
token=$(scripts/mint-token.sh migration-compat)
call() {  # call METHOD URL [BODY] -> the body; fails unless 2xx
  local method=$1 url=$2 body=${3:-}
  local args=(-sS -o "$work/body" -w '%{http_code}' -X "$method" "$url" -H "Authorization: Bearer $token"
              -H 'Content-Type: application/json' -H "Idempotency-Key: compat-$method-$RANDOM$RANDOM")
  [ -z "$body" ] || args+=(-d "$body")
  local status; status=$(curl "${args[@]}")
  case "$status" in 2??) cat "$work/body" ;; *) echo "$method $url answered $status: $(cat "$work/body")" >&2; tail -n 20 "$work"/old-*.log >&2; return 1 ;; esac
}
field() { python3 -c 'import json,sys; d=json.load(sys.stdin); print(eval(sys.argv[1], {}, {"d": d}))' "$1"; }
C="http://127.0.0.1:$cport" O="http://127.0.0.1:$oport"
product=$(call GET "$O/products?limit=1" | field 'd["data"][0]["id"]')
customer=$(call POST "$C/customers" '{"name":"Compat Ltd","email":"compat@example.com","phone":"+51987654321"}' | field 'd["id"]')
order=$(call POST "$O/orders" "{\"customer_id\":$customer,\"items\":[{\"product_id\":$product,\"qty\":1}]}" | field 'd["id"]')
[ "$(call POST "$O/orders/$order/confirm" | field 'd["status"]')" = CONFIRMED ]
call GET "$O/orders/$order" >/dev/null
call GET "$O/orders/$order/events" >/dev/null
call GET "$O/orders?customer_id=$customer" >/dev/null
[ "$(call POST "$O/orders/$order/cancel" | field 'd["status"]')" = CANCELED ]
mkdir -p "$(dirname "$stamp")" && date -u +%FT%TZ > "$stamp"
git worktree remove --force "$old_tree"
rm -rf "$old_bin"
echo "migration-compat: $(git rev-parse --short "$base")'s services passed the smoke flow on this tree's schema"
