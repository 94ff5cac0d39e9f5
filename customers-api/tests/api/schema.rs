//! `db/schema.sql` (what a fresh MySQL loads at init) and the migrations (what
//! the service applies at start) must describe the same tables.

use kit_testing::{assert_schema_matches_migrations, database_with};
use serde_json::Value;

use crate::helpers::{spawn_app_on, SERVICE_TOKEN};

const SCHEMA: &str = include_str!("../../../db/schema.sql");
const SEED: &str = include_str!("../../../db/seed.sql");

/// The tables this service's migrations create.
const OWN_TABLES: &[&str] = &["customers"];

#[tokio::test]
async fn schema_sql_and_migrations_agree() {
    assert_schema_matches_migrations(SCHEMA, sqlx::migrate!("./migrations"), OWN_TABLES).await;
}

#[tokio::test]
async fn the_service_starts_on_a_seeded_database_and_serves_the_seed() {
    let db = database_with(&[SCHEMA, SEED]).await;
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
