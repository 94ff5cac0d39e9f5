use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp};

#[tokio::test]
async fn products_are_created_patched_read_and_searched() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::POST, "/products")
        .json(&json!({"sku": "SKU001", "name": "Laptop", "price_cents": 129900, "stock": 10}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let location = res.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    let created: Value = res.json().await.expect("json");
    assert_eq!(location, format!("/products/{}", created["id"]));
    assert_eq!(created["stock"], 10);

    assert_eq!(res_etag(&created), "\"1\"");
    let res = app
        .authed(Method::PATCH, &location)
        .header(reqwest::header::IF_MATCH, "\"1\"")
        .json(&json!({"price_cents": 119900, "stock": 12}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    let patched: Value = res.json().await.expect("json");
    assert_eq!(
        (
            patched["name"].clone(),
            patched["price_cents"].clone(),
            patched["stock"].clone()
        ),
        (json!("Laptop"), json!(119900), json!(12))
    );
    let fetched: Value = app.get_json(&location).await;
    assert_eq!(fetched, patched);

    app.product(100, 1).await;
    let page: Value = app.get_json("/products?search=sku001").await;
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["next_cursor"], Value::Null);
    let page: Value = app.get_json("/products?limit=1").await;
    assert!(page["next_cursor"].is_string());
}

#[tokio::test]
async fn duplicate_sku_is_409_and_bad_products_are_400() {
    let app = spawn_app().await;
    let body = json!({"sku": "ABC-1", "name": "Thing", "price_cents": 100, "stock": 0});
    assert_eq!(
        app.authed(Method::POST, "/products")
            .json(&body)
            .send()
            .await
            .expect("sent")
            .status(),
        201
    );
    let dup = json!({"sku": "abc-1", "name": "Other", "price_cents": 100, "stock": 0});
    assert_problem(
        app.authed(Method::POST, "/products")
            .json(&dup)
            .send()
            .await
            .expect("sent"),
        409,
        "sku_taken",
    )
    .await;
    for bad in [
        json!({"sku": "X", "name": "T", "price_cents": 0, "stock": 1}),
        json!({"sku": "X", "name": "T", "price_cents": -5, "stock": 1}),
        json!({"sku": "X", "name": "T", "price_cents": 10, "stock": -1}),
        json!({"sku": "X", "name": "T", "price_cents": 10, "stock": 4294967296u64}),
        json!({"sku": "X", "name": "T", "price_cents": "10", "stock": 1}),
        json!({"sku": "", "name": "T", "price_cents": 10, "stock": 1}),
        json!({"sku": "has space", "name": "T", "price_cents": 10, "stock": 1}),
        json!({"sku": "X", "name": "", "price_cents": 10, "stock": 1}),
        json!({"sku": "X", "name": "T", "price_cents": 99999999999999999u64, "stock": 1}),
    ] {
        let res = app
            .authed(Method::POST, "/products")
            .json(&bad)
            .send()
            .await
            .expect("sent");
        assert_problem(res, 400, "validation_failed").await;
    }
    let count: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM products")
        .fetch_one(&app.pool)
        .await
        .expect("count");
    assert_eq!(count, 1);
}

#[tokio::test]
async fn patch_rules() {
    let app = spawn_app().await;
    let id = app.product(500, 5).await;
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 400, "validation_failed").await;
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({"stock": -1}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 400, "validation_failed").await;
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({"sku": "NEW"}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 400, "validation_failed").await;
    let res = app
        .authed(Method::PATCH, "/products/999999")
        .header(reqwest::header::IF_MATCH, "*")
        .json(&json!({"stock": 1}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 404, "product_not_found").await;
    assert_problem(
        app.authed(Method::GET, "/products/999999")
            .send()
            .await
            .expect("sent"),
        404,
        "product_not_found",
    )
    .await;
    assert_problem(
        app.authed(Method::GET, "/products/abc")
            .send()
            .await
            .expect("sent"),
        400,
        "invalid_path",
    )
    .await;
    assert_eq!(app.stock(id).await, 5);
}

fn res_etag(product: &Value) -> String {
    format!("\"{}\"", product["version"])
}

/// A PATCH with the product's ETag (If-Match).
async fn patch_if(app: &TestApp, id: u64, etag: &str, body: Value) -> reqwest::Response {
    app.authed(Method::PATCH, &format!("/products/{id}"))
        .header(reqwest::header::IF_MATCH, etag)
        .json(&body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn stale_stock_writes_are_refused() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let id = app.product(500, 10).await;
    // An operator reads 10 ...
    let res = app
        .authed(Method::GET, &format!("/products/{id}"))
        .send()
        .await
        .expect("sent");
    let read = res.headers()[reqwest::header::ETAG]
        .to_str()
        .expect("ascii")
        .to_owned();
    // ... 3 are sold meanwhile ...
    app.order(customer, &[(id, 3)]).await;
    // ... and writing 15 from the stale read is refused: no units from nothing.
    let res = patch_if(&app, id, &read, json!({"stock": 15})).await;
    assert_problem(res, 412, "precondition_failed").await;
    assert_eq!(app.stock(id).await, 7);
    // Without a precondition at all: 428.
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({"stock": 15}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 428, "precondition_required").await;
    assert_eq!(app.stock(id).await, 7);
    // With the fresh ETag it works, and the ETag moves on.
    let fresh = app.get_json(&format!("/products/{id}")).await;
    let res = patch_if(&app, id, &res_etag(&fresh), json!({"stock": 15})).await;
    assert_eq!(res.status(), 200);
    let etag = res.headers()[reqwest::header::ETAG]
        .to_str()
        .expect("ascii")
        .to_owned();
    assert_ne!(etag, res_etag(&fresh));
    assert_eq!(app.stock(id).await, 15);
    // A name or price change needs no precondition; a relative restock neither.
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({"name": "Renamed", "stock_delta": 5}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);
    assert_eq!(app.stock(id).await, 20);
    // A write-off below zero is a conflict; stock and stock_delta together a 400.
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({"stock_delta": -21}))
        .send()
        .await
        .expect("sent");
    assert_problem(res, 409, "insufficient_stock").await;
    let res = patch_if(&app, id, "*", json!({"stock": 1, "stock_delta": 1})).await;
    assert_problem(res, 400, "validation_failed").await;
    assert_eq!(app.stock(id).await, 20);
}
