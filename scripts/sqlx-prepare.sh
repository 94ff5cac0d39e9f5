#!/usr/bin/env bash
# Regenerates .sqlx/ (the query metadata that lets the workspace compile with
# SQLX_OFFLINE=true) against a scratch database holding every migration.
#   scripts/sqlx-prepare.sh           rewrite .sqlx/
#   scripts/sqlx-prepare.sh --check   fail if .sqlx/ is stale
set -euo pipefail
cd "$(dirname "$0")/.."

server="${TEST_DATABASE_URL:-mysql://root@127.0.0.1:3306}"
db="sqlx_prepare_$$"
hostport="${server#mysql://}"; hostport="${hostport#*@}"; hostport="${hostport%%/*}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=3306
mysql_cmd=(mysql -h "$host" -P "$port" -u root)

out=".sqlx"
if [ "${1:-}" = "--check" ]; then out="$(mktemp -d)"; fi

cleanup() { "${mysql_cmd[@]}" -e "DROP DATABASE IF EXISTS \`$db\`" || true; }
trap cleanup EXIT
"${mysql_cmd[@]}" -e "CREATE DATABASE \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
# Every service's migrations, in version order (versions are unique timestamps).
for f in $(ls */migrations/*.sql | awk -F/ '{print $NF" "$0}' | sort | cut -d' ' -f2); do
  "${mysql_cmd[@]}" "$db" < "$f"
done

if [ "$out" = ".sqlx" ]; then rm -rf .sqlx; fi
mkdir -p "$out"
out_abs="$(cd "$out" && pwd)"
# Force the query macros to run again for the crates that use them.
packages=$(grep -l 'sqlx::query' */src -r | cut -d/ -f1 | sort -u)
for p in $packages; do cargo clean -q -p "$p"; done
SQLX_OFFLINE=false SQLX_OFFLINE_DIR="$out_abs" DATABASE_URL="$server/$db" \
  cargo check -q --workspace --all-targets

if [ "${1:-}" = "--check" ]; then
  if ! diff -r .sqlx "$out_abs" >/dev/null; then
    echo ".sqlx/ is stale: run 'make sqlx-prepare' and commit the result" >&2
    diff -r .sqlx "$out_abs" | head -20 >&2
    rm -rf "$out_abs"; exit 1
  fi
  rm -rf "$out_abs"
  echo ".sqlx/ is up to date"
fi
