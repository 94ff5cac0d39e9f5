#!/usr/bin/env bash
# What `make deploy` and `make images` need, and nothing else: the project's
# .venv/ with the deploy tools pinned in requirements-deploy.txt (SAM CLI,
# cargo-lambda, zig, cfn-lint, hadolint) and the Rust target of the arm64
# Lambda. On Linux or macOS; no database, no system packages. Says what it
# cannot install itself (Rust, Docker, the AWS CLI) and how to get it.
set -euo pipefail
cd "$(dirname "$0")/.."
venv="$PWD/.venv"
missing=()
command -v python3 >/dev/null 2>&1 || { echo "install Python 3.9 or later (python3), then run this again" >&2; exit 1; }
if [ ! -x "$venv/bin/python" ]; then
  echo "creating .venv/ (the deploy tools, pinned)"
  python3 -m venv "$venv" || { echo "python3 cannot make a virtualenv: install its venv module (Debian: python3-venv)" >&2; exit 1; }
fi
stamp="$venv/.requirements-deploy"
wanted=$(cat requirements-deploy.txt)
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ] && [ "$(cat "$venv/.requirements" 2>/dev/null)" != "$(cat requirements-dev.txt requirements-deploy.txt)" ]; then
  echo "installing the deploy tools into .venv/ (a minute or two, once)"
  "$venv/bin/python" -m pip install -q --disable-pip-version-check -r requirements-deploy.txt
  printf '%s' "$wanted" > "$stamp"
fi
if command -v rustup >/dev/null 2>&1; then
  rustup target list --installed | grep -q '^aarch64-unknown-linux-gnu$' || rustup target add aarch64-unknown-linux-gnu
else
  missing+=("Rust, with rustup (https://rustup.rs), then: rustup target add aarch64-unknown-linux-gnu")
fi
command -v docker >/dev/null 2>&1 || missing+=("Docker (make images builds the images with it)")
command -v aws >/dev/null 2>&1 || missing+=("the AWS CLI v2 (make images pushes to ECR with it; docs/deploy.md)")
lambda_version=$("$venv/bin/python" -m pip show cargo-lambda 2>/dev/null | awk '/^Version:/{print $2}')
echo "deploy tools ready in .venv/ ($("$venv/bin/sam" --version), cargo-lambda $lambda_version)"
if [ ${#missing[@]} -gt 0 ]; then
  echo "still needed, not installed by this script:"
  for m in "${missing[@]}"; do echo "  - $m"; done
fi
