//! Who asks: orders record their caller (`created_by`), idempotency keys
//! belong to their caller, every route answers each role as the SPEC says,
//! and an order's creator may read and withdraw it, nothing more.

use kit_testing::mint_token;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp, SERVICE_TOKEN};

async fn create_as(app: &TestApp, token: &str, body: &Value, key: &str) -> reqwest::Response {
    app.client
        .post(app.url("/orders"))
        .bearer_auth(token)
        .header(contracts::headers::IDEMPOTENCY_KEY, key)
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
    let alice = mint_token("alice", 600, json!({}));
    let bob = mint_token("bob", 600, json!({}));

    let a1 = create_as(&app, &alice, &body, "shared-key").await;
    assert_eq!(a1.status(), 201);
    let a1: Value = a1.json().await.expect("json");
    let b1 = create_as(&app, &bob, &body, "shared-key").await;
    assert_eq!(b1.status(), 201);
    assert!(b1
        .headers()
        .get(contracts::headers::IDEMPOTENT_REPLAYED)
        .is_none());
    let b1: Value = b1.json().await.expect("json");
    assert_ne!(a1["id"], b1["id"]);
    assert_eq!(a1["created_by"], "alice");
    assert_eq!(b1["created_by"], "bob");

    let a2 = create_as(&app, &alice, &body, "shared-key").await;
    assert_eq!(
        a2.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    let a2: Value = a2.json().await.expect("json");
    assert_eq!(a2["id"], a1["id"]);
    assert_eq!(app.order_rows().await, 2);
    assert_eq!(app.stock(p).await, 8);

    // Confirm keys too: bob's confirm with alice's key is bob's own request.
    let confirm = |token: &str, id: &Value| {
        app.client
            .post(app.url(&format!("/orders/{id}/confirm")))
            .bearer_auth(token)
            .header(contracts::headers::IDEMPOTENCY_KEY, "confirm-key")
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
    assert!(res
        .headers()
        .get(contracts::headers::IDEMPOTENT_REPLAYED)
        .is_none());
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
async fn every_route_answers_each_caller_as_the_spec_says() {
    let app = spawn_app().await;
    let checked = kit_testing::access::walk(&app).await;
    // 11 user routes × 18 callers (see customers-api's walk), 3 open routes;
    // no service route: orders-api takes no service token.
    assert_eq!(checked, 11 * 18 + 3);
    assert_eq!(app.order_rows().await, 0, "the walk changes nothing");
}

#[tokio::test]
async fn no_service_token_acts_for_a_user_any_more() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    for token in [SERVICE_TOKEN, kit_testing::app::ORCHESTRATOR_TOKEN] {
        let res = app
            .client
            .post(app.url("/orders"))
            .bearer_auth(token)
            .header("X-On-Behalf-Of", "carol")
            .json(&body)
            .send()
            .await
            .expect("sent");
        assert_problem(res, 401, "invalid_token").await;
    }
    // A user token's X-On-Behalf-Of means nothing: the order is the user's.
    let res = app
        .authed(reqwest::Method::POST, "/orders")
        .header("X-On-Behalf-Of", "carol")
        .json(&body)
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("json");
    assert_eq!(order["created_by"], "tester");
    assert_eq!(app.order_rows().await, 1);
}

/// A token with `orders:write` alone, as a saga's caller may hold.
fn writer(sub: &str) -> String {
    mint_token(sub, 600, json!({"scope": "orders:write"}))
}

async fn as_user(
    app: &TestApp,
    token: &str,
    method: reqwest::Method,
    path: &str,
) -> reqwest::Response {
    app.client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header(
            contracts::headers::IDEMPOTENCY_KEY,
            format!("k-{}", uuid::Uuid::new_v4().simple()),
        )
        .send()
        .await
        .expect("sent")
}

#[tokio::test]
async fn a_creator_reads_and_withdraws_its_own_unconfirmed_order_and_nothing_else() {
    use reqwest::Method;
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    let (alice, bob) = (writer("alice"), writer("bob"));
    let create = |token: String| {
        let req = app
            .client
            .post(app.url("/orders"))
            .bearer_auth(token)
            .json(&body);
        async move {
            let res = req.send().await.expect("sent");
            assert_eq!(res.status(), 201);
            res.json::<Value>().await.expect("json")["id"]
                .as_u64()
                .expect("id")
        }
    };
    let mine = create(alice.clone()).await;
    let theirs = create(bob.clone()).await;

    // Alice reads her own order, not Bob's, and learns nothing of one that
    // does not exist; the list needs orders:read.
    assert_eq!(
        as_user(&app, &alice, Method::GET, &format!("/orders/{mine}"))
            .await
            .status(),
        200
    );
    for path in [
        format!("/orders/{theirs}"),
        "/orders/987654".into(),
        "/orders".into(),
    ] {
        let res = as_user(&app, &alice, Method::GET, &path).await;
        assert_problem(res, 403, "forbidden").await;
    }
    // She cannot cancel Bob's order, nor one that does not exist.
    for id in [theirs, 987_654] {
        let res = as_user(&app, &alice, Method::POST, &format!("/orders/{id}/cancel")).await;
        assert_problem(res, 403, "forbidden").await;
    }
    // Once confirmed, her own order needs orders:cancel too.
    let confirmed = as_user(
        &app,
        &alice,
        Method::POST,
        &format!("/orders/{mine}/confirm"),
    )
    .await;
    assert_eq!(confirmed.status(), 200);
    let res = as_user(
        &app,
        &alice,
        Method::POST,
        &format!("/orders/{mine}/cancel"),
    )
    .await;
    assert_problem(res, 403, "forbidden").await;
    assert_eq!(app.stock(p).await, 8, "nothing was released");
    // Bob withdraws his own unconfirmed order.
    let res = as_user(
        &app,
        &bob,
        Method::POST,
        &format!("/orders/{theirs}/cancel"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(
        res.json::<Value>().await.expect("json")["status"],
        "CANCELED"
    );
    assert_eq!(app.stock(p).await, 9);
    // An operator (orders:cancel) cancels anyone's confirmed order.
    let operator = mint_token(
        "olga",
        600,
        json!({"scope": "", "groups": ["order-operator"]}),
    );
    let res = as_user(
        &app,
        &operator,
        Method::POST,
        &format!("/orders/{mine}/cancel"),
    )
    .await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.stock(p).await, 10);
}

#[tokio::test]
async fn tokens_that_live_too_long_are_refused() {
    let app = spawn_app().await;
    let two_years = mint_token("tester", 2 * 365 * 86_400, json!({}));
    let res = app
        .client
        .get(app.url("/orders"))
        .bearer_auth(two_years)
        .send()
        .await
        .expect("sent");
    assert_problem(res, 401, "invalid_token").await;
}
