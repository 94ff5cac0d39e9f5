//! `make bench`: the stack as real processes on a fresh database, the saga
//! driven at each concurrency, then at one concurrency on a hot product and
//! under `cargo lambda watch` as a user runs it; the same SQL run straight
//! against the database (the ceiling); the orchestrator's cold start beside a
//! trivial function's; targets as ratios within the run; a report under
//! `bench/results/`.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use anyhow::Context;
use bench::{
    ceiling, load,
    report::{median, Comparison, Level, Machine, Report, Target},
    stack::{self, ApiOptions, Proc},
};
use clap::{Parser, ValueEnum};
use contracts::{CustomerId, OrderItemInput, ProductId, SagaRequest};
use kit_testing::TestDatabase;
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
    /// The concurrency at which the harnesses and workloads are compared
    /// (the hot product, `cargo lambda watch`).
    #[arg(long, default_value_t = 32)]
    compare_at: usize,
    /// Skip those comparisons (only the levels of the bench's harness).
    #[arg(long)]
    skip_comparisons: bool,
    /// Seconds to let `cargo lambda watch` start its instances.
    #[arg(long, value_parser = bench::args::seconds, default_value = "120")]
    watch_patience: Duration,
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

/// Who starts the function instances.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Harness {
    /// This benchmark: one process per concurrent invocation (or one shared,
    /// `--instances`) polling the runtime API of `cargo lambda watch
    /// --only-lambda-apis`.
    Bench,
    /// `cargo lambda watch --release --concurrency N`, as a user runs it:
    /// cargo-lambda starts the instances itself.
    Watch,
}

impl Harness {
    fn as_str(self) -> &'static str {
        match self {
            Self::Bench => "bench",
            Self::Watch => "cargo lambda watch",
        }
    }
}

/// Which product each saga buys.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Workload {
    /// One of `--products` at random.
    Spread,
    /// Always the same one: every saga waits for the same row lock.
    Hot,
}

impl Workload {
    fn as_str(self) -> &'static str {
        match self {
            Self::Spread => "spread",
            Self::Hot => "hot product",
        }
    }

    fn pick(self, products: &[ProductId]) -> ProductId {
        match self {
            Self::Spread => products[fastrand::usize(..products.len())],
            Self::Hot => products[0],
        }
    }
}

/// The saga request for load number `n`: one unit of `product`.
fn saga_body(key: String, customer_id: CustomerId, product: ProductId) -> SagaRequest {
    SagaRequest {
        customer_id,
        items: vec![OrderItemInput {
            product_id: product,
            qty: 1,
        }],
        idempotency_key: key,
        correlation_id: None,
    }
}

async fn send_saga(client: &reqwest::Client, url: &str, body: &SagaRequest) -> load::Outcome {
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

/// The function instances serving one level, however they were started.
enum Functions {
    Own(Vec<Proc>),
    /// `cargo lambda watch` (runtime API and instances) on its own port.
    Watch {
        watch: Proc,
    },
}

impl Functions {
    /// The pids of the instances alive now.
    fn instance_pids(&self) -> Vec<u32> {
        match self {
            Self::Own(procs) => procs.iter().filter_map(Proc::pid).collect(),
            Self::Watch { watch, .. } => watch
                .pid()
                .map(stack::descendants)
                .unwrap_or_default()
                .into_iter()
                .filter(|(_, name)| name.starts_with("orchestrator"))
                .map(|(pid, _)| pid)
                .collect(),
        }
    }
}

struct Running {
    client: reqwest::Client,
    customers_base: String,
    orders_base: String,
    runtime_port: u16,
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
        let apis = stack::start_apis(&client, &api, None).await?;
        let emulator = stack::emulator(rp)?;
        stack::wait_listening(rp, Duration::from_secs(60)).await?;
        Ok(Self {
            client,
            customers_base: apis.customers_base,
            orders_base: apis.orders_base,
            runtime_port: rp,
            customers: apis.customers,
            orders: apis.orders,
            emulator,
        })
    }

    fn saga_url(port: u16) -> String {
        format!("http://127.0.0.1:{port}/orchestrator/create-and-confirm-order")
    }

    /// Sagas at concurrency `c` sent to the runtime API on `port`, served by
    /// `functions`: throughput and latency, peak memory, and CPU per saga of
    /// every process.
    async fn level(
        &self,
        settings: &Settings,
        l: &Load,
        c: usize,
        functions: &Functions,
        (port, workload): (u16, Workload),
    ) -> anyhow::Result<Level> {
        let harness = match functions {
            Functions::Own(_) => Harness::Bench,
            Functions::Watch { .. } => Harness::Watch,
        };
        let url = Self::saga_url(port);
        eprintln!(
            "saga: concurrency {c}, {}, {}",
            harness.as_str(),
            workload.as_str()
        );
        let cpu_before = self.cpu(functions);
        let (client, products) = (self.client.clone(), Arc::clone(&l.products));
        let (run, customer_id) = (
            format!("{}-{c}-{harness:?}-{workload:?}", l.run_id),
            l.customer_id,
        );
        let summary = load::run(c, settings.warmup, settings.measure, move |n| {
            let (client, url) = (client.clone(), url.clone());
            let body = saga_body(format!("{run}-{n}"), customer_id, workload.pick(&products));
            async move { send_saga(&client, &url, &body).await }
        })
        .await;
        eprintln!(
            "  {:.0} sagas/s, p50 {:.1} ms, p99 {:.1} ms, errors {:?}",
            summary.throughput, summary.p50_ms, summary.p99_ms, summary.errors
        );
        let cpu_after = self.cpu(functions);
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
            peak_rss_kib: self.rss(functions),
            instances: functions.instance_pids().len(),
            summary,
            cpu_ms_per_saga,
        })
    }

    async fn start_functions(
        &self,
        settings: &Settings,
        concurrency: usize,
    ) -> anyhow::Result<Functions> {
        let (count, each) = match settings.instances {
            Instances::Shared => (1, concurrency),
            Instances::PerInvocation => (concurrency, 1),
        };
        let procs = (0..count)
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
            .collect::<anyhow::Result<_>>()?;
        let health = format!("http://127.0.0.1:{}/orchestrator/health", self.runtime_port);
        stack::wait_ready(&self.client, &health, Duration::from_secs(30))
            .await
            .map_err(|e| anyhow::anyhow!("{e:#} (logs in {})", stack::log_dir().display()))?;
        Ok(Functions::Own(procs))
    }

    /// `cargo lambda watch --concurrency c`, driven until it runs `c`
    /// instances (it starts one whenever an invocation finds none idle), so
    /// that the measured level sees them all warm.
    async fn start_watch(
        &self,
        settings: &Settings,
        l: &Load,
        c: usize,
    ) -> anyhow::Result<(Functions, u16)> {
        let port = stack::free_port()?;
        let watch = stack::watch(port, c, &self.customers_base, &self.orders_base)?;
        stack::wait_listening(port, Duration::from_secs(60)).await?;
        let functions = Functions::Watch { watch };
        let until = Instant::now() + settings.watch_patience;
        let mut round = 0;
        while functions.instance_pids().len() < c && Instant::now() < until {
            round += 1;
            let (client, url, products) = (
                self.client.clone(),
                Self::saga_url(port),
                Arc::clone(&l.products),
            );
            let (run, customer_id) = (format!("{}-watch-{c}-{round}", l.run_id), l.customer_id);
            load::run(c, Duration::ZERO, Duration::from_secs(1), move |n| {
                let (client, url) = (client.clone(), url.clone());
                let body = saga_body(
                    format!("{run}-{n}"),
                    customer_id,
                    Workload::Spread.pick(&products),
                );
                async move { send_saga(&client, &url, &body).await }
            })
            .await;
        }
        eprintln!(
            "  cargo lambda watch runs {} instances",
            functions.instance_pids().len()
        );
        Ok((functions, port))
    }

    /// Process start to first answered invocation, `runs` times, of the
    /// orchestrator (a full saga) and of a trivial function that answers at
    /// once, on the same runtime API.
    async fn cold_starts(&self, runs: usize, l: &Load) -> anyhow::Result<(Vec<f64>, Vec<f64>)> {
        let (mut ours, mut trivial) = (Vec::with_capacity(runs), Vec::with_capacity(runs));
        for i in 0..runs {
            ours.push(self.cold_start("orchestrator-lambda", i, l).await?);
            trivial.push(self.cold_start("trivial-lambda", i, l).await?);
        }
        Ok((ours, trivial))
    }

    async fn cold_start(&self, bin: &str, i: usize, l: &Load) -> anyhow::Result<f64> {
        let body = saga_body(
            format!("bench-cold-{bin}-{i}"),
            l.customer_id,
            l.products[0],
        );
        let (client, url) = (self.client.clone(), Self::saga_url(self.runtime_port));
        // The invocation waits in the runtime API until a function polls.
        let pending = tokio::spawn(async move { client.post(url).json(&body).send().await });
        tokio::time::sleep(Duration::from_millis(300)).await;
        let started = Instant::now();
        let bases = (self.customers_base.as_str(), self.orders_base.as_str());
        let name = format!("{bin}-cold");
        let mut function = stack::function_binary(bin, &name, self.runtime_port, bases, 1, &[])?;
        let res = pending.await??;
        let elapsed = started.elapsed();
        function.kill();
        anyhow::ensure!(
            res.status().is_success(),
            "{bin}'s cold-start invocation answered {}",
            res.status()
        );
        Ok(elapsed.as_secs_f64() * 1000.0)
    }

    /// Peak RSS of the APIs, cargo-lambda and the largest function instance.
    fn rss(&self, functions: &Functions) -> BTreeMap<String, u64> {
        let mut out = BTreeMap::new();
        for (name, p) in self.processes(functions) {
            if let Some(kib) = p.pid().and_then(stack::peak_rss_kib_of) {
                out.insert(name.clone(), kib);
            }
        }
        let largest = functions
            .instance_pids()
            .into_iter()
            .filter_map(stack::peak_rss_kib_of)
            .max();
        if let Some(max) = largest {
            out.insert("orchestrator (largest instance)".into(), max);
        }
        out
    }

    /// The APIs and the runtime API serving `functions`, by name: under
    /// `cargo lambda watch`, its own process (the bench's emulator is idle).
    fn processes<'a>(&'a self, functions: &'a Functions) -> [(&'a String, &'a Proc); 3] {
        let emulator = match functions {
            Functions::Own(_) => &self.emulator,
            Functions::Watch { watch } => watch,
        };
        [
            (&self.customers.name, &self.customers),
            (&self.orders.name, &self.orders),
            (&self.emulator.name, emulator),
        ]
    }

    /// CPU seconds used so far by each part of the stack, the database and
    /// the load generator.
    fn cpu(&self, functions: &Functions) -> BTreeMap<String, f64> {
        let mut out = BTreeMap::new();
        for (name, p) in self.processes(functions) {
            if let Some(s) = p.pid().and_then(stack::cpu_seconds_of) {
                out.insert(name.clone(), s);
            }
        }
        out.insert(
            "orchestrator (all instances)".into(),
            functions
                .instance_pids()
                .into_iter()
                .filter_map(stack::cpu_seconds_of)
                .sum(),
        );
        if let Some(s) = stack::database_pid().and_then(stack::cpu_seconds_of) {
            out.insert("database".into(), s);
        }
        if let Some(s) = stack::cpu_seconds_of(std::process::id()) {
            out.insert("load generator".into(), s);
        }
        out
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

fn git_commit() -> String {
    std::process::Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default()
}

/// What the database says of itself, and the ceiling (unless skipped).
async fn database_side(
    url: &str,
    settings: &Settings,
    load: &Load,
) -> anyhow::Result<(String, String, Vec<load::Summary>, Option<load::Summary>)> {
    let pool = kit_server::db::pool_options(
        u32::try_from(settings.levels.iter().copied().max().unwrap_or(1)).unwrap_or(64),
        Some(Duration::from_secs(
            orders_api::config::DEFAULT_IDEMPOTENCY_WAIT_SECS,
        )),
    )
    .connect(url)
    .await?;
    let (database, flush) = database_facts(&pool).await;
    let (ceilings, ceiling_hot) = if settings.skip_ceiling {
        (Vec::new(), None)
    } else {
        ceilings(&pool, settings, load).await
    };
    pool.close().await;
    Ok((database, flush, ceilings, ceiling_hot))
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let settings = Settings::parse();
    let db = TestDatabase::create().await;
    let running = Running::start(&settings, &db.url).await?;
    let load = Load::create(&running, &settings).await?;
    eprintln!("cold start: {} runs", settings.cold_starts);
    let (cold, trivial_cold) = running
        .cold_starts(settings.cold_starts, &load)
        .await
        .context("measuring the cold start")?;
    let instance_start_cpu_ms = if settings.skip_comparisons {
        BTreeMap::new()
    } else {
        instance_start_costs().context("measuring an instance's start")?
    };
    let mut levels = Vec::new();
    for &c in &settings.levels {
        let functions = running.start_functions(&settings, c).await?;
        let spread = (running.runtime_port, Workload::Spread);
        levels.push(
            running
                .level(&settings, &load, c, &functions, spread)
                .await?,
        );
    }
    let comparisons = if settings.skip_comparisons {
        Vec::new()
    } else {
        comparisons(&running, &settings, &load).await?
    };
    let (database, flush, ceilings, ceiling_hot) = database_side(&db.url, &settings, &load).await?;
    let mut report = Report {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        commit: git_commit(),
        machine: Machine::describe(database, flush),
        settings: settings.table(),
        targets: Vec::new(),
        compared_at: settings.compare_at,
        saga: levels,
        comparisons,
        ceiling: ceilings,
        ceiling_hot,
        cold_start_ms: cold,
        trivial_cold_start_ms: trivial_cold,
        instance_start_cpu_ms,
    };
    report.targets = targets(&report);
    let notes = std::fs::read_to_string(&settings.notes).unwrap_or_default();
    report.write(&settings.out, &notes)?;
    println!("{}", report.markdown(""));
    eprintln!("report in {}", settings.out.display());
    Ok(())
}

/// The CPU one instance start costs, the median of 3, as `cargo lambda
/// watch` starts an instance and as the bench does (the binary alone). The
/// first `cargo run` builds what it needs (the package alone resolves other
/// features than the workspace), untimed.
fn instance_start_costs() -> anyhow::Result<BTreeMap<String, f64>> {
    eprintln!(
        "instance start: cargo run --release --bin orchestrator-lambda (built first if need be)"
    );
    stack::function_start_cpu_seconds(true)?;
    let mut out = BTreeMap::new();
    for (via_cargo, name) in [
        (true, "cargo run --release (cargo lambda watch)"),
        (false, "the binary alone (bench)"),
    ] {
        let runs = (0..3)
            .map(|_| stack::function_start_cpu_seconds(via_cargo).map(|s| s * 1000.0))
            .collect::<anyhow::Result<Vec<f64>>>()?;
        out.insert(name.to_owned(), median(&runs));
    }
    Ok(out)
}

/// At `--compare-at`: the hot product under the bench's harness, then both
/// workloads under `cargo lambda watch`. (The bench's harness on the spread
/// workload is the level of the same concurrency.)
async fn comparisons(
    running: &Running,
    settings: &Settings,
    load: &Load,
) -> anyhow::Result<Vec<Comparison>> {
    let c = settings.compare_at;
    let functions = running.start_functions(settings, c).await?;
    let hot = (running.runtime_port, Workload::Hot);
    let mut out = vec![Comparison {
        harness: Harness::Bench.as_str().into(),
        workload: Workload::Hot.as_str().into(),
        level: running.level(settings, load, c, &functions, hot).await?,
    }];
    drop(functions);
    let (functions, port) = running.start_watch(settings, load, c).await?;
    for workload in [Workload::Spread, Workload::Hot] {
        let level = running
            .level(settings, load, c, &functions, (port, workload))
            .await?;
        out.push(Comparison {
            harness: Harness::Watch.as_str().into(),
            workload: workload.as_str().into(),
            level,
        });
    }
    Ok(out)
}

/// What every level's sagas share: the run's keys, the customer, the products.
struct Load {
    run_id: String,
    customer_id: CustomerId,
    products: Arc<Vec<ProductId>>,
}

impl Load {
    /// A customer, and `--products` products with stock enough for any run.
    async fn create(running: &Running, settings: &Settings) -> anyhow::Result<Self> {
        let customer_id = stack::create_customer(&running.client, &running.customers_base).await?;
        let products = stack::create_products(
            &running.client,
            &running.orders_base,
            settings.products.max(1),
            2990,
            100_000_000,
        )
        .await?;
        Ok(Self {
            run_id: format!("bench-{}", fastrand::u64(..)),
            customer_id,
            products: Arc::new(products),
        })
    }
}

/// The same SQL as a saga's, straight against the database, at each level
/// (spread), then on the hot product at `--compare-at`.
async fn ceilings(
    pool: &MySqlPool,
    settings: &Settings,
    l: &Load,
) -> (Vec<load::Summary>, Option<load::Summary>) {
    let mut out = Vec::new();
    for &c in &settings.levels {
        out.push(ceiling(pool, settings, l, c, Workload::Spread).await);
    }
    let hot = if settings.skip_comparisons {
        None
    } else {
        Some(ceiling(pool, settings, l, settings.compare_at, Workload::Hot).await)
    };
    (out, hot)
}

async fn ceiling(
    pool: &MySqlPool,
    settings: &Settings,
    l: &Load,
    c: usize,
    workload: Workload,
) -> load::Summary {
    eprintln!("ceiling: concurrency {c}, {}", workload.as_str());
    let (pool, products, customer_id) = (pool.clone(), Arc::clone(&l.products), l.customer_id);
    let run = format!("{}-ceiling-{c}-{workload:?}", l.run_id);
    let summary = load::run(c, settings.warmup, settings.measure, move |n| {
        let pool = pool.clone();
        let product = workload.pick(&products);
        let key = format!("{run}-{n}");
        async move {
            ceiling::saga_sql(&pool, customer_id, product, &key)
                .await
                .map_err(|e| e.to_string())
        }
    })
    .await;
    eprintln!(
        "  {:.0} sagas/s, p99 {:.1} ms",
        summary.throughput, summary.p99_ms
    );
    summary
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
                format!(
                    "{} (spread: one random product, qty 1, per saga; hot: always the first)",
                    self.products
                ),
            ),
            (
                "harnesses and workloads compared at",
                format!("concurrency {}", self.compare_at),
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

/// The goals, each a ratio of two figures measured in this run (absolute
/// figures move with the machine; see bench/NOTES.md).
fn targets(r: &Report) -> Vec<Target> {
    let at = |h: &str, w: &str| r.comparison(h, w);
    let mut out = Vec::new();
    let (bench_spread, bench_hot) = (at("bench", "spread"), at("bench", "hot product"));
    if let (Some(l), Some(c)) = (
        bench_spread,
        r.ceiling.iter().find(|c| c.concurrency == r.compared_at),
    ) {
        out.push(ratio_target(
            "full stack, share of the database ceiling (spread)",
            (l.summary.throughput, c.throughput),
            "sagas/s",
            (0.6, true),
        ));
    }
    if let (Some(s), Some(h)) = (bench_spread, bench_hot) {
        out.push(ratio_target(
            "hot product, share of the spread workload's sagas/s",
            (h.summary.throughput, s.summary.throughput),
            "sagas/s",
            (0.7, true),
        ));
    }
    if let Some(w) = at("cargo lambda watch", "spread") {
        let cpu = |l: &Level, k: &str| l.cpu_ms_per_saga.get(k).copied().unwrap_or(0.0);
        out.push(ratio_target(
            "cargo lambda watch: the orchestrator's CPU per saga against orders-api's",
            (cpu(w, "orchestrator (all instances)"), cpu(w, "orders-api")),
            "ms",
            (1.0, false),
        ));
        if let Some(b) = bench_spread {
            out.push(ratio_target(
                "cargo lambda watch: CPU per saga of all processes against the bench harness's",
                (w.cpu_total(), b.cpu_total()),
                "ms",
                (1.2, false),
            ));
        }
    }
    let warm = r.saga.iter().find(|l| l.summary.concurrency == 1);
    if let (Some(warm), false) = (
        warm,
        r.cold_start_ms.is_empty() || r.trivial_cold_start_ms.is_empty(),
    ) {
        let added = median(&r.cold_start_ms) - median(&r.trivial_cold_start_ms);
        out.push(ratio_target(
            "cold start: what it adds to a trivial function's, against a warm saga's p50 at concurrency 1",
            (added, warm.summary.p50_ms),
            "ms",
            (COLD_START_RATIO, false),
        ));
    }
    out.extend(absolute_targets(r));
    out
}

/// A cold start does what a trivial function's does, plus reading the
/// configuration, building the clients, and a first saga on fresh
/// connections (TCP handshakes to both APIs, their first statements): at
/// most two warm sagas' time more.
const COLD_START_RATIO: f64 = 2.0;

/// `measured.0 / measured.1` against `goal.0`: at least (`goal.1`) or at most.
fn ratio_target(name: &str, measured: (f64, f64), unit: &str, goal: (f64, bool)) -> Target {
    let ratio = measured.0 / measured.1.max(1e-9);
    let (limit, at_least) = goal;
    let percent = unit == "sagas/s";
    let show = |v: f64| {
        if percent {
            format!("{:.0}%", v * 100.0)
        } else {
            format!("{v:.2}×")
        }
    };
    target(
        name,
        &format!("{} {}", if at_least { "≥" } else { "≤" }, show(limit)),
        format!(
            "{} ({:.2} vs {:.2} {unit})",
            show(ratio),
            measured.0,
            measured.1
        ),
        if at_least {
            ratio >= limit
        } else {
            ratio <= limit
        },
    )
}

/// What holds on any machine: no errors, and memory (which does not move
/// with the CPU's speed).
fn absolute_targets(r: &Report) -> Vec<Target> {
    let levels: Vec<&Level> = r
        .saga
        .iter()
        .chain(r.comparisons.iter().map(|c| &c.level))
        .collect();
    let errors: u64 = levels.iter().flat_map(|l| l.summary.errors.values()).sum();
    let mut out = vec![target(
        "errors, every level and comparison",
        "none",
        errors.to_string(),
        errors == 0,
    )];
    let own_peak = levels
        .iter()
        .flat_map(|l| l.peak_rss_kib.iter())
        .filter(|(name, _)| name.as_str() != "cargo-lambda")
        .max_by_key(|(_, kib)| **kib);
    if let Some((name, kib)) = own_peak {
        out.push(target(
            "peak RSS of our own processes",
            "≤ 30 MiB each",
            format!("{:.1} MiB ({name})", *kib as f64 / 1024.0),
            *kib <= 30 * 1024,
        ));
    }
    out
}

fn target(name: &str, goal: &str, measured: String, met: bool) -> Target {
    Target {
        name: name.into(),
        goal: goal.into(),
        measured,
        met,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_targets_compare_the_ratio_with_the_goal_either_way() {
        let at_least = |a| ratio_target("share", (a, 100.0), "sagas/s", (0.6, true));
        assert!(at_least(60.0).met);
        assert!(!at_least(59.0).met);
        assert_eq!(at_least(59.0).measured, "59% (59.00 vs 100.00 sagas/s)");
        let at_most = |a| ratio_target("cpu", (a, 2.0), "ms", (1.0, false));
        assert!(at_most(2.0).met);
        assert!(!at_most(2.2).met);
        assert_eq!(at_most(2.2).goal, "≤ 1.00×");
    }

    #[test]
    fn the_hot_workload_always_picks_the_first_product() {
        let products = [ProductId(7), ProductId(8), ProductId(9)];
        assert!((0..50).all(|_| Workload::Hot.pick(&products) == ProductId(7)));
        assert!((0..50).all(|_| products.contains(&Workload::Spread.pick(&products))));
    }
}
