//! `db/schema.sql` and orders-api's migrations describe the same tables.

use kit_testing::{assert_schema_matches_migrations, database_with};
use serde_json::Value;

const SCHEMA: &str = include_str!("../../../db/schema.sql");
const SEED: &str = include_str!("../../../db/seed.sql");
const OWN_TABLES: &[&str] = &["products", "orders", "order_items", "idempotency_keys"];

#[tokio::test]
async fn schema_sql_and_migrations_agree() {
    assert_schema_matches_migrations(SCHEMA, sqlx::migrate!("./migrations"), OWN_TABLES).await;
}

#[tokio::test]
async fn the_seed_can_be_ordered_from() {
    let db = database_with(&[SCHEMA, SEED]).await;
    let customers = customers_api::startup::build(crate::helpers_settings(&db))
        .await
        .expect("starts");
    let base = format!("http://127.0.0.1:{}", customers.port());
    tokio::spawn(customers.run_until_stopped());
    let app = crate::helpers::spawn_orders(db, &base, |_| {}).await;
    let res = app
        .post_order(
            &serde_json::json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 3}]}),
            None,
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("json");
    assert_eq!(order["total_cents"], 8970);
    assert_eq!(order["items"][0]["unit_price_cents"], 2990);
    assert_eq!(app.stock(2).await, 97);
}

/// MariaDB answers `GET_LOCK(name, -1)` with NULL at once instead of waiting,
/// so sqlx's own migration lock does not hold there: this races replicas of
/// both services on fresh databases.
#[tokio::test]
async fn services_and_replicas_migrating_one_database_at_once_do_not_collide() {
    for _ in 0..10 {
        let db = kit_testing::TestDatabase::create().await;
        let runs = (0..4).map(|i| {
            let url = db.url.clone();
            async move {
                let pool = sqlx::MySqlPool::connect(&url).await.expect("pool");
                let mut migrator = if i % 2 == 0 {
                    sqlx::migrate!("../customers-api/migrations")
                } else {
                    sqlx::migrate!("./migrations")
                };
                kit_server::db::migrate(&pool, &mut migrator).await
            }
        });
        for result in futures_util::future::join_all(runs).await {
            result.expect("migrates");
        }
    }
}

/// `orders-api seed` loads the sample data once, into a database whose
/// customers table exists (customers-api made it), and refuses otherwise.
#[test]
fn the_seed_command_loads_the_sample_data_once() {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let seed = |url: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_orders-api"))
            .arg("seed")
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .env("DATABASE_URL", url)
            .output()
            .expect("runs")
    };
    // Without customers-api's table: a clear refusal.
    let empty = rt.block_on(kit_testing::TestDatabase::create());
    let out = seed(&empty.url);
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stdout).contains("start customers-api once"));

    let db = rt.block_on(async {
        let db = kit_testing::TestDatabase::create().await;
        let pool = sqlx::MySqlPool::connect(&db.url).await.expect("pool");
        kit_server::db::migrate(&pool, &mut sqlx::migrate!("../customers-api/migrations"))
            .await
            .expect("customers-api's migrations");
        db
    });
    for _ in 0..2 {
        let out = seed(&db.url);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stdout)
        );
    }
    let counts: (i64, i64) = rt.block_on(async {
        let pool = sqlx::MySqlPool::connect(&db.url).await.expect("pool");
        sqlx::query_as("SELECT (SELECT COUNT(*) FROM customers), (SELECT COUNT(*) FROM products)")
            .fetch_one(&pool)
            .await
            .expect("counts")
    });
    assert_eq!(counts, (2, 3), "loaded once");
}
