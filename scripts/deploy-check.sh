#!/usr/bin/env bash
# Offline checks of everything deployable. The template twice: as written
# (cfn-lint, sam validate --lint, checkov) and as CloudFormation receives it,
# after SAM's transform (scripts/translate.py): cfn-lint and checkov again,
# and its dependency graph (scripts/cfn_graph.py), since the resources SAM
# generates (alias, versions, deployment group, permissions, routes) are
# seen by no linter otherwise. Then the template contract test and the deploy
# script against moto (pytest, scripts/tests/), sam local's env file, the
# Dockerfile (hadolint), docker-compose.yml (docker-compose config, where the
# client is installed) and, with --build, `sam build` (the arm64 bootstrap,
# cross-compiled with cargo-lambda + zig).
#   TEMPLATE=path  checks another template (the tests show each check
#                  failing on a broken one)
set -euo pipefail
cd "$(dirname "$0")/.."
export SAM_CLI_TELEMETRY=0
template="${TEMPLATE:-template.yaml}"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "--- cfn-lint $template (as written: Globals merged, SAM's own resources unseen)"
cfn-lint "$template"
echo "--- sam validate --lint"
sam validate --lint --region us-east-1 --template-file "$template"
echo "--- SAM's transform, offline: what CloudFormation receives"
python3 scripts/translate.py --template "$template" "$work/translated.json"
echo "--- cfn-lint on the translation (E3004 counts UpdatePolicy references, as CloudFormation does)"
# W2001: SAM resolves DeploymentType into the deployment group itself, so the
# translation no longer names that parameter.
cfn-lint --ignore-checks W2001 -- "$work/translated.json"
echo "--- the translation's dependency graph: no cycle"
python3 scripts/cfn_graph.py "$work/translated.json"
echo "--- checkov, as written and translated (skips are in the template, each with its reason)"
.venv/checkov/bin/checkov -f "$template" --framework cloudformation --compact --quiet --skip-download
.venv/checkov/bin/checkov -f "$work/translated.json" --framework cloudformation --compact --quiet --skip-download
if [ -n "${TEMPLATE:-}" ]; then echo "deploy checks of $template passed"; exit 0; fi
echo "--- the template contract test and the deploy script against moto (pytest)"
python3 -m pytest -q -n 2 scripts/tests
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
