use serde_json::Value;
use utoipa::OpenApi;

use crate::helpers::spawn_app;

const COMMITTED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/openapi.yaml");

/// `openapi.yaml` is the document the code generates. Run with
/// `UPDATE_OPENAPI=1` to rewrite it after changing the API.
#[test]
fn committed_openapi_yaml_matches_the_code() {
    let generated = customers_api::openapi::yaml().expect("yaml");
    if std::env::var("UPDATE_OPENAPI").is_ok() {
        std::fs::write(COMMITTED, &generated).expect("write openapi.yaml");
    }
    let committed = std::fs::read_to_string(COMMITTED).unwrap_or_default();
    assert!(
        committed == generated,
        "customers-api/openapi.yaml is stale: run `make openapi` and commit it"
    );
}

#[tokio::test]
async fn served_document_is_the_generated_one_and_documents_every_route() {
    let app = spawn_app().await;
    let served: Value = serde_json::from_str(&app.get_text("/openapi.json").await.1).expect("json");
    let generated = serde_json::to_value(customers_api::openapi::ApiDoc::openapi()).expect("json");
    assert_eq!(served, generated);
    assert!(served["openapi"]
        .as_str()
        .is_some_and(|v| v.starts_with("3.")));
    for (path, method) in [
        ("/customers", "post"),
        ("/customers", "get"),
        ("/customers/{id}", "get"),
        ("/customers/{id}", "put"),
        ("/customers/{id}", "delete"),
        ("/internal/customers/{id}", "get"),
        ("/health", "get"),
        ("/ready", "get"),
        ("/metrics", "get"),
    ] {
        assert!(
            served["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    assert_eq!(
        served["paths"]["/internal/customers/{id}"]["get"]["security"][0]["service_token"],
        serde_json::json!([])
    );
}
