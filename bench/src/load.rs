//! A closed-loop load generator: `concurrency` workers, each sending its next
//! request as soon as the previous one is answered, for a fixed time after a
//! warm-up. Latencies are kept whole (one `u32` of microseconds per request)
//! and sorted at the end, so percentiles are exact.

use std::{
    collections::BTreeMap,
    future::Future,
    sync::{
        atomic::{AtomicU64, Ordering},
        Arc,
    },
    time::{Duration, Instant},
};

use serde::Serialize;

/// How one request went: `Ok(())` counts as a success; `Err(label)` is counted
/// under its label (`"409 insufficient_stock"`, `"transport"`, ...).
pub type Outcome = Result<(), String>;

/// A finished run at one concurrency.
#[derive(Debug, Clone, Serialize)]
pub struct Summary {
    pub concurrency: usize,
    pub seconds: f64,
    pub ok: u64,
    pub errors: BTreeMap<String, u64>,
    /// Successful requests per second.
    pub throughput: f64,
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub max_ms: f64,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    f64::from(sorted[rank.clamp(1, sorted.len()) - 1]) / 1000.0
}

/// Runs `request(n)` (with `n` unique across the run) on `concurrency`
/// workers: `warmup` unmeasured, then `measure` measured.
pub async fn run<F, Fut>(
    concurrency: usize,
    warmup: Duration,
    measure: Duration,
    request: F,
) -> Summary
where
    F: Fn(u64) -> Fut,
    Fut: Future<Output = Outcome>,
{
    let request = &request;
    let counter = Arc::new(AtomicU64::new(0));
    let started = Instant::now();
    let measure_from = started + warmup;
    let stop_at = measure_from + measure;
    let mut workers = Vec::with_capacity(concurrency);
    for _ in 0..concurrency {
        let counter = Arc::clone(&counter);
        workers.push(async move {
            let mut latencies: Vec<u32> = Vec::with_capacity(4096);
            let mut errors: BTreeMap<String, u64> = BTreeMap::new();
            loop {
                let sent = Instant::now();
                if sent >= stop_at {
                    break;
                }
                let n = counter.fetch_add(1, Ordering::Relaxed);
                let outcome = request(n).await;
                let done = Instant::now();
                // Counted when it was sent inside the window and answered in it.
                if sent < measure_from || done > stop_at {
                    continue;
                }
                match outcome {
                    Ok(()) => latencies.push(
                        u32::try_from(done.duration_since(sent).as_micros()).unwrap_or(u32::MAX),
                    ),
                    Err(label) => *errors.entry(label).or_default() += 1,
                }
            }
            (latencies, errors)
        });
    }
    let mut latencies = Vec::new();
    let mut errors: BTreeMap<String, u64> = BTreeMap::new();
    // Joined on this task rather than spawned: the workers need not be
    // `Send`, and the generator keeps to one thread of the machine.
    for (l, e) in futures_util::future::join_all(workers).await {
        latencies.extend(l);
        for (k, v) in e {
            *errors.entry(k).or_default() += v;
        }
    }
    Summary::of(concurrency, measure, latencies, errors)
}

impl Summary {
    /// The summary of the answers measured over `measure`: the latencies of
    /// the successes (in µs), the failures by label.
    fn of(
        concurrency: usize,
        measure: Duration,
        mut latencies: Vec<u32>,
        errors: BTreeMap<String, u64>,
    ) -> Self {
        latencies.sort_unstable();
        let seconds = measure.as_secs_f64();
        Self {
            concurrency,
            seconds,
            ok: latencies.len() as u64,
            errors,
            throughput: latencies.len() as f64 / seconds,
            p50_ms: percentile(&latencies, 50.0),
            p90_ms: percentile(&latencies, 90.0),
            p99_ms: percentile(&latencies, 99.0),
            max_ms: latencies.last().map_or(0.0, |v| f64::from(*v) / 1000.0),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::percentile;

    #[test]
    fn percentiles_are_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&v, 100.0), 100.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
