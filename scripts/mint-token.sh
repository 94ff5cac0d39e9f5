#!/usr/bin/env bash
# Mints a development user token, signed RS256 by the local issuer's key
# (scripts/dev-keys.sh makes it; make setup runs that), with openssl alone:
# no build needed.
#   [SCOPE="orders:read orders:write"] [ROLE=viewer,order-operator] scripts/mint-token.sh [subject] [ttl_seconds]
# SCOPE goes into the `scope` claim, ROLE (comma-separated) into `groups`;
# with neither, the token is an admin's (`groups: ["admin"]`). JWT_ISSUER
# and JWT_AUDIENCE come from the environment or from ./.env; the key from
# $DEV_KEYS_DIR (default .dev-keys/).
set -euo pipefail
cd "$(dirname "$0")/.."
if { [ -z "${JWT_ISSUER:-}" ] || [ -z "${JWT_AUDIENCE:-}" ]; } && [ -f .env ]; then
  set -a; . ./.env; set +a
fi
[ -n "${JWT_ISSUER:-}" ] && [ -n "${JWT_AUDIENCE:-}" ] \
  || { echo "JWT_ISSUER and JWT_AUDIENCE are not set: run 'make setup' (it creates .env), or export them" >&2; exit 1; }
keys="${DEV_KEYS_DIR:-.dev-keys}"
[ -s "$keys/signing-key.pem" ] && [ -s "$keys/kid" ] \
  || { echo "no signing key in $keys/: run 'make setup' (or scripts/dev-keys.sh)" >&2; exit 1; }
kid=$(tr -d '[:space:]' < "$keys/kid")
sub="${1:-dev-user}"
ttl="${2:-3600}"
now=$(date +%s)
b64url() { openssl base64 -A | tr '+/' '-_' | tr -d '='; }
scope="${SCOPE:-}"
role="${ROLE:-}"
[ -z "$scope" ] && [ -z "$role" ] && role=admin
# Names only: nothing that could break out of the JSON string.
for v in "$sub" "$scope" "$role" "$JWT_ISSUER" "$JWT_AUDIENCE"; do
  case "$v" in *[!A-Za-z0-9@._:/,\ +\|-]*) echo "only letters, digits and @._:/,+|- are allowed: $v" >&2; exit 2;; esac
done
groups=""
IFS=',' read -ra roles <<< "$role"
for r in "${roles[@]}"; do
  r="${r// /}"
  [ -n "$r" ] && groups="$groups${groups:+,}\"$r\""
done
claims="{\"sub\":\"$sub\",\"iat\":$now,\"exp\":$((now + ttl)),\"scope\":\"$scope\",\"groups\":[$groups],\"iss\":\"$JWT_ISSUER\",\"aud\":\"$JWT_AUDIENCE\"}"
header=$(printf '{"alg":"RS256","typ":"JWT","kid":"%s"}' "$kid" | b64url)
payload=$(printf '%s' "$claims" | b64url)
signature=$(printf '%s' "$header.$payload" | openssl dgst -sha256 -sign "$keys/signing-key.pem" -binary | b64url)
printf '%s.%s.%s\n' "$header" "$payload" "$signature"
