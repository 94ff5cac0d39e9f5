//! Bad input gets a 4xx problem document, never a 5xx, and writes nothing.

use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, customer_body, spawn_app, SERVICE_TOKEN};

#[tokio::test]
async fn malformed_and_mistyped_bodies_are_400_and_write_nothing() {
    let app = spawn_app().await;
    let cases: Vec<(&str, &str, &str)> = vec![
        ("{", "malformed_json", ""),
        (r#"{"name": "A", "email": "a@b.co",}"#, "malformed_json", ""),
        (
            r#"{"name": "A", "email": "a@b.co"} trailing"#,
            "malformed_json",
            "",
        ),
        ("null", "validation_failed", "body"),
        ("[]", "validation_failed", "body"),
        (r#""a string""#, "validation_failed", "body"),
        (
            r#"{"name": 5, "email": "a@b.co"}"#,
            "validation_failed",
            "name",
        ),
        (
            r#"{"name": "A", "email": ["a@b.co"]}"#,
            "validation_failed",
            "email",
        ),
        (
            r#"{"name": "A", "email": "a@b.co", "phone": 51987654321}"#,
            "validation_failed",
            "phone",
        ),
        (r#"{"email": "a@b.co"}"#, "validation_failed", "name"),
        (r#"{"name": "A"}"#, "validation_failed", "email"),
        (
            r#"{"name": "A", "email": "a@b.co", "admin": true}"#,
            "validation_failed",
            "admin",
        ),
        (
            r#"{"name": "", "email": "a@b.co"}"#,
            "validation_failed",
            "name",
        ),
        (
            r#"{"name": "A", "email": "not-an-email"}"#,
            "validation_failed",
            "email",
        ),
        (
            r#"{"name": "A", "email": "a@b.co", "phone": "call me"}"#,
            "validation_failed",
            "phone",
        ),
    ];
    for (body, code, field) in cases {
        for (method, path) in [
            (Method::POST, "/customers".to_owned()),
            (Method::PUT, "/customers/1".to_owned()),
        ] {
            let res = app
                .authed(method.clone(), &path)
                .header("content-type", "application/json")
                .body(body)
                .send()
                .await
                .expect("sent");
            let problem = assert_problem(res, 400, code).await;
            if !field.is_empty() {
                let fields: Vec<&str> = problem["errors"]
                    .as_array()
                    .map(|e| e.iter().filter_map(|x| x["field"].as_str()).collect())
                    .unwrap_or_default();
                assert!(fields.contains(&field), "{method} {body}: {problem}");
            }
        }
    }
    assert_eq!(app.customer_rows().await, 0);
}

#[tokio::test]
async fn every_invalid_field_is_listed_at_once() {
    let app = spawn_app().await;
    let res = app
        .post_customer(&json!({"name": " ", "email": "x", "phone": "1"}))
        .await;
    let problem = assert_problem(res, 400, "validation_failed").await;
    let fields: Vec<&str> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .filter_map(|e| e["field"].as_str())
        .collect();
    assert_eq!(fields, ["name", "email", "phone"]);
}

#[tokio::test]
async fn empty_huge_and_non_json_bodies_are_4xx() {
    let app = spawn_app().await;
    let send = |content_type: Option<&'static str>, body: Vec<u8>| {
        let mut req = app.authed(Method::POST, "/customers").body(body);
        if let Some(ct) = content_type {
            req = req.header("content-type", ct);
        }
        req.send()
    };
    assert_problem(
        send(Some("application/json"), vec![]).await.expect("sent"),
        400,
        "empty_body",
    )
    .await;

    let mut huge = br#"{"name": ""#.to_vec();
    huge.extend(std::iter::repeat_n(b'a', 10 * 1024 * 1024));
    huge.extend(br#"", "email": "a@b.co"}"#);
    assert_problem(
        send(Some("application/json"), huge).await.expect("sent"),
        413,
        "payload_too_large",
    )
    .await;

    let form = b"name=A&email=a%40b.co".to_vec();
    assert_problem(
        send(Some("application/x-www-form-urlencoded"), form.clone())
            .await
            .expect("sent"),
        415,
        "unsupported_media_type",
    )
    .await;
    assert_problem(
        send(None, form).await.expect("sent"),
        415,
        "unsupported_media_type",
    )
    .await;
    // A JSON document with a charset parameter is fine.
    let ok = send(
        Some("application/json; charset=utf-8"),
        customer_body("A", "a@b.co").to_string().into_bytes(),
    )
    .await
    .expect("sent");
    assert_eq!(ok.status(), 201);
    assert_eq!(app.customer_rows().await, 1);
}

#[tokio::test]
async fn malformed_ids_are_400_on_every_route() {
    let app = spawn_app().await;
    let existing = app.create_customer("ACME", "ops@acme.com").await;
    for id in ["-1", "abc", "99999999999999999999", "1.5", "%20", "0x10"] {
        for (method, path) in [
            (Method::GET, format!("/customers/{id}")),
            (Method::PUT, format!("/customers/{id}")),
            (Method::DELETE, format!("/customers/{id}")),
        ] {
            let mut req = app.authed(method.clone(), &path);
            if method == Method::PUT {
                req = req.json(&customer_body("X", "x@example.com"));
            }
            let res = req.send().await.expect("sent");
            assert_problem(res, 400, "invalid_path").await;
        }
        let res = app.get_internal(id, Some(SERVICE_TOKEN)).await;
        assert_problem(res, 400, "invalid_path").await;
    }
    // The largest id that parses is just not found.
    assert_problem(app.get_customer(u64::MAX).await, 404, "customer_not_found").await;
    assert_eq!(app.customer_rows().await, 1);
    let fetched: Value = app
        .get_customer(existing["id"].as_u64().expect("id"))
        .await
        .json()
        .await
        .expect("json");
    assert_eq!(fetched, existing);
}

#[tokio::test]
async fn values_too_long_for_their_columns_are_400_not_500() {
    let app = spawn_app().await;
    let long_local = format!("{}@example.com", "a".repeat(300));
    let cases = [
        json!({"name": "x".repeat(201), "email": "a@b.co"}),
        json!({"name": "A", "email": long_local}),
        json!({"name": "A", "email": "a@b.co", "phone": "1".repeat(16)}),
        json!({"name": "A", "email": "a@b.co", "phone": format!("+{}", " ".repeat(100))}),
        json!({"name": "\u{0000}", "email": "a@b.co"}),
    ];
    for body in cases {
        let res = app.post_customer(&body).await;
        assert_problem(res, 400, "validation_failed").await;
    }
    assert_eq!(app.customer_rows().await, 0);
}

#[tokio::test]
async fn unknown_routes_are_404_problems() {
    let app = spawn_app().await;
    let res = app.authed(Method::GET, "/nope").send().await.expect("sent");
    assert_problem(res, 404, "route_not_found").await;
}
