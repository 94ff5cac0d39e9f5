use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::spawn_app;

#[tokio::test]
async fn two_hundred_orders_for_fifty_units_sell_exactly_fifty() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 50).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    let responses = join_all((0..200).map(|_| app.post_order(&body, None))).await;
    let mut created = 0;
    let mut refused = 0;
    for res in responses {
        match res.status().as_u16() {
            201 => created += 1,
            409 => {
                let problem: Value = res.json().await.expect("json");
                assert_eq!(problem["code"], "insufficient_stock");
                refused += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, refused), (50, 150));
    assert_eq!(app.stock(p).await, 0);
    assert_eq!(app.order_rows().await, 50);
}

#[tokio::test]
async fn multi_item_orders_in_opposite_orders_neither_deadlock_nor_oversell() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let a = app.product(100, 60).await;
    let b = app.product(100, 60).await;
    let forward = json!({"customer_id": customer, "items": [{"product_id": a, "qty": 1}, {"product_id": b, "qty": 1}]});
    let backward = json!({"customer_id": customer, "items": [{"product_id": b, "qty": 1}, {"product_id": a, "qty": 1}]});
    let responses = join_all(
        (0..200).map(|i| app.post_order(if i % 2 == 0 { &forward } else { &backward }, None)),
    )
    .await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    let created = statuses.iter().filter(|s| **s == 201).count();
    assert!(
        statuses.iter().all(|s| *s == 201 || *s == 409),
        "{statuses:?}"
    );
    assert_eq!(created, 60);
    assert_eq!((app.stock(a).await, app.stock(b).await), (0, 0));
}
