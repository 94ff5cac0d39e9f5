use std::time::Duration;

use orders_api::{metrics::OrderCounters, sweeper};
use service_kit::ops::Metrics;

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
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .expect("sent")
        .text()
        .await
        .expect("text");
    assert!(
        metrics.contains("orders_expired_total{service=\"orders-api\"} 1"),
        "{metrics}"
    );
}
