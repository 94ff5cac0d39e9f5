//! Any sequence of creates, confirms, cancels, expiries and restocks keeps the
//! stock invariant: for every product,
//! `initial stock + restocks == current stock + units in CREATED or CONFIRMED orders`.

use std::time::Duration;

use kit_server::ops::Metrics;
use orders_api::{metrics::OrderCounters, sweeper};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{spawn_app, TestApp};

#[derive(Debug, Clone)]
enum Op {
    Create(Vec<(usize, u32)>),
    Confirm(usize),
    Cancel(usize),
    Expire(usize),
    Restock(usize, u32),
    RestockBy(usize, i64),
}

const PRODUCTS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec((0..PRODUCTS, 1u32..6), 1..4).prop_map(Op::Create),
        2 => (0usize..20).prop_map(Op::Confirm),
        2 => (0usize..20).prop_map(Op::Cancel),
        1 => (0usize..20).prop_map(Op::Expire),
        1 => (0..PRODUCTS, 0u32..15).prop_map(|(p, s)| Op::Restock(p, s)),
        1 => (0..PRODUCTS, -5i64..10).prop_map(|(p, d)| Op::RestockBy(p, if d == 0 { 1 } else { d })),
    ]
}

async fn stock(app: &TestApp, id: u64) -> i64 {
    read(app, id).await.0
}

/// The product's stock and ETag.
async fn read(app: &TestApp, id: u64) -> (i64, String) {
    let p = app.get_json(&format!("/products/{id}")).await;
    (
        p["stock"].as_i64().expect("stock"),
        format!("\"{}\"", p["version"]),
    )
}

/// Sets the level from a read, as an operator does; retried while the
/// read is stale. Returns the units it added (or removed).
async fn set_level(app: &TestApp, id: u64, level: u32) -> i64 {
    loop {
        let (before, etag) = read(app, id).await;
        let res = app
            .authed(Method::PATCH, &format!("/products/{id}"))
            .header(reqwest::header::IF_MATCH, etag)
            .json(&json!({"stock": level}))
            .send()
            .await
            .expect("sent");
        match res.status().as_u16() {
            200 => return i64::from(level) - before,
            412 => continue,
            other => panic!("set level answered {other}"),
        }
    }
}

/// A relative restock (or write-off); returns the units it moved.
async fn restock_by(app: &TestApp, id: u64, delta: i64) -> i64 {
    let res = app
        .authed(Method::PATCH, &format!("/products/{id}"))
        .json(&json!({"stock_delta": delta}))
        .send()
        .await
        .expect("sent");
    match res.status().as_u16() {
        200 => delta,
        409 => 0,
        other => panic!("restock answered {other}"),
    }
}

async fn run(app: &TestApp, customer: u64, ops: Vec<Op>) -> Result<(), TestCaseError> {
    let mut products = Vec::new();
    let mut supplied = Vec::new();
    for _ in 0..PRODUCTS {
        products.push(app.product(100, 8).await);
        supplied.push(8i64);
    }
    let mut orders: Vec<u64> = Vec::new();
    let counters =
        OrderCounters::register(&Metrics::new("prop").expect("metrics")).expect("counters");
    for (step, op) in ops.into_iter().enumerate() {
        let pick = |i: usize| orders.get(i % orders.len().max(1)).copied();
        match op {
            Op::Create(items) => {
                let items: Vec<Value> = items
                    .iter()
                    .map(|(p, q)| json!({"product_id": products[*p], "qty": q}))
                    .collect();
                let res = app
                    .post_order(&json!({"customer_id": customer, "items": items}), None)
                    .await;
                let status = res.status().as_u16();
                prop_assert!(status == 201 || status == 409, "create answered {}", status);
                if status == 201 {
                    let body: Value = res.json().await.expect("json");
                    orders.push(body["id"].as_u64().expect("id"));
                }
            }
            Op::Confirm(i) => {
                if let Some(id) = pick(i) {
                    let key = uuid::Uuid::new_v4().to_string();
                    let status = app.confirm(id, Some(&key)).await.status().as_u16();
                    prop_assert!(
                        status == 200 || status == 409,
                        "confirm answered {}",
                        status
                    );
                }
            }
            Op::Cancel(i) => {
                if let Some(id) = pick(i) {
                    let status = app.cancel(id, None).await.status().as_u16();
                    prop_assert!(status == 200 || status == 409, "cancel answered {}", status);
                }
            }
            Op::Expire(i) => {
                if let Some(id) = pick(i) {
                    sqlx::query(
                        "UPDATE orders SET created_at = created_at - INTERVAL 1 HOUR WHERE id = ?",
                    )
                    .bind(id)
                    .execute(&app.pool)
                    .await
                    .expect("age");
                    sweeper::sweep_once(&app.pool, Duration::from_secs(900), &counters)
                        .await
                        .expect("sweep");
                }
            }
            Op::Restock(p, level) => {
                supplied[p] += set_level(app, products[p], level).await;
            }
            Op::RestockBy(p, delta) => {
                supplied[p] += restock_by(app, products[p], delta).await;
            }
        }
        for (idx, id) in products.iter().enumerate() {
            let reserved: i64 = sqlx::query_scalar(
                "SELECT CAST(COALESCE(SUM(i.qty), 0) AS SIGNED) FROM order_items i JOIN orders o ON o.id = i.order_id
                 WHERE i.product_id = ? AND o.status IN ('CREATED', 'CONFIRMED')",
            )
            .bind(id)
            .fetch_one(&app.pool)
            .await
            .expect("reserved");
            let current = stock(app, *id).await;
            prop_assert!(current >= 0);
            prop_assert_eq!(
                supplied[idx],
                current + reserved,
                "product {} after step {}",
                id,
                step
            );
        }
    }
    Ok(())
}

#[test]
fn stock_is_conserved_under_any_sequence_of_operations() {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime");
    let (app, customer) = rt.block_on(async {
        let app = spawn_app().await;
        let customer = app.customer().await;
        (app, customer)
    });
    let config = ProptestConfig {
        cases: 24,
        max_shrink_iters: 50,
        ..ProptestConfig::default()
    };
    proptest!(config, |(ops in proptest::collection::vec(op(), 1..25))| {
        rt.block_on(run(&app, customer, ops))?;
    });
}

/// Sales, relative restocks and level changes from reads, all at once on one
/// product: the invariant holds when they are done, and no level set from a
/// stale read went through.
#[tokio::test]
async fn concurrent_sales_and_restocks_keep_the_invariant() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let id = app.product(100, 50).await;
    let sales = (0..40).map(|_| async {
        let res = app
            .post_order(
                &json!({"customer_id": customer, "items": [{"product_id": id, "qty": 2}]}),
                None,
            )
            .await;
        assert!(
            matches!(res.status().as_u16(), 201 | 409),
            "{}",
            res.status()
        );
        0i64
    });
    let deltas = (0..20).map(|i| restock_by(&app, id, if i % 4 == 0 { -3 } else { 3 }));
    let levels = (0..10).map(|i| set_level(&app, id, 20 + i));
    let (a, b, c) = tokio::join!(
        futures_util::future::join_all(sales),
        futures_util::future::join_all(deltas),
        futures_util::future::join_all(levels)
    );
    let supplied: i64 = 50 + a.iter().sum::<i64>() + b.iter().sum::<i64>() + c.iter().sum::<i64>();
    let held: i64 = sqlx::query_scalar(
        "SELECT CAST(COALESCE(SUM(i.qty), 0) AS SIGNED) FROM order_items i JOIN orders o ON o.id = i.order_id
         WHERE i.product_id = ? AND o.status IN ('CREATED', 'CONFIRMED')",
    )
    .bind(id)
    .fetch_one(&app.pool)
    .await
    .expect("held");
    assert_eq!(supplied, stock(&app, id).await + held);
}
