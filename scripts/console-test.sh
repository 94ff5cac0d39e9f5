#!/usr/bin/env bash
# The console's browser tests: the real stack as processes (customers-api,
# orders-api, and the orchestrator under plain `cargo lambda watch`, serving
# /lambda-url/orchestrator-lambda/console) on a fresh, seeded database of their own and a throw-away
# issuer (the console's sign-in pointed at a stand-in OIDC provider the test
# serves), then console-test/console.test.mjs in Debian's Chromium, driven by
# playwright-core, with axe-core run inside each page. First the TypeScript
# compiler checks the console's modules (JSDoc mode, `tsc --noEmit`).
# Installs Chromium (apt) and the npm packages (npm ci, pinned by
# package-lock.json) when missing. Screenshots go to $CONSOLE_SHOTS (make console-shots: docs/console/).
#
# Uses the APIs' binaries in $CARGO_TARGET_DIR/debug (cargo build --workspace
# --bins); `cargo lambda watch` builds the function itself.
set -euo pipefail
cd "$(dirname "$0")/.."
root=$(pwd)
bin="${CARGO_TARGET_DIR:-$root/target}/debug"

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
if [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium (once)" >&2
  apt_install chromium
fi
command -v node >/dev/null 2>&1 || { echo "node is not installed (apt-get install nodejs npm)" >&2; exit 1; }
lock=console-test/node_modules/.package-lock.json
if [ ! -f "$lock" ] || ! cmp -s <(sed -n '/"packages"/,$p' console-test/package-lock.json) <(sed -n '/"packages"/,$p' "$lock"); then
  (cd console-test && npm ci --no-audit --no-fund --loglevel=error)
fi

# The console's modules, type-checked in JSDoc mode (nothing emitted).
echo "tsc --noEmit: the console's modules"
console-test/node_modules/.bin/tsc -p orchestrator-lambda/console

export SERVICE_TOKEN="console-service-token-$(openssl rand -hex 16)"
export ORCHESTRATOR_SERVICE_TOKEN="console-orchestrator-token-$(openssl rand -hex 16)"
# shellcheck source=lib/apis.sh
. scripts/lib/apis.sh
lport=$(free_port)
iport=$(free_port)  # the test's stand-in OIDC provider (console.test.mjs serves it)
export CORS_ALLOWED_ORIGINS="http://127.0.0.1:$lport"
start_apis console "$bin" warn

# The function as a user runs it: plain `cargo lambda watch`, which builds it
# with `cargo run` and serves it under /lambda-url/orchestrator-lambda/, so
# the console is proven under a mount, not only at the root.
mount="http://127.0.0.1:$lport/lambda-url/orchestrator-lambda"
(cd orchestrator-lambda && SERVICE_TOKEN="$ORCHESTRATOR_SERVICE_TOKEN" RUST_LOG=warn \
   CUSTOMERS_API_BASE="http://127.0.0.1:$cport" ORDERS_API_BASE="http://127.0.0.1:$oport" \
   CONSOLE_CUSTOMERS_URL="http://127.0.0.1:$cport" CONSOLE_ORDERS_URL="http://127.0.0.1:$oport" \
   CONSOLE_OIDC_AUTHORIZE_URL="http://127.0.0.1:$iport/oauth2/authorize" \
   CONSOLE_OIDC_TOKEN_URL="http://127.0.0.1:$iport/oauth2/token" \
   CONSOLE_OIDC_LOGOUT_URL="http://127.0.0.1:$iport/logout" CONSOLE_OIDC_CLIENT_ID=console-test-client \
   exec cargo lambda watch --invoke-address 127.0.0.1 --invoke-port "$lport") \
  >"$work/cargo-lambda.log" 2>&1 & pids+=($!)
# The first request builds the function (`cargo run`): minutes when cold.
wait_http "$mount/orchestrator/health" 900 "$work"/*.log

# The tokens the tests sign in with: an admin's, a viewer's, an order operator's.
CONSOLE_URL="$mount/console" \
ADMIN_TOKEN=$(ROLE=admin scripts/mint-token.sh ana.admin 3600) \
VIEWER_TOKEN=$(ROLE=viewer scripts/mint-token.sh vic.viewer 3600) \
OPERATOR_TOKEN=$(ROLE=order-operator scripts/mint-token.sh olga.operator 3600) \
OIDC_PORT="$iport" OIDC_TOKEN=$(ROLE=catalog-manager scripts/mint-token.sh oscar.oidc 3600) \
CONSOLE_SHOTS="${CONSOLE_SHOTS:-}" \
  node --test --test-concurrency=1 --test-reporter=spec console-test/console.test.mjs \
  || { echo "--- the services' logs" >&2; tail -n 20 "$work"/*.log >&2; exit 1; }
