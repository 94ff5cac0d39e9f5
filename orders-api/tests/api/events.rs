//! Each change leaves a record: what, before → after, who, under which
//! correlation id and idempotency key, written in the change's own
//! transaction and read back a page at a time, oldest first.

use contracts::EventKind;
use kit_testing::app::token_for;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app, TestApp};

async fn send(
    app: &TestApp,
    token: &str,
    method: Method,
    path: &str,
    body: Option<Value>,
) -> Value {
    let mut req = app
        .client
        .request(method, app.url(path))
        .bearer_auth(token)
        .header(
            contracts::headers::CORRELATION_ID,
            format!("corr-{}", path.len()),
        )
        .header(
            contracts::headers::IDEMPOTENCY_KEY,
            format!("key{}", path.replace('/', "-")),
        );
    if let Some(body) = body {
        req = req.json(&body);
    }
    let res = req.send().await.expect("sent");
    assert!(res.status().is_success(), "{path}: {}", res.status());
    res.json().await.unwrap_or(Value::Null)
}

/// Every event of `path`, paging one at a time.
async fn all_events(app: &TestApp, path: &str) -> Vec<Value> {
    let mut events = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let query = match &cursor {
            Some(c) => format!("{path}?limit=1&cursor={c}"),
            None => format!("{path}?limit=1"),
        };
        let page = app.get_json(&query).await;
        events.extend(page["data"].as_array().cloned().unwrap_or_default());
        match page["next_cursor"].as_str() {
            Some(c) => cursor = Some(c.to_owned()),
            None => return events,
        }
    }
}

fn kinds_and_actors(events: &[Value]) -> Vec<(String, String)> {
    events
        .iter()
        .map(|e| {
            (
                e["type"].as_str().unwrap_or_default().to_owned(),
                e["actor"].as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect()
}

#[tokio::test]
async fn an_orders_and_its_products_history_says_what_happened_and_who_did_it() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let (carla, alice, olga) = (
        token_for("carla", json!({"scope": "", "groups": ["catalog-manager"]})),
        token_for("alice", json!({"scope": "orders:write"})),
        token_for("olga", json!({"scope": "", "groups": ["order-operator"]})),
    );
    let product = send(
        &app,
        &carla,
        Method::POST,
        "/products",
        Some(json!({"sku": "EV-1", "name": "Lamp", "price_cents": 1000, "stock": 10})),
    )
    .await;
    let p = product["id"].as_u64().expect("id");
    let order = send(
        &app,
        &alice,
        Method::POST,
        "/orders",
        Some(json!({"customer_id": customer, "items": [{"product_id": p, "qty": 3}]})),
    )
    .await;
    let o = order["id"].as_u64().expect("id");
    send(
        &app,
        &alice,
        Method::POST,
        &format!("/orders/{o}/confirm"),
        None,
    )
    .await;
    send(
        &app,
        &olga,
        Method::POST,
        &format!("/orders/{o}/cancel"),
        None,
    )
    .await;
    let etag = format!(
        "\"{}\"",
        app.get_json(&format!("/products/{p}")).await["version"]
    );
    let res = app
        .client
        .patch(app.url(&format!("/products/{p}")))
        .bearer_auth(&carla)
        .header(reqwest::header::IF_MATCH, etag)
        .json(&json!({"price_cents": 1200, "stock": 7}))
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 200);

    let history = all_events(&app, &format!("/orders/{o}/events")).await;
    assert_eq!(
        kinds_and_actors(&history),
        [
            (EventKind::OrderCreated.as_str(), "alice"),
            (EventKind::OrderConfirmed.as_str(), "alice"),
            (EventKind::OrderCanceled.as_str(), "olga")
        ]
        .map(|(k, a)| (k.to_owned(), a.to_owned()))
    );
    let created = &history[0];
    assert_eq!(created["correlation_id"], "corr-7");
    assert_eq!(created["idempotency_key"], "key-orders");
    assert_eq!(created["changes"]["status"], json!({"after": "CREATED"}));
    assert_eq!(created["changes"]["total_cents"], json!({"after": 3000}));
    assert_eq!(
        history[1]["changes"]["status"],
        json!({"before": "CREATED", "after": "CONFIRMED"})
    );
    assert_eq!(
        history[2]["changes"]["status"],
        json!({"before": "CONFIRMED", "after": "CANCELED"})
    );
    let seqs: Vec<u64> = history.iter().filter_map(|e| e["seq"].as_u64()).collect();
    assert!(
        seqs.windows(2).all(|w| w[0] < w[1]),
        "oldest first: {seqs:?}"
    );

    let stock = all_events(&app, &format!("/products/{p}/events")).await;
    assert_eq!(
        kinds_and_actors(&stock),
        [
            (EventKind::ProductCreated.as_str(), "carla"),
            (EventKind::ProductUpdated.as_str(), "alice"),
            (EventKind::ProductUpdated.as_str(), "olga"),
            (EventKind::ProductUpdated.as_str(), "carla"),
        ]
        .map(|(k, a)| (k.to_owned(), a.to_owned()))
    );
    assert_eq!(
        stock[1]["changes"],
        json!({"stock": {"before": 10, "after": 7}})
    );
    assert_eq!(
        stock[2]["changes"],
        json!({"stock": {"before": 7, "after": 10}})
    );
    assert_eq!(
        stock[3]["changes"],
        json!({"price_cents": {"before": 1000, "after": 1200}, "stock": {"before": 10, "after": 7}})
    );
    // The stock events sum to the stock.
    let sum: i64 = stock
        .iter()
        .filter_map(|e| {
            let s = &e["changes"]["stock"];
            Some(s["after"].as_i64()? - s["before"].as_i64()?)
        })
        .sum();
    assert_eq!(sum, i64::from(app.stock(p).await));
}

#[tokio::test]
async fn a_change_is_never_written_without_its_event() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    // The event log cannot be written: the change must not be either.
    sqlx::query("RENAME TABLE order_events TO order_events_away")
        .execute(&app.pool)
        .await
        .expect("rename");
    let res = app
        .post_order(
            &json!({"customer_id": customer, "items": [{"product_id": p, "qty": 4}]}),
            Some("no-log"),
        )
        .await;
    assert_eq!(res.status(), 500);
    assert_eq!(app.order_rows().await, 0);
    assert_eq!(
        app.stock(p).await,
        10,
        "the reservation was rolled back with it"
    );
    sqlx::query("RENAME TABLE order_events_away TO order_events")
        .execute(&app.pool)
        .await
        .expect("rename back");
    // The key was not spent on the failure: the retry goes through, logged.
    let res = app
        .post_order(
            &json!({"customer_id": customer, "items": [{"product_id": p, "qty": 4}]}),
            Some("no-log"),
        )
        .await;
    assert_eq!(res.status(), 201);
    let order: Value = res.json().await.expect("json");
    let events = app
        .get_json(&format!("/orders/{}/events", order["id"]))
        .await;
    assert_eq!(events["data"][0]["type"], EventKind::OrderCreated.as_str());
    assert_eq!(app.stock(p).await, 6);
}

#[tokio::test]
async fn histories_of_nothing_are_404_and_of_untouched_seed_rows_empty() {
    let app = spawn_app().await;
    let res = app
        .authed(Method::GET, "/orders/987654/events")
        .send()
        .await
        .expect("sent");
    assert_problem(res, 404, "order_not_found").await;
    let res = app
        .authed(Method::GET, "/products/987654/events")
        .send()
        .await
        .expect("sent");
    assert_problem(res, 404, "product_not_found").await;
    let res = app
        .authed(Method::GET, "/orders/1/events?limit=0")
        .send()
        .await
        .expect("sent");
    assert_eq!(res.status(), 400);
    // A product written straight to the table has no history, and is there.
    sqlx::query("INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) VALUES ('RAW-1', 'Raw', 1, 1, NOW(6), NOW(6))")
        .execute(&app.pool)
        .await
        .expect("insert");
    let id: u64 = sqlx::query_scalar("SELECT id FROM products WHERE sku = 'RAW-1'")
        .fetch_one(&app.pool)
        .await
        .expect("id");
    let page = app.get_json(&format!("/products/{id}/events")).await;
    assert_eq!(page, json!({"data": [], "next_cursor": null}));
}
