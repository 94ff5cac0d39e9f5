#!/usr/bin/env bash
# Makes sure a MySQL-compatible server answers on 127.0.0.1:3306 and that the
# mysql client, cargo-nextest, the project virtualenv .venv/ (cargo-lambda,
# moto_server, schemathesis, SAM and the deployment linters),
# docker-compose (client only) and the arm64 Rust target are installed. Starts the machine's MariaDB when it is down, and
# installs it (Debian) only when it is missing altogether.
set -euo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"

command -v mysql >/dev/null 2>&1 || apt_install mariadb-client
command -v openssl >/dev/null 2>&1 || apt_install openssl
# The Python tools (cargo-lambda, moto_server, schemathesis, SAM, the
# linters), pinned, in the project's own virtualenv .venv/: the system's
# Python is never touched. Every make target puts .venv/bin first on PATH.
root="$(cd "$(dirname "$0")/.." && pwd)"
venv="$root/.venv"
command -v python3 >/dev/null 2>&1 || apt_install python3 python3-venv
if [ ! -x "$venv/bin/python" ]; then
  echo "creating the project virtualenv .venv/ (Python tools, pinned)" >&2
  python3 -m venv "$venv" 2>/dev/null || { apt_install python3-venv; python3 -m venv "$venv"; }
fi
stamp="$venv/.requirements"
wanted=$(cat "$root/requirements-dev.txt" "$root/requirements-deploy.txt")
if [ "$(cat "$stamp" 2>/dev/null)" != "$wanted" ]; then
  echo "installing the Python tools into .venv/ (a minute or two, once)" >&2
  "$venv/bin/python" -m pip install -q --disable-pip-version-check \
    -r "$root/requirements-dev.txt" -r "$root/requirements-deploy.txt"
  printf '%s' "$wanted" > "$stamp"
fi
# checkov in a virtualenv of its own (its pins would fight SAM CLI's).
ckv="$venv/checkov"
ckv_wanted=$(cat "$root/requirements-checkov.txt")
if [ "$(cat "$ckv/.requirements" 2>/dev/null)" != "$ckv_wanted" ]; then
  echo "installing checkov into .venv/checkov/ (a minute or two, once)" >&2
  [ -x "$ckv/bin/python" ] || python3 -m venv "$ckv"
  "$ckv/bin/python" -m pip install -q --disable-pip-version-check -r "$root/requirements-checkov.txt"
  printf '%s' "$ckv_wanted" > "$ckv/.requirements"
fi
# docker-compose v1 validates docker-compose.yml without an engine; `file` checks the arm64 build.
command -v docker-compose >/dev/null 2>&1 || apt_install docker-compose
command -v file >/dev/null 2>&1 || apt_install file
# The arm64 standard library, for `sam build` of the Lambda.
rustup target list --installed 2>/dev/null | grep -q aarch64-unknown-linux-gnu || rustup target add aarch64-unknown-linux-gnu
# The test runner (part of this machine image; built from source only if missing).
cargo nextest --version >/dev/null 2>&1 || cargo install --locked cargo-nextest

ping_db() { mysqladmin -h 127.0.0.1 -P 3306 -u root --connect-timeout=2 ping >/dev/null 2>&1; }

if ping_db; then exit 0; fi
if [ ! -x /usr/sbin/mariadbd ]; then
  apt_install mariadb-server
fi
echo "starting MariaDB" >&2
as_root start-stop-daemon --start --oknodo --background --exec /usr/sbin/mariadbd
for _ in $(seq 1 60); do
  if ping_db; then exit 0; fi
  sleep 1
done
echo "MariaDB did not come up on 127.0.0.1:3306" >&2
exit 1
