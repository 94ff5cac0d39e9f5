#!/usr/bin/env bash
# Offline checks of everything deployable: the SAM template (cfn-lint, sam
# validate --lint, checkov), the template contract test and the deploy
# script against moto (pytest, scripts/tests/), the dry run of the deploy
# against moto, the Dockerfile (hadolint), docker-compose.yml
# (docker-compose config, where the client is installed) and, with --build,
# `sam build` (the arm64 bootstrap, cross-compiled with cargo-lambda + zig).
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
echo "--- cfn-lint template.yaml"
cfn-lint template.yaml
echo "--- sam validate --lint"
sam validate --lint --region us-east-1
echo "--- checkov (skips are in the template, each with its reason)"
.venv/checkov/bin/checkov -f template.yaml --framework cloudformation --compact --quiet --skip-download
echo "--- the template contract test and the deploy script against moto (pytest)"
python3 -m pytest -q scripts/tests
echo "--- sam local's env file against the template"
python3 scripts/sam-local-env.py check
echo "--- hadolint"
hadolint Dockerfile docker/stand-ins/*.Dockerfile
if command -v docker-compose >/dev/null 2>&1; then
  echo "--- docker-compose config"
  docker-compose config -q
else
  echo "--- docker-compose not installed: compose file not checked"
fi
if [ "${1:-}" = "--build" ]; then
  echo "--- sam build"
  build_dir="${SAM_BUILD_DIR:-.aws-sam/build}"
  sam build --beta-features --build-dir "$build_dir"
  bootstrap="$build_dir/OrchestratorFunction/bootstrap"
  # (Not `tee /dev/stderr`: reopening it truncates a log file it points to.)
  kind=$(file "$bootstrap"); echo "$kind"
  grep -q "ARM aarch64" <<<"$kind" || { echo "bootstrap is not an arm64 binary" >&2; exit 1; }
fi
echo "deploy checks passed"
