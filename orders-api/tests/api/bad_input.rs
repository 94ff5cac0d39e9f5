//! Bad input and bad credentials: a 4xx problem document, never a 5xx, nothing written.

use kit_testing::{mint_token, unsigned_token};
use reqwest::Method;
use serde_json::json;

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn malformed_ids_bodies_and_keys_are_4xx_and_write_nothing() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 5).await;
    let order = app.order(customer, &[(p, 1)]).await;
    for id in ["-1", "abc", "99999999999999999999", "1.5"] {
        for (method, path) in [
            (Method::GET, format!("/products/{id}")),
            (Method::PATCH, format!("/products/{id}")),
            (Method::GET, format!("/orders/{id}")),
            (Method::POST, format!("/orders/{id}/confirm")),
            (Method::POST, format!("/orders/{id}/cancel")),
        ] {
            let res = app
                .authed(method.clone(), &path)
                .header(contracts::headers::IDEMPOTENCY_KEY, "k")
                .json(&json!({"stock": 1}))
                .send()
                .await
                .expect("sent");
            assert_problem(res, 400, "invalid_path").await;
        }
    }
    for body in [
        "{",
        "[]",
        "null",
        r#"{"customer_id": 1, "items": "x"}"#,
        r#"{"customer_id": 99999999999999999999, "items": []}"#,
    ] {
        let res = app
            .authed(Method::POST, "/orders")
            .header("content-type", "application/json")
            .body(body)
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 400, "{body}");
    }
    let mut huge = br#"{"customer_id": 1, "items": ["#.to_vec();
    huge.extend(std::iter::repeat_n(b' ', 10 * 1024 * 1024));
    huge.extend(b"]}");
    let res = app
        .authed(Method::POST, "/orders")
        .header("content-type", "application/json")
        .body(huge)
        .send()
        .await
        .expect("sent");
    assert_problem(res, 413, "payload_too_large").await;
    let res = app
        .authed(Method::POST, "/orders")
        .header(contracts::headers::IDEMPOTENCY_KEY, "a".repeat(300))
        .json(&json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 400, "invalid_idempotency_key").await;
    assert_eq!(app.order_rows().await, 1);
    assert_eq!(app.stock(p).await, 4);
    assert_eq!(app.status_of(order).await, "CREATED");
}

#[tokio::test]
async fn every_business_route_needs_a_valid_token() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 5).await;
    let order = app.order(customer, &[(p, 1)]).await;
    let expired = mint_token("tester", -120, json!({}));
    let forged =
        kit_testing::Forgery::AnotherKey.sign(&kit_testing::claims("tester", 600, json!({})));
    let routes = [
        (Method::POST, "/products".to_owned()),
        (Method::GET, "/products".to_owned()),
        (Method::GET, format!("/products/{p}")),
        (Method::PATCH, format!("/products/{p}")),
        (Method::POST, "/orders".to_owned()),
        (Method::GET, "/orders".to_owned()),
        (Method::GET, format!("/orders/{order}")),
        (Method::POST, format!("/orders/{order}/confirm")),
        (Method::POST, format!("/orders/{order}/cancel")),
    ];
    for auth in [
        None,
        Some(format!("Bearer {expired}")),
        Some(format!("Bearer {forged}")),
        Some(format!("Bearer {}", unsigned_token("mallory"))),
        Some("Bearer x.y.z".into()),
    ] {
        for (method, path) in &routes {
            let mut req = app
                .client
                .request(method.clone(), app.url(path))
                .header(contracts::headers::IDEMPOTENCY_KEY, "k");
            if let Some(value) = &auth {
                req = req.header("authorization", value);
            }
            let res = req.json(&json!({"stock": 0})).send().await.expect("sent");
            assert_eq!(res.status(), 401, "{method} {path}");
        }
    }
    assert_eq!(app.status_of(order).await, "CREATED");
    assert_eq!(app.stock(p).await, 4);
}
