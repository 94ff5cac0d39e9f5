//! `db/schema.sql` and orders-api's migrations describe the same tables.

use serde_json::Value;
use service_kit::testing::TestDatabase;
use sqlx::{mysql::MySqlPoolOptions, MySqlPool, Row};

const SCHEMA: &str = include_str!("../../../db/schema.sql");
const SEED: &str = include_str!("../../../db/seed.sql");
const OWN_TABLES: &[&str] = &["products", "orders", "order_items", "idempotency_keys"];

async fn pool(db: &TestDatabase) -> MySqlPool {
    MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .expect("connect")
}

async fn create_table(pool: &MySqlPool, table: &str) -> String {
    let row = sqlx::query(&format!("SHOW CREATE TABLE `{table}`"))
        .fetch_one(pool)
        .await
        .expect("table exists");
    let ddl: String = row.try_get(1).expect("ddl");
    ddl.split_whitespace()
        .filter(|w| !w.starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" ")
}

#[tokio::test]
async fn schema_sql_and_migrations_agree() {
    let from_schema = TestDatabase::create().await;
    let from_migrations = TestDatabase::create().await;
    let (a, b) = (pool(&from_schema).await, pool(&from_migrations).await);
    sqlx::raw_sql(SCHEMA)
        .execute(&a)
        .await
        .expect("schema.sql loads");
    service_kit::db::migrate(&b, sqlx::migrate!("./migrations"))
        .await
        .expect("migrations apply");
    for table in OWN_TABLES {
        assert_eq!(
            create_table(&a, table).await,
            create_table(&b, table).await,
            "table {table}"
        );
    }
    service_kit::db::migrate(&a, sqlx::migrate!("./migrations"))
        .await
        .expect("migrations apply over schema.sql");
    for table in OWN_TABLES {
        assert_eq!(
            create_table(&a, table).await,
            create_table(&b, table).await,
            "table {table} after migrating"
        );
    }
}

#[tokio::test]
async fn the_seed_can_be_ordered_from() {
    let db = TestDatabase::create().await;
    let p = pool(&db).await;
    sqlx::raw_sql(SCHEMA)
        .execute(&p)
        .await
        .expect("schema.sql loads");
    sqlx::raw_sql(SEED)
        .execute(&p)
        .await
        .expect("seed.sql loads");
    let customers = customers_api::startup::Application::build(crate::helpers_settings(&db))
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
