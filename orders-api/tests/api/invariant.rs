//! Any sequence of creates, confirms, cancels, expiries and restocks keeps the
//! stock invariant: for every product,
//! `initial stock + restocks == current stock + units in CREATED or CONFIRMED orders`.

use std::time::Duration;

use orders_api::{metrics::OrderCounters, sweeper};
use proptest::prelude::*;
use reqwest::Method;
use serde_json::{json, Value};
use service_kit::ops::Metrics;

use crate::helpers::{spawn_app, TestApp};

#[derive(Debug, Clone)]
enum Op {
    Create(Vec<(usize, u32)>),
    Confirm(usize),
    Cancel(usize),
    Expire(usize),
    Restock(usize, u32),
}

const PRODUCTS: usize = 3;

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => proptest::collection::vec((0..PRODUCTS, 1u32..6), 1..4).prop_map(Op::Create),
        2 => (0usize..20).prop_map(Op::Confirm),
        2 => (0usize..20).prop_map(Op::Cancel),
        1 => (0usize..20).prop_map(Op::Expire),
        1 => (0..PRODUCTS, 0u32..15).prop_map(|(p, s)| Op::Restock(p, s)),
    ]
}

async fn stock(app: &TestApp, id: u64) -> i64 {
    let p: Value = app
        .authed(Method::GET, &format!("/products/{id}"))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    p["stock"].as_i64().expect("stock")
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
                let before = stock(app, products[p]).await;
                let res = app
                    .authed(Method::PATCH, &format!("/products/{}", products[p]))
                    .json(&json!({"stock": level}))
                    .send()
                    .await
                    .expect("sent");
                prop_assert_eq!(res.status().as_u16(), 200);
                supplied[p] += i64::from(level) - before;
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
