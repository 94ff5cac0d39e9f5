#!/usr/bin/env bash
# How often an idle orders-api touches its database: starts one (built
# binary, a fresh database of its own on 127.0.0.1:3306) with the dev
# profile's sweeper (SWEEP_INTERVAL_SECS=30, SWEEP_IDLE_INTERVAL_SECS=3600)
# and a short reservation TTL (RESERVATION_TTL_SECS, default 60, so that it
# turns idle soon after start), sends it nothing, and samples the database's
# process list every 5 s for MINUTES (default 8): how many of its
# connections are open, and how many it opened in all. Prints a table of
# the seconds at which that changed, and a summary.
#
#   scripts/idle-connections.sh [MINUTES]      (make idle-connections)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib/apis.sh
minutes=${1:-8}
bin="${CARGO_TARGET_DIR:-target}/debug"
[ -x "$bin/orders-api" ] || { echo "$bin/orders-api is not built (cargo build --workspace --bins)" >&2; exit 1; }
db="idle_check_$(date +%s)_$$"
work=$(mktemp -d)
pid=""
cleanup() {
  [ -z "$pid" ] || kill "$pid" 2>/dev/null || true
  wait 2>/dev/null || true
  drop_database "$db"
  rm -rf "$work"
}
trap cleanup EXIT
mysql_root -e "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
export DEV_KEYS_DIR="$work/keys"
scripts/dev-keys.sh >/dev/null
port=$(free_port)
env -i PATH="$PATH" HOST=127.0.0.1 PORT="$port" DATABASE_URL="mysql://root@127.0.0.1:3306/$db" \
  JWT_JWKS="$DEV_KEYS_DIR/jwks.json" JWT_ISSUER=idle-check JWT_AUDIENCE=idle-check \
  SERVICE_TOKEN=idle-check-service-token CUSTOMERS_API_BASE=http://127.0.0.1:9 RUST_LOG=warn \
  RESERVATION_TTL_SECS="${RESERVATION_TTL_SECS:-60}" SWEEP_INTERVAL_SECS=30 SWEEP_IDLE_INTERVAL_SECS=3600 \
  "$bin/orders-api" >"$work/orders-api.log" 2>&1 &
pid=$!
wait_http "http://127.0.0.1:$port/health" 60 "$work/orders-api.log"
started=$(date +%s)
echo "orders-api up (pid $pid); sampling its connections every 5 s for $minutes min"
printf '%8s  %5s  %s\n' "second" "open" "opened so far"
seen=""; last=""; open_secs=0
while [ $(( $(date +%s) - started )) -lt $(( minutes * 60 )) ]; do
  ids=$(mysql_root -N -e "SELECT ID FROM information_schema.PROCESSLIST WHERE DB='$db' AND ID <> CONNECTION_ID()")
  for id in $ids; do case " $seen " in *" $id "*) ;; *) seen="$seen $id" ;; esac; done
  open=$(echo "$ids" | grep -c . || true)
  opened=$(echo "$seen" | wc -w)
  [ "$open" -eq 0 ] || open_secs=$(( open_secs + 5 ))
  row="$open $opened"
  if [ "$row" != "$last" ]; then printf '%8s  %5s  %s\n' "$(( $(date +%s) - started ))" "$open" "$opened"; last=$row; fi
  sleep 5
done
echo "summary: over $minutes min, connections open during about ${open_secs} s; $(echo "$seen" | wc -w) opened in all"
