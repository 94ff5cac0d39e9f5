# STAND-IN for mysql:8.4, built by scripts/docker-bases.sh where the real
# image cannot be pulled. Not MySQL: Debian's MariaDB 10.11 behind an
# entrypoint that keeps the official image's documented contract
# (MYSQL_DATABASE, MYSQL_USER, MYSQL_PASSWORD, MYSQL_ROOT_PASSWORD,
# MYSQL_ALLOW_EMPTY_PASSWORD, /docker-entrypoint-initdb.d/*.sql|*.sql.gz|*.sh
# once on an empty data directory, server options as arguments). Never pushed.
FROM debian:bookworm-slim
# hadolint ignore=DL3008
RUN apt-get update \
    && apt-get install -y --no-install-recommends mariadb-server mariadb-client gzip \
    && rm -rf /var/lib/apt/lists/* /var/lib/mysql \
    && mkdir -p /var/lib/mysql /run/mysqld /docker-entrypoint-initdb.d \
    && chown mysql:mysql /var/lib/mysql /run/mysqld
COPY mysql-entrypoint.sh /usr/local/bin/docker-entrypoint.sh
RUN chmod 0755 /usr/local/bin/docker-entrypoint.sh
VOLUME /var/lib/mysql
EXPOSE 3306
LABEL org.order-back-office.stand-in="mysql:8.4 stand-in: Debian's MariaDB 10.11 behind the official image's entrypoint contract, built locally by scripts/docker-bases.sh; not MySQL"
ENTRYPOINT ["/usr/local/bin/docker-entrypoint.sh"]
CMD ["mysqld"]
