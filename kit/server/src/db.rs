//! The MySQL pool and migrations.

use std::{str::FromStr, time::Duration};

use anyhow::Context;
use sqlx::{
    migrate::Migrator,
    mysql::{MySqlConnectOptions, MySqlPoolOptions},
    Connection, MySqlPool,
};

/// A pool with explicit limits. Sessions run in UTC (sqlx's default
/// `time_zone`); with `lock_wait`, their `innodb_lock_wait_timeout` is that
/// many seconds (at least 1) instead of the server's default.
pub async fn connect(
    url: &str,
    max_connections: u32,
    lock_wait: Option<Duration>,
) -> anyhow::Result<MySqlPool> {
    let options =
        MySqlConnectOptions::from_str(url).context("DATABASE_URL is not a valid MySQL URL")?;
    let pool = pool_options(max_connections, lock_wait).connect_lazy_with(options);
    Ok(pool)
}

/// How long a service waits for its database at start-up.
pub const START_PATIENCE: Duration = Duration::from_secs(30);

/// A service's pool, ready: connected (waiting up to [`START_PATIENCE`] for
/// the database) and, given a migrator, migrated.
pub async fn open(
    url: &str,
    max_connections: u32,
    lock_wait: Option<Duration>,
    migrator: Option<Migrator>,
) -> anyhow::Result<MySqlPool> {
    let pool = connect(url, max_connections, lock_wait).await?;
    wait_until_reachable(&pool, START_PATIENCE).await?;
    if let Some(mut migrator) = migrator {
        migrate(&pool, &mut migrator).await?;
    }
    Ok(pool)
}

/// Now, at the precision of the services' `DATETIME(6)` columns
/// (microseconds), so that what is answered is what is stored.
pub fn now() -> chrono::DateTime<chrono::Utc> {
    let now = chrono::Utc::now();
    chrono::DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}

/// A connection idle this long is closed (by the pool's maintenance, which
/// runs as often: so within twice this), and an idle service holds none: a
/// database that pauses when no connection is open (Aurora Serverless v2 at
/// 0 ACU, after 300 s) can pause.
pub const IDLE_TIMEOUT: Duration = Duration::from_secs(60);

/// A checkout pings a connection that has sat idle at least this long.
pub const PING_AFTER_IDLE: Duration = Duration::from_secs(1);

/// The pool settings of the services (the benchmark's database ceiling uses
/// them too). A checkout pings the connection first only if it has been idle
/// for [`PING_AFTER_IDLE`]: a connection in steady use has just proved
/// itself, and one that a restarted or failed-over server dropped has been
/// idle at least as long as the outage, so it is pinged, found dead and
/// replaced instead of failing a request.
pub fn pool_options(max_connections: u32, lock_wait: Option<Duration>) -> MySqlPoolOptions {
    let options = MySqlPoolOptions::new()
        .max_connections(max_connections)
        .min_connections(0)
        .acquire_timeout(Duration::from_secs(5))
        .idle_timeout(IDLE_TIMEOUT)
        .max_lifetime(Duration::from_secs(1800))
        .test_before_acquire(false)
        .before_acquire(|conn, meta| {
            Box::pin(async move {
                if meta.idle_for >= PING_AFTER_IDLE {
                    conn.ping().await?;
                }
                Ok(true)
            })
        });
    let Some(lock_wait) = lock_wait else {
        return options;
    };
    let secs = lock_wait.as_secs().max(1);
    options.after_connect(move |conn, _| {
        Box::pin(async move {
            sqlx::query("SET SESSION innodb_lock_wait_timeout = ?")
                .bind(secs)
                .execute(conn)
                .await?;
            Ok(())
        })
    })
}

/// Waits (up to `patience`) for the database to accept connections: a service
/// started beside its database should not crash because it won the race.
pub async fn wait_until_reachable(pool: &MySqlPool, patience: Duration) -> anyhow::Result<()> {
    let start = tokio::time::Instant::now();
    let deadline = start.checked_add(patience).unwrap_or(start);
    loop {
        match sqlx::query("SELECT 1").execute(pool).await {
            Ok(_) => return Ok(()),
            Err(e) if tokio::time::Instant::now() < deadline => {
                tracing::warn!(error = %e, "database not reachable yet; retrying");
                tokio::time::sleep(Duration::from_millis(500)).await;
            }
            Err(e) => return Err(e).context("the database is unreachable"),
        }
    }
}

/// Applies a service's migrations. Services may share one database and so one
/// `_sqlx_migrations` table: versions are timestamps, unique across services,
/// and each service ignores the migrations it does not own. Replicas and
/// services starting at once take turns under one named lock, held on the
/// connection that migrates (a service must not read another's half-applied
/// migration as "dirty").
pub async fn migrate(pool: &MySqlPool, migrator: &mut Migrator) -> anyhow::Result<()> {
    const LOCK: &str = "order_back_office_migrations";
    migrator.set_ignore_missing(true);
    migrator.set_locking(false);
    let mut conn = pool
        .acquire()
        .await
        .context("no connection for migrations")?;
    let locked: Option<i64> = sqlx::query_scalar("SELECT GET_LOCK(?, 120)")
        .bind(LOCK)
        .fetch_one(&mut *conn)
        .await
        .context("taking the migration lock")?;
    if locked != Some(1) {
        anyhow::bail!("another process held the migration lock for 120 s");
    }
    let result = migrator
        .run(&mut *conn)
        .await
        .context("applying migrations failed");
    let _ = sqlx::query("SELECT RELEASE_LOCK(?)")
        .bind(LOCK)
        .execute(&mut *conn)
        .await;
    result
}

/// The name of the unique key a write violated, or `None` for any other
/// error. MySQL and MariaDB name it only in the message (`Duplicate entry
/// '…' for key 'uq_x'`; MySQL 8 writes `table.uq_x`), so a caller can tell
/// its keys apart instead of taking any violation for the one it expects.
pub fn unique_key(e: &sqlx::Error) -> Option<String> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    if !db.is_unique_violation() {
        return None;
    }
    key_in_message(db.message()).map(str::to_owned)
}

fn key_in_message(message: &str) -> Option<&str> {
    let (_, quoted) = message.rsplit_once(" for key '")?;
    let name = quoted.strip_suffix('\'')?;
    Some(name.rsplit_once('.').map_or(name, |(_, key)| key))
}

#[cfg(test)]
mod unique_key_tests {
    use super::key_in_message;

    #[test]
    fn names_the_key_as_mysql_and_mariadb_write_it() {
        assert_eq!(
            key_in_message("Duplicate entry 'sku001' for key 'uq_products_sku'"),
            Some("uq_products_sku")
        );
        assert_eq!(
            key_in_message("Duplicate entry 'sku001' for key 'products.uq_products_sku'"),
            Some("uq_products_sku")
        );
        assert_eq!(
            key_in_message("Duplicate entry 'a for key 'b' for key 'PRIMARY'"),
            Some("PRIMARY")
        );
        assert_eq!(key_in_message("Deadlock found"), None);
    }
}
