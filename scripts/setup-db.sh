#!/usr/bin/env bash
# Creates the database named in DATABASE_URL (from the environment or .env)
# and, when it has no tables yet, loads db/schema.sql and db/seed.sql.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${DATABASE_URL:-}" ] && [ -f .env ]; then
  DATABASE_URL=$(grep -E '^DATABASE_URL=' .env | tail -1 | cut -d= -f2-)
fi
: "${DATABASE_URL:?DATABASE_URL is not set}"
rest="${DATABASE_URL#mysql://}"
creds=""; [[ "$rest" == *@* ]] && creds="${rest%%@*}" && rest="${rest#*@}"
hostport="${rest%%/*}"; db="${rest#*/}"; db="${db%%\?*}"
user="${creds%%:*}"; pass=""; [[ "$creds" == *:* ]] && pass="${creds#*:}"
host="${hostport%%:*}"; port="${hostport##*:}"; [ "$port" = "$host" ] && port=3306
args=(-h "$host" -P "$port" -u "${user:-root}")
[ -n "$pass" ] && args+=("-p$pass")
mysql "${args[@]}" -e "CREATE DATABASE IF NOT EXISTS \`$db\` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci"
tables=$(mysql "${args[@]}" -N -e "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = '$db'")
if [ "$tables" = "0" ]; then
  mysql "${args[@]}" "$db" < db/schema.sql
  mysql "${args[@]}" "$db" < db/seed.sql
  echo "database $db created and seeded"
else
  echo "database $db already has tables; left as it is"
fi
