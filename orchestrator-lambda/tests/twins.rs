//! Twin sagas: the same request sent twice, half a second apart, while the
//! first confirm is slow (another transaction holds the order's row) and the
//! cancel path is slower still (another one holds the product's row, which
//! only a cancel needs). Real customers-api and orders-api on a fresh
//! database, the real handler. Whatever the timing, no answer contradicts
//! the data once all work has finished: a 201 means the order is CONFIRMED,
//! a CANCELED order means nobody was told 201.

use kit_client::RetryPolicy;
use std::{sync::Arc, time::Duration};

use futures_util::future::join_all;
use kit_runtime::config::HttpSettings;
use kit_testing::TestDatabase;
use lambda_http::{Body, Request};
use orchestrator_lambda::{config::Config, handler, saga::Keys, state::AppState};
use serde_json::{json, Value};
use sqlx::MySqlPool;

mod common;
use common::{SERVICE_TOKEN, SUBJECT};

struct Apis {
    customers: String,
    orders: String,
    pool: MySqlPool,
    _db: TestDatabase,
}

fn http(db: &TestDatabase) -> HttpSettings {
    kit_testing::http_settings(db)
}

async fn apis() -> Apis {
    let db = TestDatabase::create().await;
    let customers = customers_api::startup::build(http(&db))
        .await
        .expect("customers-api starts");
    let customers_base = format!("http://127.0.0.1:{}", customers.port());
    tokio::spawn(customers.run_until_stopped());
    let orders = orders_api::startup::build(orders_api::config::Settings {
        http: http(&db),
        customers_api_base: customers_base.clone(),
        service_token: common::ORDERS_SERVICE_TOKEN.into(),
        reservation_ttl: Duration::from_secs(900),
        cancel_window: Duration::from_secs(600),
        idempotency_ttl: Duration::from_secs(86_400),
        sweep_interval: Duration::from_secs(3600),
        sweep_idle_interval: Duration::from_secs(3600),
        limits: Default::default(),
        idempotency_wait: Duration::from_secs(1),
    })
    .await
    .expect("orders-api starts");
    let orders_base = format!("http://127.0.0.1:{}", orders.port());
    tokio::spawn(orders.run_until_stopped());
    let pool = MySqlPool::connect(&db.url).await.expect("pool");
    Apis {
        customers: customers_base,
        orders: orders_base,
        pool,
        _db: db,
    }
}

fn deps(apis: &Apis) -> Arc<AppState> {
    Arc::new(
        AppState::with_ecs(
            Config {
                console: Default::default(),
                customers: apis.customers.parse().expect("url"),
                orders: apis.orders.parse().expect("url"),
                users: common::users(),
                service_token: SERVICE_TOKEN.into(),
                retry: RetryPolicy {
                    attempt_timeout: Duration::from_millis(1500),
                    max_attempts: 4,
                    backoff_base: Duration::from_millis(50),
                    backoff_cap: Duration::from_millis(500),
                },
                deadline_margin: Duration::from_millis(200),
                saga_timeout: Duration::from_secs(10),
                compensation_reserve: Duration::from_secs(3),
                aws: None,
            },
            None,
        )
        .expect("deps"),
    )
}

async fn saga(deps: &Arc<AppState>, body: &Value) -> (u16, Value) {
    let mut e = common::event("create-and-confirm-order.json");
    e["body"] = json!(body.to_string());
    let req: Request = lambda_http::request::from_str(&e.to_string()).expect("event");
    let res = handler(req, deps).await.expect("answers");
    let status = res.status().as_u16();
    let body = match res.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json"),
        _ => Value::Null,
    };
    (status, body)
}

/// One twin scenario: the order's row held for `hold`, the product's for
/// `hold + cancel_delay`. Returns the answers and the order's final status.
async fn twins(
    apis: &Apis,
    deps: &Arc<AppState>,
    hold: Duration,
    cancel_delay: Duration,
) -> (Vec<(u16, Value)>, String) {
    let pool = &apis.pool;
    let customer = sqlx::query("INSERT INTO customers (name, email, created_at, updated_at) VALUES ('Twin', ?, NOW(6), NOW(6))")
        .bind(format!("{}@example.com", uuid_like()))
        .execute(pool)
        .await
        .expect("customer")
        .last_insert_id();
    let product = sqlx::query("INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) VALUES (?, 'Thing', 100, 10, NOW(6), NOW(6))")
        .bind(format!("TWIN-{}", uuid_like()))
        .execute(pool)
        .await
        .expect("product")
        .last_insert_id();
    let key = format!("twin-{}", uuid_like());
    let order_body = json!({"customer_id": customer, "items": [{"product_id": product, "qty": 1}]});
    let request = json!({"customer_id": customer, "items": [{"product_id": product, "qty": 1}], "idempotency_key": key});

    // The order exists before the sagas run (created with the saga's own
    // key, so their create replays it): its row can be held from the start.
    let keys = Keys::derive(SUBJECT, &key);
    let created: Value = reqwest::Client::new()
        .post(format!("{}/orders", apis.orders))
        .bearer_auth(common::token_for(SUBJECT))
        .header(contracts::headers::IDEMPOTENCY_KEY, &keys.create)
        .json(&order_body)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let order_id = created["id"].as_u64().expect("an order");

    let mut order_lock = pool.begin().await.expect("tx");
    sqlx::query("SELECT id FROM orders WHERE id = ? FOR UPDATE")
        .bind(order_id)
        .execute(&mut *order_lock)
        .await
        .expect("order row held");
    let mut product_lock = pool.begin().await.expect("tx");
    sqlx::query("SELECT id FROM products WHERE id = ? FOR UPDATE")
        .bind(product)
        .execute(&mut *product_lock)
        .await
        .expect("product row held");

    let first = saga(deps, &request);
    let second = async {
        tokio::time::sleep(Duration::from_millis(500)).await;
        saga(deps, &request).await
    };
    let release = async {
        tokio::time::sleep(hold).await;
        order_lock.rollback().await.expect("released");
        tokio::time::sleep(cancel_delay).await;
        product_lock.rollback().await.expect("released");
    };
    let (a, b, ()) = tokio::join!(first, second, release);

    // Once every request has finished: no claim of this saga is still held.
    for _ in 0..200 {
        let held: i64 = sqlx::query_scalar(
            "SELECT COUNT(*) FROM idempotency_keys WHERE idem_key IN (?, ?, ?) AND owner IS NOT NULL",
        )
        .bind(&keys.create)
        .bind(&keys.confirm)
        .bind(&keys.cancel)
        .fetch_one(pool)
        .await
        .expect("count");
        if held == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // A replay afterwards settles to the outcome, whatever the twins said.
    let replay = saga(deps, &request).await;
    let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
        .bind(order_id)
        .fetch_one(pool)
        .await
        .expect("status");
    (vec![a, b, replay], status)
}

fn uuid_like() -> String {
    format!("{:016x}", fastrand::u64(..))
}

#[tokio::test]
async fn twin_sagas_never_answer_what_the_data_contradicts() {
    let apis = apis().await;
    let deps = deps(&apis);
    let scenarios: Vec<(u64, u64)> = vec![
        (1500, 0),
        (1500, 3000),
        (4000, 0),
        (4000, 1500),
        (8000, 0),
        (8000, 3000),
    ];
    let runs = scenarios.iter().map(|&(hold, delay)| {
        let (apis, deps) = (&apis, &deps);
        async move {
            let outcome = twins(
                apis,
                deps,
                Duration::from_millis(hold),
                Duration::from_millis(delay),
            )
            .await;
            (hold, delay, outcome)
        }
    });
    for (hold, delay, (answers, status)) in join_all(runs).await {
        let summary: Vec<String> = answers
            .iter()
            .map(|(s, b)| format!("{s} {}", b["error"]["code"].as_str().unwrap_or("ok")))
            .collect();
        let told_201 = answers.iter().any(|(s, _)| *s == 201);
        if told_201 {
            assert_eq!(
                status, "CONFIRMED",
                "hold {hold} ms, cancel +{delay} ms: {summary:?}"
            );
        }
        if status == "CANCELED" {
            assert!(!told_201, "hold {hold} ms, cancel +{delay} ms: {summary:?}");
        }
        for (s, b) in &answers {
            assert!(
                matches!(s, 201 | 409 | 502 | 504),
                "hold {hold} ms: unexpected {s}: {b}"
            );
            if *s == 409 {
                assert_eq!(b["error"]["code"], "saga_in_progress", "{b}");
                assert!(b["error"].get("compensation").is_none(), "{b}");
            }
        }
        // The replay, after everything settled, says what happened.
        let (replay_status, replay) = &answers[2];
        match status.as_str() {
            "CONFIRMED" => assert_eq!(*replay_status, 201, "{replay}"),
            "CANCELED" => assert_eq!(
                replay["error"]["code"], "confirm_failed_order_canceled",
                "{replay}"
            ),
            other => panic!("the order is left {other}: {summary:?}"),
        }
    }
}
