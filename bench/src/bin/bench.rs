//! `make bench`: the stack as real processes on a fresh database, the saga
//! driven at each concurrency, the same SQL run straight against the database
//! (the ceiling), the orchestrator's cold start, and a report under
//! `bench/results/`.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use bench::{
    ceiling, load,
    report::{median, Level, Machine, Report, Target},
    stack::{self, ApiOptions, Proc},
};
use clap::{Parser, ValueEnum};
use serde_json::json;
use service_kit::testing::TestDatabase;
use sqlx::MySqlPool;
use tokio::time::Instant;

/// The saga benchmark: the full local stack (customers-api, orders-api, the
/// orchestrator under `cargo lambda watch`'s runtime API, MariaDB) under a
/// closed-loop load at each concurrency, the database ceiling (the same SQL
/// with no HTTP) and cold starts. Writes `<out>/<date>.{md,json,svg}`.
#[derive(Parser)]
#[command(name = "bench")]
struct Settings {
    /// Concurrency levels, comma-separated.
    #[arg(long, value_delimiter = ',', default_value = "1,8,32,64")]
    levels: Vec<usize>,
    /// Seconds of warm-up before each level (not measured).
    #[arg(long, value_parser = bench::args::seconds, default_value = "2")]
    warmup: Duration,
    /// Seconds measured at each level.
    #[arg(long = "seconds", value_parser = bench::args::seconds, default_value = "10")]
    measure: Duration,
    /// Products the sagas pick from (one random product, qty 1, per saga).
    #[arg(long, default_value_t = 32)]
    products: usize,
    /// One function process per concurrent invocation (as Lambda scales
    /// out), or one process serving them all.
    #[arg(long, value_enum, default_value_t = Instances::PerInvocation)]
    instances: Instances,
    /// DB_MAX_CONNECTIONS of each API (and the ceiling's pool).
    #[arg(long, default_value_t = 16)]
    db_max_connections: u32,
    /// Cold starts to time (median reported).
    #[arg(long, default_value_t = 5)]
    cold_starts: usize,
    /// Where the report goes.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
    /// Notes appended to the Markdown report.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/NOTES.md"))]
    notes: PathBuf,
    /// Skip the database ceiling.
    #[arg(long)]
    skip_ceiling: bool,
}

#[derive(Clone, Copy, PartialEq, Eq, ValueEnum)]
enum Instances {
    PerInvocation,
    Shared,
}

impl Instances {
    fn as_str(self) -> &'static str {
        match self {
            Self::PerInvocation => "per-invocation",
            Self::Shared => "shared",
        }
    }
}

/// The saga request for load number `n`.
fn saga_body(run: &str, n: u64, customer_id: u64, products: &[u64]) -> serde_json::Value {
    let product = products[fastrand::usize(..products.len())];
    json!({
        "customer_id": customer_id,
        "items": [{"product_id": product, "qty": 1}],
        "idempotency_key": format!("{run}-{n}"),
    })
}

async fn send_saga(client: &reqwest::Client, url: &str, body: &serde_json::Value) -> load::Outcome {
    let res = client.post(url).json(body).send().await.map_err(|e| {
        format!(
            "transport: {}",
            if e.is_timeout() { "timeout" } else { "error" }
        )
    })?;
    let status = res.status();
    if status.as_u16() == 201 {
        let _ = res.bytes().await;
        return Ok(());
    }
    let body: serde_json::Value = res.json().await.unwrap_or_default();
    Err(format!(
        "{} {}",
        status.as_u16(),
        body["error"]["code"].as_str().unwrap_or("-")
    ))
}

struct Running {
    client: reqwest::Client,
    customers_base: String,
    orders_base: String,
    runtime_port: u16,
    saga_url: String,
    customers: Proc,
    orders: Proc,
    emulator: Proc,
}

impl Running {
    /// Both APIs on a fresh database and the Lambda runtime emulator.
    async fn start(settings: &Settings, db_url: &str) -> anyhow::Result<Self> {
        let api = ApiOptions {
            db_url: db_url.to_owned(),
            db_max_connections: settings.db_max_connections,
            reservation_ttl_secs: 900,
            sweep_interval_secs: 30,
        };
        let rp = stack::free_port()?;
        let client = reqwest::Client::builder()
            .default_headers(stack::caller_headers()?)
            .pool_max_idle_per_host(256)
            .tcp_nodelay(true)
            .timeout(Duration::from_secs(30))
            .build()?;
        let apis = stack::start_apis(&client, &api).await?;
        let emulator = stack::emulator(rp)?;
        stack::wait_listening(rp, Duration::from_secs(60)).await?;
        Ok(Self {
            client,
            saga_url: format!("http://127.0.0.1:{rp}/orchestrator/create-and-confirm-order"),
            customers_base: apis.customers_base,
            orders_base: apis.orders_base,
            runtime_port: rp,
            customers: apis.customers,
            orders: apis.orders,
            emulator,
        })
    }

    /// Sagas at concurrency `c`: throughput and latency, peak memory, and
    /// CPU per saga of every process.
    async fn level(&self, settings: &Settings, l: &Load, c: usize) -> anyhow::Result<Level> {
        let functions = self.start_functions(settings, c)?;
        let health = format!("http://127.0.0.1:{}/orchestrator/health", self.runtime_port);
        stack::wait_ready(&self.client, &health, Duration::from_secs(30))
            .await
            .map_err(|e| anyhow::anyhow!("{e:#} (logs in {})", stack::log_dir().display()))?;
        eprintln!("saga: concurrency {c}");
        let cpu_before = cpu(self, &functions);
        let (client, url, products) = (
            self.client.clone(),
            self.saga_url.clone(),
            Arc::clone(&l.products),
        );
        let (run, customer_id) = (format!("{}-{c}", l.run_id), l.customer_id);
        let summary = load::run(c, settings.warmup, settings.measure, move |n| {
            let client = client.clone();
            let url = url.clone();
            let body = saga_body(&run, n, customer_id, &products);
            async move { send_saga(&client, &url, &body).await }
        })
        .await;
        eprintln!(
            "  {:.0} sagas/s, p50 {:.1} ms, p99 {:.1} ms, errors {:?}",
            summary.throughput, summary.p50_ms, summary.p99_ms, summary.errors
        );
        let peak_rss_kib = rss(&[&self.customers, &self.orders, &self.emulator], &functions);
        let cpu_after = cpu(self, &functions);
        // Measured over warm-up and measurement alike: per saga answered in both.
        let sagas = summary.ok as f64
            * (1.0 + settings.warmup.as_secs_f64() / settings.measure.as_secs_f64());
        let cpu_ms_per_saga = cpu_after
            .iter()
            .filter_map(|(k, after)| {
                let before = cpu_before.get(k)?;
                Some((k.clone(), (after - before) * 1000.0 / sagas.max(1.0)))
            })
            .collect();
        Ok(Level {
            summary,
            peak_rss_kib,
            cpu_ms_per_saga,
        })
    }

    fn start_functions(
        &self,
        settings: &Settings,
        concurrency: usize,
    ) -> anyhow::Result<Vec<Proc>> {
        let (count, each) = match settings.instances {
            Instances::Shared => (1, concurrency),
            Instances::PerInvocation => (concurrency, 1),
        };
        (0..count)
            .map(|i| {
                stack::function(
                    &format!("orchestrator-{i}"),
                    self.runtime_port,
                    &self.customers_base,
                    &self.orders_base,
                    u32::try_from(each).unwrap_or(u32::MAX),
                    &[],
                )
            })
            .collect()
    }

    /// Process start to first answered invocation, `runs` times.
    async fn cold_starts(
        &self,
        runs: usize,
        customer_id: u64,
        products: &[u64],
    ) -> anyhow::Result<Vec<f64>> {
        let mut out = Vec::with_capacity(runs);
        for i in 0..runs {
            let body = saga_body("bench-cold", i as u64, customer_id, products);
            let client = self.client.clone();
            let url = self.saga_url.clone();
            // The invocation waits in the runtime API until a function polls.
            let pending = tokio::spawn(async move { client.post(url).json(&body).send().await });
            tokio::time::sleep(Duration::from_millis(300)).await;
            let started = Instant::now();
            let mut function = stack::function(
                "orchestrator-cold",
                self.runtime_port,
                &self.customers_base,
                &self.orders_base,
                1,
                &[],
            )?;
            let res = pending.await??;
            let elapsed = started.elapsed();
            anyhow::ensure!(
                res.status().as_u16() == 201,
                "cold-start saga answered {}",
                res.status()
            );
            out.push(elapsed.as_secs_f64() * 1000.0);
            function.kill();
        }
        Ok(out)
    }
}

async fn database_facts(pool: &MySqlPool) -> (String, String) {
    let version: String = sqlx::query_scalar("SELECT VERSION()")
        .fetch_one(pool)
        .await
        .unwrap_or_default();
    let flush: String = sqlx::query_scalar("SELECT CAST(@@innodb_flush_log_at_trx_commit AS CHAR)")
        .fetch_one(pool)
        .await
        .unwrap_or_default();
    let name = if version.to_lowercase().contains("mariadb") {
        format!("MariaDB {version}")
    } else {
        format!("MySQL {version}")
    };
    (name, flush)
}

fn rss(procs: &[&Proc], functions: &[Proc]) -> BTreeMap<String, u64> {
    let mut out = BTreeMap::new();
    for p in procs {
        if let Some(kib) = p.peak_rss_kib() {
            out.insert(p.name.clone(), kib);
        }
    }
    if let Some(max) = functions.iter().filter_map(Proc::peak_rss_kib).max() {
        out.insert("orchestrator (largest instance)".into(), max);
    }
    out
}

/// CPU seconds used so far by each part of the stack, the database and the
/// load generator.
fn cpu(running: &Running, functions: &[Proc]) -> BTreeMap<String, f64> {
    let mut out = BTreeMap::new();
    for p in [&running.customers, &running.orders, &running.emulator] {
        if let Some(s) = p.cpu_seconds() {
            out.insert(p.name.clone(), s);
        }
    }
    out.insert(
        "orchestrator (all instances)".into(),
        functions.iter().filter_map(Proc::cpu_seconds).sum(),
    );
    if let Some(s) = stack::database_pid().and_then(stack::cpu_seconds_of) {
        out.insert("database".into(), s);
    }
    if let Some(s) = stack::cpu_seconds_of(std::process::id()) {
        out.insert("load generator".into(), s);
    }
    out
}

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let db = TestDatabase::create().await;
    let running = Running::start(&settings, &db.url).await?;
    let customer_id = stack::create_customer(&running.client, &running.customers_base).await?;
    let products = Arc::new(
        stack::create_products(
            &running.client,
            &running.orders_base,
            settings.products,
            2990,
            100_000_000,
        )
        .await?,
    );
    let load = Load {
        run_id: format!("bench-{}", fastrand::u64(..)),
        customer_id,
        products,
    };
    eprintln!("cold start: {} runs", settings.cold_starts);
    let cold = running
        .cold_starts(settings.cold_starts, customer_id, &load.products)
        .await
        .context("measuring the cold start")?;
    let mut levels = Vec::new();
    for &c in &settings.levels {
        levels.push(running.level(&settings, &load, c).await?);
    }
    let pool = service_kit::db::pool_options(
        u32::try_from(settings.levels.iter().copied().max().unwrap_or(1)).unwrap_or(64),
        Some(Duration::from_secs(
            orders_api::config::DEFAULT_IDEMPOTENCY_WAIT_SECS,
        )),
    )
    .connect(&db.url)
    .await?;
    let (database, flush) = database_facts(&pool).await;
    let ceilings = if settings.skip_ceiling {
        Vec::new()
    } else {
        ceilings(&pool, &settings, &load).await
    };
    pool.close().await;
    let report = Report {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        commit: git_commit(),
        machine: Machine::describe(database, flush),
        settings: settings.table(),
        targets: targets(&levels, &ceilings, &cold),
        saga: levels,
        ceiling: ceilings,
        cold_start_ms: cold,
    };
    let notes = std::fs::read_to_string(&settings.notes).unwrap_or_default();
    report.write(&settings.out, &notes)?;
    println!("{}", report.markdown(""));
    eprintln!(
        "cold start median {:.1} ms; report in {}",
        median(&report.cold_start_ms),
        settings.out.display()
    );
    Ok(())
}

/// What every level's sagas share: the run's keys, the customer, the products.
struct Load {
    run_id: String,
    customer_id: u64,
    products: Arc<Vec<u64>>,
}

/// The same SQL as a saga's, straight against the database, at each level.
async fn ceilings(pool: &MySqlPool, settings: &Settings, l: &Load) -> Vec<load::Summary> {
    let mut out = Vec::new();
    for &c in &settings.levels {
        eprintln!("ceiling: concurrency {c}");
        let (pool, products, customer_id) = (pool.clone(), Arc::clone(&l.products), l.customer_id);
        let run = format!("{}-ceiling-{c}", l.run_id);
        let summary = load::run(c, settings.warmup, settings.measure, move |n| {
            let pool = pool.clone();
            let product = products[fastrand::usize(..products.len())];
            let key = format!("{run}-{n}");
            async move {
                ceiling::saga_sql(&pool, customer_id, &[(product, 1)], &key)
                    .await
                    .map_err(|e| e.to_string())
            }
        })
        .await;
        eprintln!(
            "  {:.0} sagas/s, p99 {:.1} ms",
            summary.throughput, summary.p99_ms
        );
        out.push(summary);
    }
    out
}

impl Settings {
    /// The settings, as the report lists them.
    fn table(&self) -> BTreeMap<String, String> {
        let profile = if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        };
        [
            ("warm-up s", self.warmup.as_secs_f64().to_string()),
            (
                "measured s per level",
                self.measure.as_secs_f64().to_string(),
            ),
            (
                "products",
                format!("{} (one random product, qty 1, per saga)", self.products),
            ),
            ("orchestrator instances", self.instances.as_str().into()),
            (
                "DB_MAX_CONNECTIONS per API",
                self.db_max_connections.to_string(),
            ),
            ("profile", profile.into()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }
}

/// The goals of the saga's cost, as measured by this run.
fn targets(levels: &[Level], ceilings: &[load::Summary], cold: &[f64]) -> Vec<Target> {
    let mut targets = Vec::new();
    if let Some(l) = levels.iter().find(|l| l.summary.concurrency == 32) {
        let ceiling = ceilings.iter().find(|c| c.concurrency == 32);
        targets.extend(targets_at_32(l, ceiling));
    }
    let errors: u64 = levels.iter().flat_map(|l| l.summary.errors.values()).sum();
    targets.push(target(
        "errors, every level",
        "none",
        errors.to_string(),
        errors == 0,
    ));
    let own_peak = levels
        .iter()
        .flat_map(|l| l.peak_rss_kib.iter())
        .filter(|(name, _)| name.as_str() != "cargo-lambda")
        .max_by_key(|(_, kib)| **kib);
    if let Some((name, kib)) = own_peak {
        targets.push(target(
            "peak RSS of our own processes",
            "≤ 30 MiB each",
            format!("{:.1} MiB ({name})", *kib as f64 / 1024.0),
            *kib <= 30 * 1024,
        ));
    }
    if !cold.is_empty() {
        let m = median(cold);
        targets.push(target(
            "cold start, median",
            "≤ 15 ms",
            format!("{m:.1} ms"),
            m <= 15.0,
        ));
    }
    targets
}

fn target(name: &str, goal: &str, measured: String, met: bool) -> Target {
    Target {
        name: name.into(),
        goal: goal.into(),
        measured,
        met,
    }
}

/// The goals measured at concurrency 32: CPU, p99, share of the ceiling.
fn targets_at_32(l: &Level, ceiling: Option<&load::Summary>) -> Vec<Target> {
    let s = &l.summary;
    let total: f64 = l.cpu_ms_per_saga.values().sum();
    let database = l.cpu_ms_per_saga.get("database").copied().unwrap_or(0.0);
    let mut out = vec![
        target(
            "CPU per saga at concurrency 32, all processes",
            "≤ 3.0 ms",
            format!("{total:.2} ms"),
            total <= 3.0,
        ),
        target(
            "CPU per saga at concurrency 32, database",
            "≤ 1.2 ms",
            format!("{database:.2} ms"),
            database <= 1.2,
        ),
        target(
            "p99 at concurrency 32",
            "≤ 80 ms",
            format!("{:.1} ms", s.p99_ms),
            s.p99_ms <= 80.0,
        ),
    ];
    if let Some(c) = ceiling {
        let share = s.throughput / c.throughput.max(1e-9);
        out.push(target(
            "share of the database ceiling at concurrency 32",
            "≥ 60%",
            format!(
                "{:.0}% ({:.0} of {:.0} sagas/s)",
                share * 100.0,
                s.throughput,
                c.throughput
            ),
            share >= 0.6,
        ));
    }
    out
}
