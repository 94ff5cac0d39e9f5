//! The reservation sweeper: CREATED orders older than the reservation TTL are
//! canceled and their stock restored. Safe with several replicas running:
//! each locks its batch with `FOR UPDATE SKIP LOCKED`, so an order is released
//! once. Also purges idempotency records past their TTL.
//!
//! It is supervised: a sweeper task that panics or ends is started again
//! with backoff, and one that has not succeeded for three intervals makes
//! `/ready` answer 503 (and shows in `reservation_sweeper_last_success_timestamp_seconds`).

use std::{
    future::Future,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};

use prometheus::IntGauge;
use service_kit::ops::Metrics;
use sqlx::MySqlPool;
use tokio::sync::watch;

use crate::{
    metrics::OrderCounters,
    store::{self, idempotency, orders},
};

/// Orders released per transaction.
const BATCH: i64 = 100;

/// How the sweeper is doing, for `/ready` and `/metrics`.
pub struct SweeperHealth {
    /// Unix seconds of the last complete sweep (start time until the first).
    last_success: AtomicI64,
    interval: Duration,
    last_success_gauge: IntGauge,
    overdue_gauge: IntGauge,
}

impl SweeperHealth {
    pub fn register(metrics: &Metrics, interval: Duration) -> anyhow::Result<Self> {
        let health = Self {
            last_success: AtomicI64::new(store::now().timestamp()),
            interval,
            last_success_gauge: metrics.gauge(
                "reservation_sweeper_last_success_timestamp_seconds",
                "When the reservation sweeper last completed a sweep (Unix time)",
            )?,
            overdue_gauge: metrics.gauge(
                "reservations_overdue",
                "CREATED orders past their reservation TTL after the last sweep",
            )?,
        };
        health
            .last_success_gauge
            .set(health.last_success.load(Ordering::Relaxed));
        Ok(health)
    }

    fn succeeded(&self, overdue: i64) {
        let now = store::now().timestamp();
        self.last_success.store(now, Ordering::Relaxed);
        self.last_success_gauge.set(now);
        self.overdue_gauge.set(overdue);
    }

    /// Why the instance is not ready: the sweeper has not completed a sweep
    /// for three intervals.
    pub fn stalled(&self) -> Option<String> {
        let since = store::now().timestamp() - self.last_success.load(Ordering::Relaxed);
        let limit = 3 * i64::try_from(self.interval.as_secs()).unwrap_or(i64::MAX / 4);
        (since > limit)
            .then(|| format!("the reservation sweeper has not completed a sweep for {since} s"))
    }
}

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
        let released = orders::release_expired(pool, cutoff, at, BATCH).await?;
        for order in &released {
            counters.expired.inc();
            let units: u64 = order.items.iter().map(|i| u64::from(i.qty)).sum();
            tracing::info!(
                order_id = order.id.get(),
                customer_id = order.customer_id.get(),
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

/// CREATED orders past their TTL (those another transaction held while the
/// sweep ran, or that expired since).
async fn overdue(pool: &MySqlPool, ttl: Duration) -> Result<i64, sqlx::Error> {
    let Some(cutoff) = chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| store::now().checked_sub_signed(ttl))
    else {
        return Ok(0);
    };
    orders::count_expired(pool, cutoff).await
}

/// What the sweeper needs.
#[derive(Clone)]
pub struct Sweeper {
    pub pool: MySqlPool,
    pub ttl: Duration,
    pub idempotency_ttl: Duration,
    pub interval: Duration,
    pub counters: Arc<OrderCounters>,
    pub health: Arc<SweeperHealth>,
}

impl Sweeper {
    /// Sweeps every `interval` until `stop` turns true; a failed sweep is
    /// logged and the next tick tries again. A sweep under way is never cut
    /// short: its transactions commit (or roll back) before it returns.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => {
                    tracing::info!("reservation sweeper stopped");
                    return;
                }
                _ = ticker.tick() => {}
            }
            match sweep_once(&self.pool, self.ttl, &self.counters).await {
                Ok(_) => match overdue(&self.pool, self.ttl).await {
                    Ok(n) => self.health.succeeded(n),
                    Err(e) => tracing::error!(error = %e, "counting overdue reservations failed"),
                },
                Err(e) => tracing::error!(error = %e, "reservation sweep failed"),
            }
            match idempotency::purge(&self.pool, self.idempotency_ttl).await {
                Ok(0) => {}
                Ok(n) => tracing::info!(purged = n, "expired idempotency records purged"),
                Err(e) => tracing::error!(error = %e, "idempotency purge failed"),
            }
        }
    }
}

/// Resolves once `stop` is true (or its sender is gone).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|stopping| *stopping).await;
}

/// Runs `task` until `stop` turns true: when it panics or ends before that,
/// it is started again after a backoff (1 s, doubling to 60 s, back to 1 s
/// after a minute of good running).
pub async fn supervise<F, Fut>(name: &'static str, mut stop: watch::Receiver<bool>, task: F)
where
    F: Fn(watch::Receiver<bool>) -> Fut,
    Fut: Future<Output = ()> + Send + 'static,
{
    let mut backoff = Duration::from_secs(1);
    loop {
        let started = tokio::time::Instant::now();
        let ran = tokio::spawn(task(stop.clone())).await;
        if *stop.borrow() {
            return;
        }
        match ran {
            Ok(()) => tracing::error!(task = name, "background task ended; restarting"),
            Err(e) if e.is_panic() => {
                tracing::error!(task = name, "background task panicked; restarting")
            }
            Err(_) => tracing::error!(task = name, "background task was canceled; restarting"),
        }
        if started.elapsed() > Duration::from_secs(60) {
            backoff = Duration::from_secs(1);
        }
        tokio::select! {
            _ = stopped(&mut stop) => return,
            _ = tokio::time::sleep(backoff) => {}
        }
        backoff = (backoff * 2).min(Duration::from_secs(60));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::AtomicU32;

    #[tokio::test(start_paused = true)]
    async fn a_task_that_panics_or_ends_is_started_again() {
        let starts = Arc::new(AtomicU32::new(0));
        let seen = Arc::clone(&starts);
        let (stop, stopping) = watch::channel(false);
        let supervisor = tokio::spawn(supervise("test", stopping, move |_| {
            let n = seen.fetch_add(1, Ordering::SeqCst);
            async move {
                match n {
                    0 => panic!("injected"),
                    1 => {}
                    _ => std::future::pending::<()>().await,
                }
            }
        }));
        tokio::time::sleep(Duration::from_secs(10)).await;
        assert_eq!(starts.load(Ordering::SeqCst), 3, "panicked, ended, running");
        assert!(!supervisor.is_finished());
        supervisor.abort();
        drop(stop);
    }

    #[tokio::test(start_paused = true)]
    async fn told_to_stop_the_supervisor_ends_once_its_task_does() {
        let (stop, stopping) = watch::channel(false);
        let supervisor = tokio::spawn(supervise("test", stopping, |mut stop| async move {
            let _ = stop.wait_for(|s| *s).await;
        }));
        tokio::time::sleep(Duration::from_secs(5)).await;
        assert!(!supervisor.is_finished());
        stop.send(true).expect("send");
        tokio::time::timeout(Duration::from_secs(1), supervisor)
            .await
            .expect("ended")
            .expect("no panic");
    }
}
