#!/usr/bin/env bash
# Mints an HS256 user token with openssl alone (no project code needed).
#   [SCOPE="orders:read orders:write"] [ROLE=viewer,order-operator] scripts/mint-token.sh [subject] [ttl_seconds]
# SCOPE goes into the `scope` claim, ROLE (comma-separated) into `groups`;
# with neither, the token is an admin's (`groups: ["admin"]`). Reads
# JWT_SECRET (and JWT_ISSUER / JWT_AUDIENCE when set) from the environment
# or from ./.env.
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -z "${JWT_SECRET:-}" ] && [ -f .env ]; then
  set -a; . ./.env; set +a
fi
[ -n "${JWT_SECRET:-}" ] || { echo "JWT_SECRET is not set: run 'make setup' (it creates .env), or export JWT_SECRET" >&2; exit 1; }
sub="${1:-dev-user}"
ttl="${2:-3600}"
now=$(date +%s)
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
scope="${SCOPE:-}"
role="${ROLE:-}"
[ -z "$scope" ] && [ -z "$role" ] && role=admin
# Names only: nothing that could break out of the JSON string.
for v in "$sub" "$scope" "$role"; do
  case "$v" in *[!A-Za-z0-9@._:/,\ +\|-]*) echo "only letters, digits and @._:/,+|- are allowed: $v" >&2; exit 2;; esac
done
groups=""
IFS=',' read -ra roles <<< "$role"
for r in "${roles[@]}"; do
  r="${r// /}"
  [ -n "$r" ] && groups="$groups${groups:+,}\"$r\""
done
claims="{\"sub\":\"$sub\",\"iat\":$now,\"exp\":$((now + ttl)),\"scope\":\"$scope\",\"groups\":[$groups]"
[ -n "${JWT_ISSUER:-}" ] && claims="$claims,\"iss\":\"$JWT_ISSUER\""
[ -n "${JWT_AUDIENCE:-}" ] && claims="$claims,\"aud\":\"$JWT_AUDIENCE\""
claims="$claims}"
header=$(printf '%s' '{"alg":"HS256","typ":"JWT"}' | b64url)
payload=$(printf '%s' "$claims" | b64url)
signature=$(printf '%s' "$header.$payload" | openssl dgst -sha256 -hmac "$JWT_SECRET" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$payload" "$signature"
