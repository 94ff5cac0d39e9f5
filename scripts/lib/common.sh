# Sourced by the scripts for what several of them need:
#
#   as_root CMD...          CMD as root (sudo unless root already)
#   apt_install PKG...      Debian packages, quietly
#   mysql_root ARGS...      the local MySQL/MariaDB (127.0.0.1:3306) as root
#   drop_database NAME      DROP DATABASE IF EXISTS, never failing
#   free_port               a TCP port nobody listens on right now
#   wait_http URL SECONDS [LOG...]
#                           until URL answers 2xx; otherwise says so, shows
#                           the logs' last lines and fails

as_root() { if [ "$(id -u)" = 0 ]; then "$@"; else sudo "$@"; fi; }

apt_install() {
  as_root apt-get update -qq >/dev/null
  DEBIAN_FRONTEND=noninteractive as_root apt-get install -y -qq "$@" >/dev/null
}

mysql_root() { mysql -h 127.0.0.1 -P 3306 -u root "$@"; }

drop_database() { mysql_root -e "DROP DATABASE IF EXISTS \`$1\`" 2>/dev/null || true; }

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

wait_http() {
  local url=$1 seconds=$2 _
  shift 2
  for _ in $(seq 1 $(( seconds * 4 ))); do
    curl -fsS -o /dev/null "$url" 2>/dev/null && return 0
    sleep 0.25
  done
  echo "$url did not answer within $seconds s" >&2
  [ $# -eq 0 ] || tail -n 30 "$@" >&2
  return 1
}
