# Sourced by scripts that need customers-api and orders-api running as
# processes on a fresh, seeded database of their own (fuzz, bootstrap-check,
# console-test; CORS_ALLOWED_ORIGINS, when exported, is passed on),
# (with scripts/lib/common.sh, which it sources).
#
#   start_apis NAME BIN_DIR LOG_LEVEL
#
# Needs SERVICE_TOKEN (orders-api's own; customers-api knows it as
# orders-api) exported; ORCHESTRATOR_SERVICE_TOKEN, when exported, is the
# orchestrator's (customers-api knows it as orchestrator). Makes a throw-away
# issuer (scripts/dev-keys.sh in $work/keys) and exports what checks and
# mints its tokens: JWT_JWKS, JWT_ISSUER, JWT_AUDIENCE, DEV_KEYS_DIR (so
# scripts/mint-token.sh signs with it). Sets db, work (a scratch directory
# holding the services' logs), cport, oport and pids; installs an EXIT trap
# that stops the processes, drops the database and removes $work. Add
# processes to pids to have them stopped too.

# shellcheck source=common.sh
. "$(dirname "${BASH_SOURCE[0]}")/common.sh"

start_apis() {
  local name=$1 bin=$2 level=$3
  local server="${TEST_DATABASE_URL:-mysql://root@127.0.0.1:3306}"
  for b in customers-api orders-api; do
    [ -x "$bin/$b" ] || { echo "$bin/$b is not built (cargo build --workspace --bins)" >&2; exit 1; }
  done
  db="${name}_$(date +%s)_$$"
  work=$(mktemp -d)
  pids=()
  trap _stop_apis EXIT
  export DEV_KEYS_DIR="$work/keys" JWT_ISSUER="$name-issuer" JWT_AUDIENCE="$name-audience"
  scripts/dev-keys.sh >/dev/null
  export JWT_JWKS="$DEV_KEYS_DIR/jwks.json"
  cport=$(free_port); oport=$(free_port)
  mysql_root -e "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
  local common=(env -i PATH="$PATH" HOST=127.0.0.1 DATABASE_URL="${server%/}/$db" JWT_JWKS="$JWT_JWKS"
                JWT_ISSUER="$JWT_ISSUER" JWT_AUDIENCE="$JWT_AUDIENCE" SERVICE_TOKEN="$SERVICE_TOKEN" RUST_LOG="$level"
                CORS_ALLOWED_ORIGINS="${CORS_ALLOWED_ORIGINS:-}")
  "${common[@]}" PORT="$cport" SERVICE_TOKENS="orders-api=$SERVICE_TOKEN${ORCHESTRATOR_SERVICE_TOKEN:+,orchestrator=$ORCHESTRATOR_SERVICE_TOKEN}" "$bin/customers-api" \
    >"$work/customers-api.log" 2>&1 &
  pids+=($!)
  "${common[@]}" PORT="$oport" CUSTOMERS_API_BASE="http://127.0.0.1:$cport" "$bin/orders-api" \
    >"$work/orders-api.log" 2>&1 &
  pids+=($!)
  local port
  for port in "$cport" "$oport"; do
    wait_http "http://127.0.0.1:$port/ready" 60 "$work"/*.log || exit 1
  done
  mysql_root "$db" < db/seed.sql
}

_stop_apis() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
  wait 2>/dev/null || true
  drop_database "$db"
  rm -rf "$work"
}
