//! Every business route refuses missing, expired, forged and unsigned
//! tokens, and every route answers each role as the SPEC's table says.

use reqwest::Method;
use serde_json::{json, Value};
use service_kit::testing::{mint_token, unsigned_token};

use crate::helpers::{
    assert_problem, customer_body, spawn_app, spawn_app_with, TestApp, JWT_SECRET,
};

/// Every business route, with a body where it takes one.
fn business_routes(id: u64) -> Vec<(Method, String, Option<Value>)> {
    vec![
        (
            Method::POST,
            "/customers".into(),
            Some(customer_body("M", "m@example.com")),
        ),
        (Method::GET, "/customers".into(), None),
        (Method::GET, format!("/customers/{id}"), None),
        (
            Method::PUT,
            format!("/customers/{id}"),
            Some(customer_body("M", "m@example.com")),
        ),
        (Method::DELETE, format!("/customers/{id}"), None),
    ]
}

async fn assert_all_refused(app: &TestApp, id: u64, authorization: Option<String>, code: &str) {
    for (method, path, body) in business_routes(id) {
        let mut req = app.client.request(method.clone(), app.url(&path));
        if let Some(value) = &authorization {
            req = req.header("authorization", value);
        }
        if let Some(body) = &body {
            req = req.json(body);
        }
        let res = req.send().await.expect("sent");
        let www = res.headers().get("www-authenticate").cloned();
        assert_problem(res, 401, code).await;
        assert!(
            www.is_some_and(|v| v.to_str().is_ok_and(|v| v.starts_with("Bearer"))),
            "{method} {path}"
        );
    }
}

#[tokio::test]
async fn business_routes_refuse_bad_credentials_and_write_nothing() {
    let app = spawn_app().await;
    let victim = app.create_customer("ACME", "ops@acme.com").await;
    let id = victim["id"].as_u64().expect("id");

    assert_all_refused(&app, id, None, "unauthorized").await;
    assert_all_refused(&app, id, Some("Basic dXNlcjpwYXNz".into()), "unauthorized").await;
    assert_all_refused(&app, id, Some("Bearer".into()), "unauthorized").await;
    let expired = mint_token(JWT_SECRET, "tester", -120, json!({}));
    assert_all_refused(&app, id, Some(format!("Bearer {expired}")), "invalid_token").await;
    let forged = mint_token("another-secret-0123456789abcdef", "tester", 600, json!({}));
    assert_all_refused(&app, id, Some(format!("Bearer {forged}")), "invalid_token").await;
    assert_all_refused(
        &app,
        id,
        Some(format!("Bearer {}", unsigned_token("mallory"))),
        "invalid_token",
    )
    .await;
    assert_all_refused(&app, id, Some("Bearer not.a.jwt".into()), "invalid_token").await;

    assert_eq!(app.customer_rows().await, 1);
    let fetched: Value = app.get_customer(id).await.json().await.expect("json");
    assert_eq!(fetched, victim, "nothing was changed or deleted");
}

#[tokio::test]
async fn issuer_and_audience_are_checked_when_configured() {
    let app = spawn_app_with(|s| {
        s.auth.jwt_issuer = Some("back-office".into());
        s.auth.jwt_audience = Some("customers".into());
    })
    .await;
    let id = 1;
    let plain = mint_token(JWT_SECRET, "tester", 600, json!({}));
    assert_all_refused(&app, id, Some(format!("Bearer {plain}")), "invalid_token").await;
    let wrong = mint_token(
        JWT_SECRET,
        "tester",
        600,
        json!({"iss": "elsewhere", "aud": "customers"}),
    );
    assert_all_refused(&app, id, Some(format!("Bearer {wrong}")), "invalid_token").await;
    let good = mint_token(
        JWT_SECRET,
        "tester",
        600,
        json!({"iss": "back-office", "aud": "customers"}),
    );
    let res = app
        .client
        .get(app.url("/customers"))
        .bearer_auth(good)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_spec_says() {
    let app = spawn_app().await;
    let checked = service_kit::testing::access::walk(&app).await;
    // 6 user routes × 14 callers (no token, 5 bad tokens, 5 roles, every
    // other scope, the route's alone, a service token), 1 service route × 9
    // (no token, 5 bad tokens, 2 services, an admin), 3 open routes.
    assert_eq!(checked, 6 * 14 + 9 + 3);
    assert_eq!(app.customer_rows().await, 0, "the walk changes nothing");
}

#[tokio::test]
async fn ops_endpoints_need_no_token() {
    let app = spawn_app().await;
    for path in ["/health", "/ready", "/metrics", "/openapi.json"] {
        let res = app.client.get(app.url(path)).send().await.expect("sent");
        assert_eq!(res.status(), 200, "{path}");
    }
}

#[tokio::test]
async fn the_dev_token_script_mints_tokens_the_service_accepts() {
    let app = spawn_app().await;
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/mint-token.sh");
    let mint = |scope: &str, role: &str| {
        let out = std::process::Command::new("bash")
            .arg(script)
            .args(["script-user", "60"])
            .env("JWT_SECRET", JWT_SECRET)
            .env("SCOPE", scope)
            .env("ROLE", role)
            .env("JWT_ISSUER", service_kit::testing::TEST_ISSUER)
            .env("JWT_AUDIENCE", service_kit::testing::TEST_AUDIENCE)
            .output()
            .expect("the script runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout)
            .expect("utf8")
            .trim()
            .to_owned()
    };
    let status = |token: String| {
        let req = app.client.get(app.url("/customers")).bearer_auth(token);
        async move { req.send().await.expect("sent").status().as_u16() }
    };
    // Neither SCOPE nor ROLE: an admin.
    assert_eq!(status(mint("", "")).await, 200);
    assert_eq!(status(mint("customers:read", "")).await, 200);
    assert_eq!(status(mint("", "viewer")).await, 200);
    assert_eq!(status(mint("catalog:read orders:read", "")).await, 403);
    assert_eq!(status(mint("", "catalog-manager,nobody")).await, 200);
}
