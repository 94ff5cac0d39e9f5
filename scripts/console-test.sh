#!/usr/bin/env bash
# The console's browser tests: the real stack as processes (customers-api,
# orders-api, and the orchestrator behind `cargo lambda watch`, serving
# /console) on a fresh, seeded database of their own and a throw-away
# issuer (the console's sign-in pointed at a stand-in OIDC provider the test
# serves), then console-test/console.test.mjs in Debian's Chromium, driven by
# playwright-core, with axe-core run inside each page. Installs Chromium
# (apt) and the two npm packages (npm ci, pinned by package-lock.json) when
# missing. Screenshots go to $CONSOLE_SHOTS (make console-shots: docs/console/).
#
# Uses the binaries in $CARGO_TARGET_DIR/debug (cargo build --workspace --bins).
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (once)" >&2
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq chromium >/dev/null
fi
command -v node >/dev/null 2>&1 || { echo "node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
lock=console-test/node_modules/.package-lock.json
if [ ! -f "$lock" ] || ! cmp -s <(sed -n '/"packages"/,$p' console-test/package-lock.json) <(sed -n '/"packages"/,$p' "$lock"); then
  (cd console-test && npm ci --no-audit --no-fund --loglevel=error)
fi

export SERVICE_TOKEN="console-service-token-$(openssl rand -hex 16)"
export ORCHESTRATOR_SERVICE_TOKEN="console-orchestrator-token-$(openssl rand -hex 16)"
# shellcheck source=lib/apis.sh
. scripts/lib/apis.sh
lport=$(free_port)
iport=$(free_port)  # the test's stand-in OIDC provider (console.test.mjs serves it)
export CORS_ALLOWED_ORIGINS="http://127.0.0.1:$lport"
start_apis console "$bin" warn

(cd orchestrator-lambda && exec cargo lambda watch --only-lambda-apis \
   --invoke-address 127.0.0.1 --invoke-port "$lport") >"$work/cargo-lambda.log" 2>&1 & pids+=($!)
for _ in $(seq 1 240); do (exec 3<>"/dev/tcp/127.0.0.1/$lport") 2>/dev/null && break; sleep 0.25; done
env -i PATH="$PATH" AWS_LAMBDA_FUNCTION_NAME=orchestrator-lambda AWS_LAMBDA_FUNCTION_VERSION=1 \
  AWS_LAMBDA_FUNCTION_MEMORY_SIZE=256 AWS_LAMBDA_RUNTIME_API="http://127.0.0.1:$lport/.rt" \
  AWS_LAMBDA_MAX_CONCURRENCY=8 \
  CUSTOMERS_API_BASE="http://127.0.0.1:$cport" ORDERS_API_BASE="http://127.0.0.1:$oport" \
  CONSOLE_CUSTOMERS_URL="http://127.0.0.1:$cport" CONSOLE_ORDERS_URL="http://127.0.0.1:$oport" \
  CONSOLE_OIDC_AUTHORIZE_URL="http://127.0.0.1:$iport/oauth2/authorize" \
  CONSOLE_OIDC_TOKEN_URL="http://127.0.0.1:$iport/oauth2/token" \
  CONSOLE_OIDC_LOGOUT_URL="http://127.0.0.1:$iport/logout" CONSOLE_OIDC_CLIENT_ID=console-test-client \
  JWT_JWKS="$JWT_JWKS" JWT_ISSUER="$JWT_ISSUER" JWT_AUDIENCE="$JWT_AUDIENCE" \
  SERVICE_TOKEN="$ORCHESTRATOR_SERVICE_TOKEN" RUST_LOG=warn \
  "$bin/orchestrator-lambda" >"$work/orchestrator.log" 2>&1 & pids+=($!)
wait_http "http://127.0.0.1:$lport/orchestrator/health" 60 "$work"/*.log

# The tokens the tests sign in with: an admin's, a viewer's, an order operator's.
CONSOLE_URL="http://127.0.0.1:$lport/console" \
ADMIN_TOKEN=$(ROLE=admin scripts/mint-token.sh ana.admin 3600) \
VIEWER_TOKEN=$(ROLE=viewer scripts/mint-token.sh vic.viewer 3600) \
OPERATOR_TOKEN=$(ROLE=order-operator scripts/mint-token.sh olga.operator 3600) \
OIDC_PORT="$iport" OIDC_TOKEN=$(ROLE=catalog-manager scripts/mint-token.sh oscar.oidc 3600) \
CONSOLE_SHOTS="${CONSOLE_SHOTS:-}" \
  node --test --test-concurrency=1 --test-reporter=spec console-test/console.test.mjs \
  || { echo "--- the services' logs" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
