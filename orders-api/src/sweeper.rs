//! The reservation sweeper: CREATED orders older than the reservation TTL are
//! cancelled and their stock restored. Safe with several replicas running:
//! each locks its batch with `FOR UPDATE SKIP LOCKED`, so an order is released
//! once. Also purges idempotency records past their TTL.

use std::{sync::Arc, time::Duration};

use sqlx::MySqlPool;

use crate::{
    idempotency,
    metrics::OrderCounters,
    store::{self, orders},
};

/// Orders released per transaction.
const BATCH: i64 = 100;

/// Releases every expired reservation, batch by batch. Returns how many.
pub async fn sweep_once(
    pool: &MySqlPool,
    ttl: Duration,
    counters: &OrderCounters,
) -> Result<u64, sqlx::Error> {
    let mut released_total = 0;
    loop {
        let at = store::now();
        let Some(cutoff) = chrono::Duration::from_std(ttl)
            .ok()
            .and_then(|ttl| at.checked_sub_signed(ttl))
        else {
            // A TTL reaching before the calendar begins: nothing expires.
            return Ok(released_total);
        };
        let mut tx = pool.begin().await?;
        let released = orders::release_expired(&mut tx, cutoff, at, BATCH).await?;
        tx.commit().await?;
        for order in &released {
            counters.expired.inc();
            let units: u64 = order.items.iter().map(|i| u64::from(i.qty)).sum();
            tracing::info!(
                order_id = order.id,
                customer_id = order.customer_id,
                units,
                "reservation expired; stock released"
            );
        }
        released_total += released.len() as u64;
        if (released.len() as i64) < BATCH {
            return Ok(released_total);
        }
    }
}

/// Runs the sweeper every `interval` until the process ends.
pub async fn run(
    pool: MySqlPool,
    ttl: Duration,
    idempotency_ttl: Duration,
    interval: Duration,
    counters: Arc<OrderCounters>,
) {
    let mut ticker = tokio::time::interval(interval);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        ticker.tick().await;
        if let Err(e) = sweep_once(&pool, ttl, &counters).await {
            tracing::error!(error = %e, "reservation sweep failed");
        }
        match idempotency::purge(&pool, idempotency_ttl).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "expired idempotency records purged"),
            Err(e) => tracing::error!(error = %e, "idempotency purge failed"),
        }
    }
}
