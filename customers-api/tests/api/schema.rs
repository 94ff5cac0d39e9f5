//! `db/schema.sql` (what a fresh MySQL loads at init) and the migrations (what
//! the service applies at start) must describe the same tables.

use serde_json::Value;
use service_kit::testing::TestDatabase;
use sqlx::{mysql::MySqlPoolOptions, MySqlPool, Row};

use crate::helpers::{spawn_app_on, SERVICE_TOKEN};

const SCHEMA: &str = include_str!("../../../db/schema.sql");
const SEED: &str = include_str!("../../../db/seed.sql");

/// The tables this service's migrations create.
const OWN_TABLES: &[&str] = &["customers"];

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
    // The AUTO_INCREMENT counter is data, not schema.
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
    // What compose does: schema.sql at init, then the service's migrations at start.
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
async fn the_service_starts_on_a_seeded_database_and_serves_the_seed() {
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
    let app = spawn_app_on(db, |_| {}).await;
    let res = app.get_internal(1, Some(SERVICE_TOKEN)).await;
    assert_eq!(res.status(), 200);
    let acme: Value = res.json().await.expect("json");
    assert_eq!(acme["name"], "ACME");
    assert_eq!(acme["email"], "ops@acme.com");
    assert_eq!(acme["phone"], "+51987654321");
    let listed: Value = app
        .list_customers("?search=globex")
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(listed["data"][0]["name"], "Globex");
    // The seed's emails are taken, as any other.
    let dup = app
        .post_customer(&crate::helpers::customer_body("Copy", "OPS@acme.com"))
        .await;
    assert_eq!(dup.status(), 409);
}
