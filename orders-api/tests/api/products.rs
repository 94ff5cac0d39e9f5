use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

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
    let location = res.headers()["location"]
        .to_str()
        .expect("ascii")
        .to_owned();
    let created: Value = res.json().await.expect("json");
    assert_eq!(location, format!("/products/{}", created["id"]));
    assert_eq!(created["stock"], 10);

    let res = app
        .authed(Method::PATCH, &location)
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
    let fetched: Value = app
        .authed(Method::GET, &location)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched, patched);

    app.product(100, 1).await;
    let page: Value = app
        .authed(Method::GET, "/products?search=sku001")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(page["data"].as_array().map(Vec::len), Some(1));
    assert_eq!(page["next_cursor"], Value::Null);
    let page: Value = app
        .authed(Method::GET, "/products?limit=1")
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
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
