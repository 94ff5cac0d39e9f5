//! `orders-api seed`: loads the sample data of `db/seed.sql` (customers ACME
//! and Globex, products SKU001..SKU003) into the database of `DATABASE_URL`,
//! once. Built into the image so that it runs where the database is
//! reachable: in AWS, as a one-shot ECS task of the service's own task
//! definition (`make seed-aws`).

use anyhow::{anyhow, Context};
use kit_server::db;

const SEED: &str = include_str!("../../db/seed.sql");

/// What `seed` did.
#[derive(Debug, PartialEq, Eq)]
pub enum Seeded {
    Loaded,
    /// The tables hold data already: nothing was written.
    AlreadyThere,
}

/// Applies orders-api's migrations, checks that customers-api has created
/// its table, and loads the seed if both tables are empty.
pub async fn run(database_url: &str) -> anyhow::Result<Seeded> {
    let pool = db::open(database_url, 2, None, Some(sqlx::migrate!("./migrations"))).await?;
    let customers_table: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM information_schema.tables WHERE table_schema = DATABASE() AND table_name = 'customers'",
    )
    .fetch_one(&pool)
    .await?;
    if customers_table == 0 {
        return Err(anyhow!(
            "the customers table does not exist yet: start customers-api once (it creates it), then seed"
        ));
    }
    let rows: i64 = sqlx::query_scalar(
        "SELECT (SELECT COUNT(*) FROM customers) + (SELECT COUNT(*) FROM products)",
    )
    .fetch_one(&pool)
    .await?;
    if rows > 0 {
        return Ok(Seeded::AlreadyThere);
    }
    let mut tx = pool.begin().await?;
    sqlx::raw_sql(SEED)
        .execute(&mut *tx)
        .await
        .context("loading db/seed.sql")?;
    tx.commit().await?;
    Ok(Seeded::Loaded)
}
