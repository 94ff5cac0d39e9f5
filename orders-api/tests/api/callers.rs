//! Who asks: orders record their caller (`created_by`), idempotency keys
//! belong to their caller, and only a service credential may act for a user.

use serde_json::{json, Value};
use service_kit::testing::mint_token;

use crate::helpers::{assert_problem, spawn_app, TestApp, JWT_SECRET, SERVICE_TOKEN};

async fn create_as(app: &TestApp, token: &str, body: &Value, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/orders"))
        .bearer_auth(token)
        .header("Idempotency-Key", key)
        .json(body)
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn one_key_from_two_callers_is_two_orders_and_from_one_caller_one() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    let alice = mint_token(JWT_SECRET, "alice", 600, json!({}));
    let bob = mint_token(JWT_SECRET, "bob", 600, json!({}));

    let a1 = create_as(&app, &alice, &body, "shared-key").await;
    assert_eq!(a1.status(), 201);
    let a1: Value = a1.json().await.expect("json");
    let b1 = create_as(&app, &bob, &body, "shared-key").await;
    assert_eq!(b1.status(), 201);
    assert!(b1.headers().get("idempotent-replayed").is_none());
    let b1: Value = b1.json().await.expect("json");
    assert_ne!(a1["id"], b1["id"]);
    assert_eq!(a1["created_by"], "alice");
    assert_eq!(b1["created_by"], "bob");

    let a2 = create_as(&app, &alice, &body, "shared-key").await;
    assert_eq!(a2.headers()["idempotent-replayed"], "true");
    let a2: Value = a2.json().await.expect("json");
    assert_eq!(a2["id"], a1["id"]);
    assert_eq!(app.order_rows().await, 2);
    assert_eq!(app.stock(p).await, 8);

    // Confirm keys too: bob's confirm with alice's key is bob's own request.
    let confirm = |token: &str, id: &Value| {
        app.client
            .post(app.url(&format!("/orders/{id}/confirm")))
            .bearer_auth(token)
            .header("Idempotency-Key", "confirm-key")
            .send()
    };
    assert_eq!(
        confirm(&alice, &a1["id"]).await.expect("sent").status(),
        200
    );
    let res = confirm(&bob, &b1["id"]).await.expect("sent");
    assert_eq!(
        res.status(),
        200,
        "not idempotency_key_reused: another caller"
    );
    assert!(res.headers().get("idempotent-replayed").is_none());
}

#[tokio::test]
async fn the_creator_is_recorded_and_read_back() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let id = app.order(customer, &[(p, 1)]).await;
    let order = app.get_json(&format!("/orders/{id}")).await;
    assert_eq!(order["created_by"], "tester");
    let page = app.get_json("/orders").await;
    assert_eq!(page["data"][0]["created_by"], "tester");
}

#[tokio::test]
async fn a_service_acts_for_the_user_it_names_and_nobody_else_can() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    let post = |token: &str, on_behalf_of: Option<&str>| {
        let mut req = app
            .client
            .post(app.url("/orders"))
            .bearer_auth(token)
            .json(&body);
        if let Some(sub) = on_behalf_of {
            req = req.header("X-On-Behalf-Of", sub);
        }
        req.send()
    };

    let res = post(SERVICE_TOKEN, Some("carol")).await.expect("sent");
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("json");
    assert_eq!(order["created_by"], "carol");

    // A user token may not name someone else.
    let res = post(&app.token, Some("carol")).await.expect("sent");
    assert_problem(res, 403, "on_behalf_of_forbidden").await;
    // The service token alone names nobody.
    let res = post(SERVICE_TOKEN, None).await.expect("sent");
    assert_problem(res, 401, "unauthorized").await;
    // A subject that cannot be stored or forwarded.
    let res = post(SERVICE_TOKEN, Some(&"x".repeat(256)))
        .await
        .expect("sent");
    assert_problem(res, 400, "invalid_on_behalf_of").await;
    // A wrong service token is no credential at all.
    let res = post("not-the-service-token-at-all", Some("carol"))
        .await
        .expect("sent");
    assert_problem(res, 401, "invalid_token").await;
    assert_eq!(app.order_rows().await, 1);
    assert_eq!(app.stock(p).await, 9);
}

#[tokio::test]
async fn tokens_that_live_too_long_are_refused() {
    let app = spawn_app().await;
    let two_years = mint_token(JWT_SECRET, "tester", 2 * 365 * 86_400, json!({}));
    let res = app
        .client
        .get(app.url("/orders"))
        .bearer_auth(two_years)
        .send()
        .await
        .expect("sent");
    assert_problem(res, 401, "invalid_token").await;
}
