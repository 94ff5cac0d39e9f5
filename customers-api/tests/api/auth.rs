//! Every business route refuses missing, expired, forged and unsigned
//! tokens, and every route answers each role as the SPEC's table says.

use kit_testing::{mint_token, unsigned_token};
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, customer_body, spawn_app, spawn_app_with, TestApp};

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
        let www = res
            .headers()
            .get(reqwest::header::WWW_AUTHENTICATE)
            .cloned();
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
    let expired = mint_token("tester", -120, json!({}));
    assert_all_refused(&app, id, Some(format!("Bearer {expired}")), "invalid_token").await;
    let forged =
        kit_testing::Forgery::AnotherKey.sign(&kit_testing::claims("tester", 600, json!({})));
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
async fn issuer_and_audience_are_checked_as_configured() {
    let app = spawn_app_with(|s| {
        s.auth.rules.issuer = "back-office".into();
        s.auth.rules.audience = "customers".into();
    })
    .await;
    let id = 1;
    let plain = mint_token("tester", 600, json!({}));
    assert_all_refused(&app, id, Some(format!("Bearer {plain}")), "invalid_token").await;
    let status = |extra: Value| {
        let req = app
            .client
            .get(app.url("/customers"))
            .bearer_auth(mint_token("tester", 600, extra));
        async move { req.send().await.expect("sent").status().as_u16() }
    };
    assert_eq!(
        status(json!({"iss": "elsewhere", "aud": "customers"})).await,
        401
    );
    assert_eq!(
        status(json!({"iss": "back-office", "aud": "orders"})).await,
        401
    );
    assert_eq!(
        status(json!({"iss": "back-office", "aud": "customers"})).await,
        200
    );
    assert_eq!(
        status(json!({"iss": "back-office", "aud": ["x", "customers"]})).await,
        200
    );
    // A Cognito access token names its app client in `client_id`, not `aud`.
    let cognito = |client: &str, token_use: &str| {
        let mut c = kit_testing::claims(
            "tester",
            600,
            json!({"iss": "back-office",
            "client_id": client, "token_use": token_use}),
        );
        c.as_object_mut().map(|m| m.remove("aud"));
        c
    };
    let send = |claims: Value| {
        let req = app
            .client
            .get(app.url("/customers"))
            .bearer_auth(kit_testing::sign_claims(&claims));
        async move { req.send().await.expect("sent").status().as_u16() }
    };
    assert_eq!(send(cognito("customers", "access")).await, 200);
    assert_eq!(send(cognito("another-client", "access")).await, 401);
    // An ID token is for the client that signed in, not for an API.
    assert_eq!(send(cognito("customers", "id")).await, 401);
}

#[tokio::test]
async fn every_route_answers_each_caller_as_the_spec_says() {
    let app = spawn_app().await;
    let checked = kit_testing::access::walk(&app).await;
    // 6 user routes × 18 callers (no token, 9 bad tokens: expired, another
    // audience, another issuer, an ID token and 5 forgeries; 5 roles, every
    // other scope, the route's alone, a service token), 1 service route × 13
    // (no token, 9 bad tokens, 2 services, an admin), 3 open routes.
    assert_eq!(checked, 6 * 18 + 13 + 3);
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

/// `make setup`'s local issuer (scripts/dev-keys.sh) and `make token`
/// (scripts/mint-token.sh): the service, given only the key set, accepts
/// what the script signs; after a rotation both keys' tokens, after the
/// old key is retired only the new one's.
#[tokio::test]
async fn the_dev_token_script_mints_tokens_the_service_accepts() {
    let scripts = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts");
    let dir = std::env::temp_dir().join(format!("dev-keys-{}", uuid::Uuid::new_v4().simple()));
    let keys = |arg: &str| {
        let mut cmd = std::process::Command::new("bash");
        cmd.arg(format!("{scripts}/dev-keys.sh"))
            .env("DEV_KEYS_DIR", &dir);
        if !arg.is_empty() {
            cmd.arg(arg);
        }
        let out = cmd.output().expect("dev-keys.sh runs");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    keys("");
    let jwks = dir.join("jwks.json");
    let app = spawn_app_with(|s| {
        s.auth.jwks = kit_identity::jwks::Source::File(jwks.clone());
    })
    .await;
    let mint = |scope: &str, role: &str| {
        let out = std::process::Command::new("bash")
            .arg(format!("{scripts}/mint-token.sh"))
            .args(["script-user", "60"])
            .env("DEV_KEYS_DIR", &dir)
            .env("SCOPE", scope)
            .env("ROLE", role)
            .env("JWT_ISSUER", kit_testing::TEST_ISSUER)
            .env("JWT_AUDIENCE", kit_testing::TEST_AUDIENCE)
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
    // The test issuer's tokens are not this one's.
    assert_eq!(status(app.token.clone()).await, 401);
    // Rotation: a new key signs; the old one's tokens hold until retired.
    let old = mint("", "");
    keys("--rotate");
    let new = mint("", "");
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await; // the test services' floor
    assert_eq!(
        status(new.clone()).await,
        200,
        "the new key, after one refresh"
    );
    assert_eq!(
        status(old.clone()).await,
        200,
        "the old key is still published"
    );
    keys("--retire");
    // The key set is read again when a token names a key it lacks, at most
    // once per refresh floor: a token of a kid never seen makes it reload.
    tokio::time::sleep(std::time::Duration::from_millis(1100)).await;
    assert_eq!(status(new.clone()).await, 200);
    let stranger = kit_testing::Forgery::UnknownKid.sign(&kit_testing::claims("x", 60, json!({})));
    assert_eq!(status(stranger).await, 401);
    assert_eq!(status(old).await, 401, "retired: refused");
    assert_eq!(status(new).await, 200);
    let _ = std::fs::remove_dir_all(&dir);
}
