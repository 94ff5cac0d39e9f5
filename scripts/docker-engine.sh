#!/usr/bin/env bash
# Makes sure a Docker engine answers. When one does (Docker Desktop, a
# system dockerd, rootless Docker...), nothing is touched. Otherwise, on a
# Debian/Ubuntu host, installs Debian's docker.io (dockerd 20.10, the classic
# builder) and starts dockerd in the background with:
#   --iptables=false --ip6tables=false   the host's firewall is never rewritten
#   the default bridge                   `sam local` creates its function's
#                                        container on it; containers reach the
#                                        host through the bridge's gateway
# Without iptables rules there is no NAT: containers reach the host and each
# other, not the internet (the builds' RUN steps use --network host).
#   scripts/docker-engine.sh          start if needed
#   DOCKERD_DATA_ROOT=/path ...       where a started dockerd keeps its storage
#                                     (default: dockerd's own, /var/lib/docker)
set -euo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "$0")/lib/common.sh"
answers() { docker info >/dev/null 2>&1; }

if answers; then
  echo "a Docker engine answers: $(docker version --format '{{.Server.Version}}' 2>/dev/null) (left as it is)"
  exit 0
fi
if ! command -v dockerd >/dev/null 2>&1; then
  command -v apt-get >/dev/null 2>&1 || {
    echo "no Docker engine answers and this is not a Debian/Ubuntu host: install and start Docker, then retry" >&2
    exit 1
  }
  echo "installing Debian's docker.io (dockerd and the classic builder)" >&2
  apt_install docker.io
fi
# The Debian client may be older or newer than the engine; both speak the API.
log="${DOCKERD_LOG:-/var/log/dockerd-order-back-office.log}"
args=(--iptables=false --ip6tables=false)
[ -n "${DOCKERD_DATA_ROOT:-}" ] && args+=(--data-root "$DOCKERD_DATA_ROOT")
echo "starting dockerd ${args[*]} (log: $log)" >&2
as_root sh -c "nohup dockerd $(printf '%q ' "${args[@]}") >>'$log' 2>&1 &"
for _ in $(seq 1 60); do
  if answers; then
    echo "dockerd is up: $(docker version --format '{{.Server.Version}}')"
    exit 0
  fi
  sleep 1
done
echo "dockerd did not answer within 60 s; its log:" >&2
tail -n 30 "$log" >&2 || true
exit 1
