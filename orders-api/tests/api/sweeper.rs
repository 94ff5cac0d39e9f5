use contracts::EventKind;
use std::time::Duration;

use kit_server::ops::Metrics;
use orders_api::{metrics::OrderCounters, sweeper};

use crate::helpers::{spawn_app, spawn_app_with};

#[tokio::test]
async fn expired_reservations_are_released_once_by_concurrent_sweepers() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let stale = app.order(customer, &[(p, 3)]).await;
    let fresh = app.order(customer, &[(p, 2)]).await;
    let confirmed = app.order(customer, &[(p, 1)]).await;
    assert_eq!(app.confirm(confirmed, Some("c")).await.status(), 200);
    sqlx::query("UPDATE orders SET created_at = created_at - INTERVAL 1 HOUR WHERE id IN (?, ?)")
        .bind(stale)
        .bind(confirmed)
        .execute(&app.pool)
        .await
        .expect("age");
    assert_eq!(app.stock(p).await, 4);

    let metrics = Metrics::new("test").expect("metrics");
    let counters = OrderCounters::register(&metrics).expect("counters");
    let ttl = Duration::from_secs(900);
    let pool_a = sqlx::MySqlPool::connect(&app.db_url).await.expect("pool");
    let pool_b = sqlx::MySqlPool::connect(&app.db_url).await.expect("pool");
    let (a, b) = tokio::join!(
        sweeper::sweep_once(&pool_a, ttl, &counters),
        sweeper::sweep_once(&pool_b, ttl, &counters)
    );
    assert_eq!(
        a.expect("sweep a") + b.expect("sweep b"),
        1,
        "released exactly once"
    );
    assert_eq!(counters.expired.get(), 1);
    assert_eq!(app.status_of(stale).await, "CANCELED");
    assert_eq!(app.status_of(fresh).await, "CREATED");
    assert_eq!(app.status_of(confirmed).await, "CONFIRMED");
    assert_eq!(app.stock(p).await, 7);
}

#[tokio::test]
async fn the_background_sweeper_releases_stock_after_the_ttl() {
    let app = spawn_app_with(|s| {
        s.reservation_ttl = Duration::from_secs(1);
        s.sweep_interval = Duration::from_secs(1);
    })
    .await;
    let customer = app.customer().await;
    let p = app.product(100, 10).await;
    let order = app.order(customer, &[(p, 4)]).await;
    assert_eq!(app.stock(p).await, 6);
    let mut released = false;
    for _ in 0..50 {
        if app.status_of(order).await == "CANCELED" {
            released = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(released, "the sweeper released the reservation");
    assert_eq!(app.stock(p).await, 10);
    // Its record says who: the sweeper, with no request behind it.
    let events = app.get_json(&format!("/orders/{order}/events")).await;
    let last = &events["data"][1];
    assert_eq!(last["type"], EventKind::OrderExpired.as_str(), "{events}");
    assert_eq!(last["actor"], "system:sweeper");
    assert_eq!(last["correlation_id"], serde_json::Value::Null);
    assert_eq!(
        last["changes"]["status"],
        serde_json::json!({"before": "CREATED", "after": "CANCELED"})
    );
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("orders_expired_total{service=\"orders-api\"} 1"),
        "{metrics}"
    );
}

async fn ready(app: &crate::helpers::TestApp) -> (u16, serde_json::Value) {
    let res = app
        .client
        .get(app.url("/ready"))
        .send()
        .await
        .expect("sent");
    let status = res.status().as_u16();
    (status, res.json().await.unwrap_or_default())
}

/// Polls `/ready` until it answers `want`, for up to 15 s.
async fn ready_becomes(app: &crate::helpers::TestApp, want: u16) -> serde_json::Value {
    let mut last = (0, serde_json::Value::Null);
    for _ in 0..150 {
        last = ready(app).await;
        if last.0 == want {
            return last.1;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("/ready never answered {want}: {last:?}");
}

/// A sweeper that cannot complete a sweep (its table is gone) makes the
/// instance not ready after three intervals, and ready again once it works.
#[tokio::test]
async fn a_stalled_sweeper_makes_ready_fail_until_it_recovers() {
    let app = spawn_app_with(|s| s.sweep_interval = Duration::from_secs(1)).await;
    ready_becomes(&app, 200).await;
    let metrics = app.metrics().await;
    assert!(
        metrics.contains("reservation_sweeper_last_success_timestamp_seconds")
            && metrics.contains("reservations_overdue"),
        "{metrics}"
    );
    sqlx::query("RENAME TABLE orders TO orders_away")
        .execute(&app.pool)
        .await
        .expect("rename");
    let problem = ready_becomes(&app, 503).await;
    assert_eq!(problem["code"], "not_ready");
    assert!(
        problem["detail"]
            .as_str()
            .unwrap_or_default()
            .contains("sweeper"),
        "{problem}"
    );
    sqlx::query("RENAME TABLE orders_away TO orders")
        .execute(&app.pool)
        .await
        .expect("rename back");
    ready_becomes(&app, 200).await;
}

/// The sweeper's query walks the `(status, created_at)` index in its order:
/// no table scan, no sort, so it locks only what it releases.
#[tokio::test]
async fn the_sweeper_query_uses_its_index() {
    let app = spawn_app().await;
    crate::helpers::fill_orders(&app, 3000).await;
    let plan = crate::helpers::explain(
        &app.pool,
        sqlx::query(&format!("EXPLAIN {}", orders_api::plans::EXPIRED_SQL))
            .bind(chrono::Utc::now() - chrono::Duration::minutes(15))
            .bind(100_i64),
    )
    .await;
    assert_eq!(
        plan.key.as_deref(),
        Some("ix_orders_status_created"),
        "{plan:?}"
    );
    assert_eq!(plan.access, "range", "{plan:?}");
    assert!(!plan.extra.contains("filesort"), "{plan:?}");
}
