//! SIGTERM (an ECS stop, a deploy) under load: orders-api stops accepting,
//! finishes what is in flight, stops its sweeper after the sweep under way,
//! and exits 0. Nothing answered is lost and nothing is half done.

use std::{process::Command, time::Duration};

use kit_testing::{
    process::{free_port, wait_ready, Proc},
    TestDatabase,
};
use serde_json::json;

use crate::helpers::{spawn_customers, SERVICE_TOKEN};

#[tokio::test]
async fn sigterm_under_load_loses_nothing_answered_and_leaves_nothing_half_done() {
    let db = TestDatabase::create().await;
    let customers_base = spawn_customers(&db).await;

    let logs = tempfile_dir();
    let port = free_port().expect("port");
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orders-api"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", &db.url)
        .envs(kit_testing::issuer_env())
        .env("SERVICE_TOKEN", SERVICE_TOKEN)
        .env("CUSTOMERS_API_BASE", &customers_base)
        .env("PORT", port.to_string())
        .env("SWEEP_INTERVAL_SECS", "1")
        .env("RUST_LOG", "info");
    let mut orders = Proc::spawn("orders-api", cmd, &logs).expect("orders-api starts");
    let base = format!("http://127.0.0.1:{port}");
    let client = reqwest::Client::new();
    wait_ready(&client, &format!("{base}/ready"), Duration::from_secs(30))
        .await
        .expect("ready");

    let token = kit_testing::mint_token("loader", 600, json!({}));
    let pool = sqlx::MySqlPool::connect(&db.url).await.expect("pool");
    let customer = sqlx::query(
        "INSERT INTO customers (name, email, created_at, updated_at) VALUES ('Buyer', 'b@example.com', NOW(6), NOW(6))",
    )
    .execute(&pool)
    .await
    .expect("customer")
    .last_insert_id();
    let product: serde_json::Value = client
        .post(format!("{base}/products"))
        .bearer_auth(&token)
        .json(&json!({"sku": "SHUT-1", "name": "Thing", "price_cents": 100, "stock": 100000}))
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    let product = product["id"].as_u64().expect("id");

    // Eight callers create orders as fast as they can until orders-api stops
    // answering; each keeps the ids it got a 201 for.
    let answered = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let loaders: Vec<_> = (0..8)
        .map(|_| {
            let (client, base, token, answered) =
                (client.clone(), base.clone(), token.clone(), answered.clone());
            tokio::spawn(async move {
                let mut ids = Vec::new();
                loop {
                    let res = client
                        .post(format!("{base}/orders"))
                        .bearer_auth(&token)
                        .json(&json!({"customer_id": customer, "items": [{"product_id": product, "qty": 2}]}))
                        .send()
                        .await;
                    let Ok(res) = res else { break };
                    if res.status() != 201 {
                        break;
                    }
                    let Ok(body) = res.json::<serde_json::Value>().await else { break };
                    ids.extend(body["id"].as_u64());
                    answered.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                }
                ids
            })
        })
        .collect();
    while answered.load(std::sync::atomic::Ordering::SeqCst) < 40 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let status = tokio::task::spawn_blocking(move || {
        let status = orders.terminate(Duration::from_secs(30));
        (status, orders)
    })
    .await
    .expect("joined");
    let (status, _orders) = status;
    let mut ids = Vec::new();
    for l in loaders {
        ids.extend(l.await.expect("loader"));
    }
    assert_eq!(
        status.and_then(|s| s.code()),
        Some(0),
        "orders-api exits 0 after SIGTERM"
    );

    // Every order answered 201 is committed, with its items.
    for id in &ids {
        let items: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM order_items WHERE order_id = ?")
            .bind(id)
            .fetch_one(&pool)
            .await
            .expect("items");
        assert_eq!(
            items, 1,
            "order {id} was answered but is not (wholly) there"
        );
    }
    // Nothing half done: the stock taken is exactly what the orders hold.
    let (stock, reserved): (i64, i64) = sqlx::query_as(
        "SELECT (SELECT CAST(stock AS SIGNED) FROM products WHERE id = ?),
                (SELECT CAST(COALESCE(SUM(qty), 0) AS SIGNED) FROM order_items WHERE product_id = ?)",
    )
    .bind(product)
    .bind(product)
    .fetch_one(&pool)
    .await
    .expect("totals");
    assert_eq!(stock + reserved, 100_000);
    let orders_rows: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await
        .expect("orders");
    assert!(orders_rows as usize >= ids.len());
    let log = std::fs::read_to_string(logs.join("orders-api.log")).unwrap_or_default();
    assert!(
        log.contains("reservation sweeper stopped"),
        "the sweeper was stopped, not dropped: {log}"
    );
    pool.close().await;
}

fn tempfile_dir() -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("shutdown-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).expect("log dir");
    dir
}
