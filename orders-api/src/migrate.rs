//! `orders-api migrate [--seed]`: the schema and the services' database
//! users, applied by the database's admin, once per deploy. In AWS it runs
//! as a one-shot ECS task of this image (the deploy script starts it): the
//! services themselves then start with `MIGRATE_ON_START=false`, as users
//! that may read and write their own tables and nothing else.
//!
//! It applies both services' migrations (customers-api's and orders-api's,
//! which share one database and one `_sqlx_migrations` table), then, for
//! each service user given, creates the user or resets its password to the
//! given one, takes every privilege away and grants `SELECT, INSERT,
//! UPDATE, DELETE` on that service's tables only: no DDL, no other
//! service's tables. With `--seed` it loads the sample data (once).

use anyhow::{anyhow, Context};
use kit_runtime::config::{self, DbParts};
use kit_server::db;
use sqlx::{migrate::Migrator, Connection, MySqlConnection, MySqlPool};

use crate::seed::{self, Seeded};

/// The tables each service reads and writes. Every table the migrations
/// create belongs to exactly one service (`migrate` refuses a table that
/// belongs to none, and a test checks the lists against the migrations).
pub const CUSTOMERS_TABLES: &[&str] = &["customers", "customer_events"];
pub const ORDERS_TABLES: &[&str] = &[
    "products",
    "orders",
    "order_items",
    "idempotency_keys",
    "order_events",
    "product_events",
];

/// customers-api's migrations.
pub fn customers_migrator() -> Migrator {
    sqlx::migrate!("../customers-api/migrations")
}

/// orders-api's migrations.
pub fn orders_migrator() -> Migrator {
    sqlx::migrate!("./migrations")
}

/// A service's database user.
#[derive(Clone)]
pub struct ServiceUser {
    pub user: String,
    pub password: String,
    pub tables: &'static [&'static str],
}

impl std::fmt::Debug for ServiceUser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ServiceUser")
            .field("user", &self.user)
            .field("password", &"<redacted>")
            .field("tables", &self.tables)
            .finish()
    }
}

impl ServiceUser {
    pub fn new(
        user: String,
        password: String,
        tables: &'static [&'static str],
    ) -> anyhow::Result<Self> {
        if !config::is_identifier(&user) || user.len() > 32 {
            return Err(anyhow!("a service user must be 1 to 32 of A-Z a-z 0-9 _"));
        }
        // The password goes into CREATE USER as a literal: letters and digits
        // only (Secrets Manager generates them so), nothing to escape.
        if password.len() < 16 || !password.chars().all(|c| c.is_ascii_alphanumeric()) {
            return Err(anyhow!(
                "the password of {user} must be 16 or more letters and digits"
            ));
        }
        Ok(Self {
            user,
            password,
            tables,
        })
    }
}

/// What `migrate` was asked to do.
#[derive(Debug)]
pub struct Plan {
    /// The admin's connection: `DATABASE_URL`, or the `DB_*` parts (then the
    /// database is created when missing).
    pub admin_url: String,
    pub create_database: Option<DbParts>,
    pub users: Vec<ServiceUser>,
    pub seed: bool,
}

impl Plan {
    /// From the environment: the admin's database as a service's
    /// (`DATABASE_URL` or `DB_*`), `CUSTOMERS_DB_USER` +
    /// `CUSTOMERS_DB_PASSWORD` and `ORDERS_DB_USER` + `ORDERS_DB_PASSWORD`
    /// (all four, or none: then no user is touched), and `--seed`.
    pub fn from_env(args: &[String]) -> anyhow::Result<Self> {
        let seed = match args {
            [] => false,
            [flag] if flag == "--seed" => true,
            _ => return Err(anyhow!("usage: orders-api migrate [--seed]")),
        };
        let (admin_url, create_database) = match config::optional("DATABASE_URL") {
            Some(url) => (url, None),
            None => {
                let parts = DbParts::from_env().context(
                    "the database is not configured (DATABASE_URL, or DB_HOST and the other DB_* variables)",
                )?;
                (parts.url(), Some(parts))
            }
        };
        let users = match (
            config::optional("CUSTOMERS_DB_USER"),
            config::optional("CUSTOMERS_DB_PASSWORD"),
            config::optional("ORDERS_DB_USER"),
            config::optional("ORDERS_DB_PASSWORD"),
        ) {
            (Some(cu), Some(cp), Some(ou), Some(op)) => vec![
                ServiceUser::new(cu, cp, CUSTOMERS_TABLES)?,
                ServiceUser::new(ou, op, ORDERS_TABLES)?,
            ],
            (None, None, None, None) => Vec::new(),
            _ => {
                return Err(anyhow!(
                    "set all of CUSTOMERS_DB_USER, CUSTOMERS_DB_PASSWORD, ORDERS_DB_USER and ORDERS_DB_PASSWORD, or none of them"
                ))
            }
        };
        Ok(Self {
            admin_url,
            create_database,
            users,
            seed,
        })
    }
}

/// What `migrate` did.
#[derive(Debug, PartialEq, Eq)]
pub struct Report {
    pub users: Vec<String>,
    pub seeded: Option<Seeded>,
}

/// Creates the database when asked, applies both services' migrations,
/// provisions the users and seeds when asked.
pub async fn run(plan: &Plan) -> anyhow::Result<Report> {
    if let Some(parts) = &plan.create_database {
        create_database(parts).await?;
    }
    let pool = db::open(&plan.admin_url, 2, None, Some(customers_migrator())).await?;
    db::migrate(&pool, &mut orders_migrator()).await?;
    check_every_table_has_an_owner(&pool).await?;
    let admin: String = sqlx::query_scalar("SELECT SUBSTRING_INDEX(CURRENT_USER(), '@', 1)")
        .fetch_one(&pool)
        .await?;
    for user in &plan.users {
        if user.user == admin {
            return Err(anyhow!(
                "{} is the admin user: a service needs a user of its own",
                user.user
            ));
        }
        provision(&pool, user)
            .await
            .with_context(|| format!("provisioning the database user {}", user.user))?;
        tracing::info!(user = %user.user, tables = ?user.tables, "database user provisioned");
    }
    pool.close().await;
    let seeded = if plan.seed {
        Some(seed::run(&plan.admin_url).await?)
    } else {
        None
    };
    Ok(Report {
        users: plan.users.iter().map(|u| u.user.clone()).collect(),
        seeded,
    })
}

async fn create_database(parts: &DbParts) -> anyhow::Result<()> {
    let mut conn = MySqlConnection::connect(&parts.server_url())
        .await
        .context("connecting to the database server as the admin")?;
    // `parts.name` is checked to be a plain identifier.
    sqlx::raw_sql(&format!(
        "CREATE DATABASE IF NOT EXISTS `{}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci",
        parts.name
    ))
    .execute(&mut conn)
    .await
    .context("creating the database")?;
    let _ = conn.close().await;
    Ok(())
}

/// A table no service owns would be readable by nobody but the admin: that
/// is a missing line in [`CUSTOMERS_TABLES`] or [`ORDERS_TABLES`].
async fn check_every_table_has_an_owner(pool: &MySqlPool) -> anyhow::Result<()> {
    let tables: Vec<String> = sqlx::query_scalar(
        "SELECT CAST(table_name AS CHAR) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name <> '_sqlx_migrations'",
    )
    .fetch_all(pool)
    .await?;
    let orphans: Vec<&String> = tables
        .iter()
        .filter(|t| !CUSTOMERS_TABLES.contains(&t.as_str()) && !ORDERS_TABLES.contains(&t.as_str()))
        .collect();
    if orphans.is_empty() {
        Ok(())
    } else {
        Err(anyhow!("tables no service is granted: {orphans:?}"))
    }
}

async fn provision(pool: &MySqlPool, user: &ServiceUser) -> anyhow::Result<()> {
    // Names and the password are checked (identifier, alphanumeric): they can
    // be written into the statements as they are.
    let account = format!("'{}'@'%'", user.user);
    let mut sql = vec![
        format!(
            "CREATE USER IF NOT EXISTS {account} IDENTIFIED BY '{}'",
            user.password
        ),
        format!("ALTER USER {account} IDENTIFIED BY '{}'", user.password),
        format!("REVOKE ALL PRIVILEGES, GRANT OPTION FROM {account}"),
    ];
    for table in user.tables {
        sql.push(format!(
            "GRANT SELECT, INSERT, UPDATE, DELETE ON `{table}` TO {account}"
        ));
    }
    let mut conn = pool.acquire().await?;
    for statement in sql {
        // The statement holds the password: errors are reported without it.
        let verb = statement.split(' ').take(2).collect::<Vec<_>>().join(" ");
        sqlx::raw_sql(&statement)
            .execute(&mut *conn)
            .await
            .map_err(|e| anyhow!("{verb} failed: {}", db_error_code(&e)))?;
    }
    Ok(())
}

/// The server's error number and state, without its message (which may
/// repeat the statement).
fn db_error_code(e: &sqlx::Error) -> String {
    match e.as_database_error() {
        Some(db) => format!("error {}", db.code().unwrap_or_default()),
        None => e.to_string(),
    }
}
