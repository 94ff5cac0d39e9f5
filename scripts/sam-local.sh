#!/usr/bin/env bash
# The function as template.yaml defines it, in SAM's Lambda container, against
# the APIs on this host (make apis):
#   scripts/sam-local.sh start-api [sam options]   sam local start-api on :3003
#   scripts/sam-local.sh invoke [sam options]      one saga (the sample event with a fresh dev token)
#   scripts/sam-local.sh build                     the build only (CI builds it ahead)
# It builds the function for this machine's architecture (FunctionArchitecture
# in template.yaml) into .aws-sam/local/, so that the Lambda container runs
# natively; deployments build arm64 (make sam-build), and make bootstrap-check
# runs that artifact under qemu. SAM_LOCAL_ARCH=arm64 runs the arm64 function
# here under emulation (registered first on an x86-64 host).
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
mode=${1:?start-api, invoke or build}; shift
case "$(uname -m)" in aarch64 | arm64) host=arm64 ;; *) host=x86_64 ;; esac
arch=${SAM_LOCAL_ARCH:-$host}
[ "$arch" = "$host" ] || [ "$arch" != arm64 ] || scripts/arm64-emulation.sh
build=.aws-sam/local
params=(--parameter-overrides "FunctionArchitecture=$arch")
sam build --beta-features --build-dir "$build" "${params[@]}"
[ "$mode" != build ] || exit 0
python3 scripts/sam-local-env.py render .aws-sam/sam-local-env.json
common=(--template "$build/template.yaml" "${params[@]}" --env-vars .aws-sam/sam-local-env.json
        --add-host host.docker.internal:host-gateway)
case "$mode" in
  start-api)
    exec sam local start-api --port 3003 "${common[@]}" "$@" ;;
  invoke)
    token=$(scripts/mint-token.sh sam-invoke 600)
    sed "s|\${TOKEN}|$token|" orchestrator-lambda/events/create-and-confirm-order.json > .aws-sam/saga-event.json
    exec sam local invoke OrchestratorFunction --event .aws-sam/saga-event.json "${common[@]}" "$@" ;;
  *) echo "start-api, invoke or build, not $mode" >&2; exit 2 ;;
esac
