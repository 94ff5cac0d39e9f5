use serde_json::{json, Value};
use utoipa::OpenApi;

use crate::helpers::spawn_app;

#[tokio::test]
async fn domain_metrics_count_what_happened() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 2).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 2}]});
    let res = app.post_order(&body, Some("m-1")).await;
    let order: Value = res.json().await.expect("json");
    let id = order["id"].as_u64().expect("id");
    app.post_order(&body, Some("m-1")).await; // replay
    app.post_order(&body, None).await; // no stock left
    app.confirm(id, Some("m-2")).await;
    app.cancel(id, None).await;
    let text = app.metrics().await;
    for expected in [
        "orders_created_total{service=\"orders-api\"} 1",
        "orders_confirmed_total{service=\"orders-api\"} 1",
        "orders_canceled_total{service=\"orders-api\"} 1",
        "idempotent_replays_total{service=\"orders-api\"} 1",
        "stock_conflicts_total{service=\"orders-api\"} 1",
        r#"http_requests_total{method="POST",route="/orders",status="409",service="orders-api"} 1"#,
    ] {
        assert!(text.contains(expected), "missing {expected}\n{text}");
    }
}

#[tokio::test]
async fn served_openapi_is_the_generated_one_and_swagger_ui_works_offline() {
    let app = spawn_app().await;
    let served: Value = serde_json::from_str(&app.get_text("/openapi.json").await.1).expect("json");
    assert_eq!(
        served,
        serde_json::to_value(orders_api::openapi::ApiDoc::openapi()).expect("json")
    );
    for (path, method) in [
        ("/products", "post"),
        ("/products", "get"),
        ("/products/{id}", "get"),
        ("/products/{id}", "patch"),
        ("/orders", "post"),
        ("/orders", "get"),
        ("/orders/{id}", "get"),
        ("/orders/{id}/confirm", "post"),
        ("/orders/{id}/cancel", "post"),
    ] {
        assert!(
            served["paths"][path][method].is_object(),
            "{method} {path} undocumented"
        );
    }
    let html = app
        .client
        .get(app.url("/docs/"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("html");
    assert!(html.contains("swagger-ui") && !html.contains("https://"));
    for path in ["/health", "/ready"] {
        assert_eq!(
            app.client
                .get(app.url(path))
                .send()
                .await
                .expect("sent")
                .status(),
            200
        );
    }
}

/// The label sets of `http_requests_total` in a `/metrics` text.
fn request_series(text: &str) -> std::collections::BTreeSet<String> {
    text.lines()
        .filter(|l| l.starts_with("http_requests_total{"))
        .filter_map(|l| l.split_once('}').map(|(labels, _)| labels.to_owned()))
        .collect()
}

#[tokio::test]
async fn made_up_methods_cannot_grow_the_metric_labels() {
    let app = spawn_app().await;
    // One made-up method first, so that its OTHER series exists.
    let send = |i: usize| {
        let method = reqwest::Method::from_bytes(format!("M{i}{}", "X".repeat(2048)).as_bytes())
            .expect("a token is a method");
        app.client.request(method, app.url("/health")).send()
    };
    send(0).await.expect("sent");
    let before = request_series(&app.metrics().await);
    assert!(
        before.iter().any(|s| s.contains(r#"method="OTHER""#)),
        "{before:?}"
    );
    for i in 1..=50 {
        let res = send(i).await.expect("sent");
        assert!(res.status().is_client_error(), "{}", res.status());
    }
    let text = app.metrics().await;
    let after = request_series(&text);
    let new: Vec<_> = after.difference(&before).collect();
    assert!(
        new.iter().all(|s| s.contains(r#"route="/metrics""#)),
        "new series: {new:?}"
    );
    assert!(!text.contains("XXXX"), "a raw method reached the labels");
}
