#!/bin/bash
# The official mysql image's entrypoint contract, for the MariaDB stand-in
# (docker/stand-ins/mysql.Dockerfile):
#   - arguments that start with "-" are options of the server;
#   - on an empty data directory: the system tables, the root password
#     (MYSQL_ROOT_PASSWORD, or MYSQL_ALLOW_EMPTY_PASSWORD / MYSQL_RANDOM_ROOT_PASSWORD),
#     MYSQL_DATABASE, MYSQL_USER with MYSQL_PASSWORD and all rights on
#     MYSQL_DATABASE, then /docker-entrypoint-initdb.d/*.sql, *.sql.gz and *.sh
#     in name order (SQL into MYSQL_DATABASE when set), once;
#   - the server then listens on 3306 on every interface.
set -euo pipefail
log() { echo "$(date -u +%FT%TZ) [Entrypoint]: $*"; }

if [ "${1:0:1}" = "-" ]; then set -- mysqld "$@"; fi
if [ "$1" != "mysqld" ] && [ "$1" != "mariadbd" ]; then exec "$@"; fi
shift
datadir=/var/lib/mysql
socket=/run/mysqld/mysqld.sock

if [ ! -d "$datadir/mysql" ]; then
  if [ -z "${MYSQL_ROOT_PASSWORD:-}" ] && [ -z "${MYSQL_ALLOW_EMPTY_PASSWORD:-}" ] && [ -z "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    log "error: database is uninitialized and password option is not specified"
    log "  You need to specify one of MYSQL_ROOT_PASSWORD, MYSQL_ALLOW_EMPTY_PASSWORD and MYSQL_RANDOM_ROOT_PASSWORD"
    exit 1
  fi
  if [ -n "${MYSQL_RANDOM_ROOT_PASSWORD:-}" ]; then
    MYSQL_ROOT_PASSWORD=$(head -c 24 /dev/urandom | base64 | tr -d '/+=')
    log "GENERATED ROOT PASSWORD: $MYSQL_ROOT_PASSWORD"
  fi
  log "initializing the data directory"
  mariadb-install-db --user=mysql --datadir="$datadir" --skip-test-db \
    --auth-root-authentication-method=normal "$@" >/dev/null
  mariadbd --user=mysql --datadir="$datadir" --skip-networking --socket="$socket" "$@" &
  pid=$!
  for _ in $(seq 1 60); do
    mariadb-admin --socket="$socket" -uroot ping >/dev/null 2>&1 && break
    sleep 1
  done
  sql() { mariadb --protocol=socket --socket="$socket" -uroot "$@"; }
  esc() { printf '%s' "$1" | sed "s/\\\\/\\\\\\\\/g; s/'/\\\\'/g"; }
  root_pw=$(esc "${MYSQL_ROOT_PASSWORD:-}")
  {
    echo "SET @@SESSION.SQL_LOG_BIN=0;"
    echo "DELETE FROM mysql.global_priv WHERE User NOT IN ('mysql.sys', 'mariadb.sys', 'root') OR Host NOT IN ('localhost');"
    echo "ALTER USER 'root'@'localhost' IDENTIFIED BY '$root_pw';"
    echo "CREATE USER 'root'@'%' IDENTIFIED BY '$root_pw';"
    echo "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION;"
    if [ -n "${MYSQL_DATABASE:-}" ]; then
      echo "CREATE DATABASE IF NOT EXISTS \`${MYSQL_DATABASE}\`;"
    fi
    if [ -n "${MYSQL_USER:-}" ] && [ -n "${MYSQL_PASSWORD:-}" ]; then
      echo "CREATE USER '$(esc "$MYSQL_USER")'@'%' IDENTIFIED BY '$(esc "$MYSQL_PASSWORD")';"
      if [ -n "${MYSQL_DATABASE:-}" ]; then
        echo "GRANT ALL ON \`${MYSQL_DATABASE}\`.* TO '$(esc "$MYSQL_USER")'@'%';"
      fi
    fi
    echo "FLUSH PRIVILEGES;"
  } | sql
  as_root() { MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" sql "$@"; }
  for f in /docker-entrypoint-initdb.d/*; do
    [ -e "$f" ] || continue
    case "$f" in
      *.sh) log "running $f"; . "$f" ;;
      *.sql) log "running $f"; as_root ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} <"$f" ;;
      *.sql.gz) log "running $f"; gunzip -c "$f" | as_root ${MYSQL_DATABASE:+"$MYSQL_DATABASE"} ;;
      *) log "ignoring $f" ;;
    esac
  done
  MYSQL_PWD="${MYSQL_ROOT_PASSWORD:-}" mariadb-admin --socket="$socket" -uroot shutdown
  wait "$pid" || true
  log "initialization done; starting the server"
fi
exec mariadbd --user=mysql --datadir="$datadir" --bind-address=0.0.0.0 --port=3306 --socket="$socket" "$@"
