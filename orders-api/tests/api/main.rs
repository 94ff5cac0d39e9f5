//! Black-box tests: each spawns the real orders-api (and, unless the test is
//! about its failure, the real customers-api) on port 0 against a fresh
//! database on the server of `TEST_DATABASE_URL`.

mod bad_input;
mod callers;
mod concurrency;
mod config;
mod events;
mod helpers;
mod idempotency;
mod invariant;
mod migrate;
mod ops;
mod orders;
mod pool;
mod products;
mod schema;
mod shutdown;
mod sweeper;

/// Settings for a customers-api beside the orders-api under test.
fn helpers_settings(db: &kit_testing::TestDatabase) -> kit_runtime::config::HttpSettings {
    helpers::http_settings(db)
}

const COMMITTED_OPENAPI: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");

/// `openapi.yaml` is the document the code generates (`make openapi` rewrites it).
#[test]
fn committed_openapi_yaml_matches_the_code() {
    let generated = orders_api::openapi::yaml().expect("yaml");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(COMMITTED_OPENAPI, &generated).expect("write openapi.yaml");
    }
    let committed = std::fs::read_to_string(COMMITTED_OPENAPI).unwrap_or_default();
    assert!(
        committed == generated,
        "orders-api/openapi.yaml is stale: run `make openapi` and commit it"
    );
}
