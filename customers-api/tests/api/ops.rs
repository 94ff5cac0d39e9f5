use std::net::TcpListener;

use customers_api::startup;
use serde_json::Value;
use sqlx::mysql::MySqlPoolOptions;

use crate::helpers::{assert_problem, customer_body, settings, spawn_app};

#[tokio::test]
async fn health_and_ready() {
    let app = spawn_app().await;
    for (path, expected) in [("/health", "ok"), ("/ready", "ready")] {
        let (status, text) = app.get_text(path).await;
        assert_eq!(status, 200, "{path}");
        let body: Value = serde_json::from_str(&text).expect("json");
        assert_eq!(body["status"], expected, "{path}");
    }
}

#[tokio::test]
async fn ready_is_503_when_the_database_is_unreachable() {
    let db = kit_testing::TestDatabase::create().await;
    // A port nothing listens on.
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead_port = closed.local_addr().expect("addr").port();
    drop(closed);
    let pool = MySqlPoolOptions::new()
        .acquire_timeout(std::time::Duration::from_millis(500))
        .connect_lazy(&format!("mysql://root@127.0.0.1:{dead_port}/x"))
        .expect("lazy pool");
    let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
    let port = listener.local_addr().expect("addr").port();
    let server = startup::run(listener, pool, &settings(&db))
        .await
        .expect("server");
    tokio::spawn(server);
    let client = reqwest::Client::new();
    let res = client
        .get(format!("http://127.0.0.1:{port}/ready"))
        .send()
        .await
        .expect("sent");
    let body = assert_problem(res, 503, "not_ready").await;
    assert!(
        !body["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("127.0.0.1"),
        "no internals: {body}"
    );
    let res = client
        .get(format!("http://127.0.0.1:{port}/health"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200, "alive even when the database is not");
}

#[tokio::test]
async fn metrics_count_requests_by_route_and_status_and_domain_events() {
    let app = spawn_app().await;
    let created = app.create_customer("ACME", "ops@acme.com").await;
    let id = created["id"].as_u64().expect("id");
    app.post_customer(&customer_body("Dup", "ops@acme.com"))
        .await;
    app.get_customer(id).await;
    app.delete_customer(id).await;
    let text = app.metrics().await;
    for expected in [
        r#"http_requests_total{method="POST",route="/customers",status="201",service="customers-api"} 1"#,
        r#"http_requests_total{method="POST",route="/customers",status="409",service="customers-api"} 1"#,
        r#"http_requests_total{method="GET",route="/customers/{id}",status="200",service="customers-api"} 1"#,
        r#"customers_created_total{service="customers-api"} 1"#,
        r#"customers_deleted_total{service="customers-api"} 1"#,
        r#"http_request_duration_seconds_bucket{method="DELETE",route="/customers/{id}",status="204",service="customers-api",le="+Inf"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected}\n{text}");
    }
}

#[tokio::test]
async fn correlation_ids_are_echoed_or_generated() {
    let app = spawn_app().await;
    let res = app
        .client
        .get(app.url("/customers/77"))
        .bearer_auth(&app.token)
        .header(contracts::headers::CORRELATION_ID, "req-001")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.headers()[contracts::headers::CORRELATION_ID], "req-001");
    let body = assert_problem(res, 404, "customer_not_found").await;
    assert_eq!(body["correlation_id"], "req-001");

    let res = app
        .client
        .get(app.url("/health"))
        .send()
        .await
        .expect("sent");
    let generated = res.headers()[contracts::headers::CORRELATION_ID]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert!(uuid::Uuid::parse_str(&generated).is_ok(), "{generated}");

    // Unusable ids (too long) are replaced, not echoed.
    let res = app
        .client
        .get(app.url("/health"))
        .header(contracts::headers::CORRELATION_ID, "x".repeat(500))
        .send()
        .await
        .expect("sent");
    let replaced = res.headers()[contracts::headers::CORRELATION_ID]
        .to_str()
        .expect("ascii");
    assert!(uuid::Uuid::parse_str(replaced).is_ok());
}

#[tokio::test]
async fn swagger_ui_is_served_without_internet() {
    let app = spawn_app().await;
    let res = app.client.get(app.url("/docs")).send().await.expect("sent");
    assert_eq!(res.status(), 308);
    assert_eq!(res.headers()[reqwest::header::LOCATION], "/docs/");
    let res = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    let html = res.text().await.expect("html");
    assert!(html.contains("swagger-ui"), "{html}");
    // The assets come from the binary, not from a CDN.
    assert!(!html.contains("https://"), "{html}");
    for asset in [
        "/docs/swagger-ui.css",
        "/docs/swagger-ui-bundle.js",
        "/docs/swagger-initializer.js",
    ] {
        let res = app.client.get(app.url(asset)).send().await.expect("sent");
        assert_eq!(res.status(), 200, "{asset}");
    }
    let init = app
        .client
        .get(app.url("/docs/swagger-initializer.js"))
        .send()
        .await
        .expect("sent");
    assert!(init.text().await.expect("js").contains("/openapi.json"));
}

#[tokio::test]
async fn the_binary_healthcheck_reports_the_service_state() {
    let app = spawn_app().await;
    let port = app
        .address
        .rsplit(':')
        .next()
        .unwrap_or_default()
        .to_owned();
    let run = |port: &str| {
        std::process::Command::new(env!("CARGO_BIN_EXE_customers-api"))
            .arg("healthcheck")
            .env("PORT", port)
            .status()
            .expect("runs")
    };
    assert!(run(&port).success());
    let closed = TcpListener::bind("127.0.0.1:0").expect("bind");
    let dead = closed.local_addr().expect("addr").port().to_string();
    drop(closed);
    assert!(!run(&dead).success());
}

/// The console's origin may call from a browser (preflight allowed, the
/// answer's `ETag` and correlation id readable); any other origin gets no
/// CORS grant, and callers without an `Origin` are served as before.
#[tokio::test]
async fn cors_grants_only_the_configured_origins() {
    const CONSOLE: &str = "http://console.test:3003";
    let app = crate::helpers::spawn_app_with(|s| s.cors_origins = vec![CONSOLE.into()]).await;
    let preflight = |origin: &'static str| {
        app.client
            .request(reqwest::Method::OPTIONS, app.url("/customers/1"))
            .header("Origin", origin)
            .header("Access-Control-Request-Method", "PUT")
            .header(
                "Access-Control-Request-Headers",
                "authorization,content-type,if-match,idempotency-key",
            )
            .send()
    };
    let ok = preflight(CONSOLE).await.expect("preflight");
    assert!(ok.status().is_success(), "{}", ok.status());
    let h = ok.headers();
    assert_eq!(h["access-control-allow-origin"], CONSOLE);
    let methods = h["access-control-allow-methods"].to_str().unwrap_or("");
    assert!(
        methods.contains("PUT") && methods.contains("DELETE"),
        "{methods}"
    );
    let other = preflight("http://evil.test").await.expect("preflight");
    assert!(other.headers().get("access-control-allow-origin").is_none());

    let created = app.create_customer("Cors Test", "cors@example.com").await;
    let res = app
        .authed(
            reqwest::Method::GET,
            &format!("/customers/{}", created["id"]),
        )
        .header("Origin", CONSOLE)
        .send()
        .await
        .expect("get");
    assert_eq!(res.status(), 200);
    assert_eq!(res.headers()["access-control-allow-origin"], CONSOLE);
    let exposed = res.headers()["access-control-expose-headers"]
        .to_str()
        .unwrap_or("")
        .to_ascii_lowercase();
    for name in [
        reqwest::header::ETAG.as_str(),
        contracts::headers::CORRELATION_ID,
        contracts::headers::IDEMPOTENT_REPLAYED,
    ] {
        assert!(exposed.contains(name), "{name} in {exposed}");
    }
    let elsewhere = app
        .authed(
            reqwest::Method::GET,
            &format!("/customers/{}", created["id"]),
        )
        .header("Origin", "http://evil.test")
        .send()
        .await
        .expect("get");
    assert_eq!(elsewhere.status(), 200, "served; the browser withholds it");
    assert!(elsewhere
        .headers()
        .get("access-control-allow-origin")
        .is_none());
}

#[test]
fn cors_origins_must_be_exact_origins() {
    let ok = kit_runtime::config::origins(" http://localhost:3003, https://x.example.com ");
    assert_eq!(
        ok.ok(),
        Some(vec![
            "http://localhost:3003".to_owned(),
            "https://x.example.com".to_owned()
        ])
    );
    for bad in [
        "*",
        "localhost:3003",
        "http://x/console",
        "https://*.example.com",
        "http://",
    ] {
        assert!(kit_runtime::config::origins(bad).is_err(), "{bad}");
    }
}
