#!/usr/bin/env bash
# Makes sure a MySQL-compatible server answers on 127.0.0.1:3306 and that the
# mysql client, cargo-nextest, cargo-lambda, moto_server, the deployment linters,
# docker-compose (client only) and the arm64 Rust target are installed. Starts the machine's MariaDB when it is down, and
# installs it (Debian) only when it is missing altogether.
set -euo pipefail

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }
apt_install() {
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

command -v mysql >/dev/null 2>&1 || apt_install mariadb-client
command -v openssl >/dev/null 2>&1 || apt_install openssl
# cargo-lambda and moto_server, pinned (a no-op when already installed).
root="$(dirname "$0")/.."
python3 -m pip install -q --disable-pip-version-check -r "$root/requirements-dev.txt" -r "$root/requirements-deploy.txt" 2>&1 \
  | grep -v -i "running pip as the 'root' user" || true
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
