//! The reservation sweeper: CREATED orders older than the reservation TTL are
//! canceled and their stock restored. Safe with several replicas running:
//! each locks its batch with `FOR UPDATE SKIP LOCKED`, so an order is released
//! once. Also purges idempotency records past their TTL.
//!
//! It does not wake an idle database: it sweeps every `interval` while this
//! instance may hold reservations that have yet to expire (it created an
//! order within the reservation TTL, or it started within it), and
//! otherwise only every `idle_interval`, so a database that pauses when no
//! connection is open (Aurora Serverless v2 at 0 ACU) can pause. A
//! reservation is always released by the instance that made it, within
//! `interval` of its expiry; one whose instance died is released by any
//! instance's next sweep, within `idle_interval`.
//!
//! It is supervised: a sweeper task that panics or ends is started again
//! with backoff, and one whose due sweep has not succeeded for three
//! intervals (or that has not swept for three idle intervals) makes
//! `/ready` answer 503 (and shows in `reservation_sweeper_last_success_timestamp_seconds`).

use std::{
    future::Future,
    sync::{
        atomic::{AtomicI64, Ordering},
        Arc,
    },
    time::Duration,
};

use kit_server::ops::Metrics;
use prometheus::IntGauge;
use sqlx::MySqlPool;
use tokio::sync::watch;

use crate::{
    idempotency::store as idempotency,
    metrics::OrderCounters,
    store::{self, orders},
};

/// Orders released per transaction.
const BATCH: i64 = 100;

/// How the sweeper is doing, for `/ready` and `/metrics`.
pub struct SweeperHealth {
    /// Unix seconds of the last complete sweep (start time until the first).
    last_success: AtomicI64,
    /// Unix seconds since when a sweep has been due and not yet completed
    /// (0: none is due).
    due_since: AtomicI64,
    interval: Duration,
    idle_interval: Duration,
    last_success_gauge: IntGauge,
    overdue_gauge: IntGauge,
}

impl SweeperHealth {
    pub fn register(
        metrics: &Metrics,
        interval: Duration,
        idle_interval: Duration,
    ) -> anyhow::Result<Self> {
        let health = Self {
            last_success: AtomicI64::new(store::now().timestamp()),
            due_since: AtomicI64::new(0),
            interval,
            idle_interval,
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

    fn due(&self) {
        let now = store::now().timestamp();
        let _ = self
            .due_since
            .compare_exchange(0, now, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn succeeded(&self, overdue: i64) {
        let now = store::now().timestamp();
        self.last_success.store(now, Ordering::Relaxed);
        self.due_since.store(0, Ordering::Relaxed);
        self.last_success_gauge.set(now);
        self.overdue_gauge.set(overdue);
    }

    /// Why the instance is not ready: a due sweep has not completed for
    /// three intervals, or none has for three idle intervals.
    pub fn stalled(&self) -> Option<String> {
        let now = store::now().timestamp();
        let three = |d: Duration| 3 * i64::try_from(d.as_secs()).unwrap_or(i64::MAX / 4);
        let due_since = self.due_since.load(Ordering::Relaxed);
        if due_since != 0 && now - due_since > three(self.interval) {
            return Some(format!(
                "the reservation sweeper has not completed a due sweep for {} s",
                now - due_since
            ));
        }
        let since = now - self.last_success.load(Ordering::Relaxed);
        (since > three(self.interval.max(self.idle_interval)))
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
    /// How often it sweeps when this instance holds no reservation that
    /// has yet to expire (`SWEEP_IDLE_INTERVAL_SECS`).
    pub idle_interval: Duration,
    pub counters: Arc<OrderCounters>,
    pub health: Arc<SweeperHealth>,
}

/// When the sweeper of an instance sweeps: every tick while reservations
/// it made may still expire, else once per idle interval.
#[derive(Debug)]
pub struct Schedule {
    ttl: Duration,
    interval: Duration,
    idle_interval: Duration,
    /// Orders created through this instance, as last seen.
    created: u64,
    /// When that count last moved (or the instance started).
    active_at: tokio::time::Instant,
    /// When the last sweep ran (None: never).
    swept_at: Option<tokio::time::Instant>,
}

impl Schedule {
    pub fn new(ttl: Duration, interval: Duration, idle_interval: Duration, created: u64) -> Self {
        Self {
            ttl,
            interval,
            idle_interval,
            created,
            active_at: tokio::time::Instant::now(),
            swept_at: None,
        }
    }

    /// Whether to sweep now, given the count of orders created so far.
    pub fn due(&mut self, created: u64, now: tokio::time::Instant) -> bool {
        if created != self.created {
            self.created = created;
            self.active_at = now;
        }
        let busy = now.duration_since(self.active_at) <= self.ttl + self.interval;
        let idle_due = self
            .swept_at
            .is_none_or(|at| now.duration_since(at) >= self.idle_interval);
        let due = busy || idle_due;
        if due {
            self.swept_at = Some(now);
        }
        due
    }
}

impl Sweeper {
    /// Sweeps every `interval` until `stop` turns true; a failed sweep is
    /// logged and the next tick tries again. A sweep under way is never cut
    /// short: its transactions commit (or roll back) before it returns.
    pub async fn run(self, mut stop: watch::Receiver<bool>) {
        let mut ticker = tokio::time::interval(self.interval);
        ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let mut schedule = Schedule::new(
            self.ttl,
            self.interval,
            self.idle_interval,
            self.counters.created.get(),
        );
        loop {
            tokio::select! {
                biased;
                _ = stopped(&mut stop) => {
                    tracing::info!("reservation sweeper stopped");
                    return;
                }
                now = ticker.tick() => {
                    if !schedule.due(self.counters.created.get(), now) {
                        continue;
                    }
                }
            }
            self.health.due();
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

    const TTL: Duration = Duration::from_secs(900);
    const TICK: Duration = Duration::from_secs(30);
    const IDLE: Duration = Duration::from_secs(3600);

    /// The ticks (every 30 s from `from` for `span`) on which it sweeps.
    fn sweeps(
        schedule: &mut Schedule,
        created: u64,
        from: tokio::time::Instant,
        span: Duration,
    ) -> Vec<u64> {
        let ticks = span.as_secs() / TICK.as_secs();
        (0..ticks)
            .map(|i| from + TICK * u32::try_from(i).expect("small"))
            .filter(|&at| schedule.due(created, at))
            .map(|at| at.duration_since(from).as_secs())
            .collect()
    }

    #[test]
    fn an_idle_instance_sweeps_once_per_idle_interval_after_its_reservations_could_expire() {
        let start = tokio::time::Instant::now();
        let mut schedule = Schedule::new(TTL, TICK, IDLE, 0);
        // Just started: whatever a predecessor left may expire, so every tick.
        let first = sweeps(&mut schedule, 0, start, TTL + TICK + TICK);
        assert_eq!(first.len(), 32, "{first:?}");
        // Then nothing created through it for hours: one sweep an hour.
        let later = start + TTL + TICK + TICK;
        let idle = sweeps(&mut schedule, 0, later, Duration::from_secs(3 * 3600));
        assert_eq!(idle.len(), 3, "{idle:?}");
    }

    #[test]
    fn an_order_created_brings_back_every_tick_until_its_reservation_has_expired() {
        let start = tokio::time::Instant::now();
        let mut schedule = Schedule::new(TTL, TICK, IDLE, 0);
        let _ = sweeps(&mut schedule, 0, start, Duration::from_secs(2 * 3600));
        let at = start + Duration::from_secs(2 * 3600);
        // One order through this instance: it sweeps every tick from then
        // until TTL + one tick later, so the reservation is released within
        // a tick of its expiry; then idle again.
        let busy = sweeps(&mut schedule, 1, at, TTL + TICK * 3);
        assert_eq!(busy.first(), Some(&0));
        assert!(busy.contains(&(TTL + TICK).as_secs()), "{busy:?}");
        assert!(!busy.contains(&(TTL + TICK * 2).as_secs()), "{busy:?}");
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
