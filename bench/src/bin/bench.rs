//! `make bench`: the stack as real processes on a fresh database, the saga
//! driven at each concurrency, the same SQL run straight against the database
//! (the ceiling), the orchestrator's cold start, and a report under
//! `bench/results/`.

use std::{collections::BTreeMap, path::PathBuf, sync::Arc, time::Duration};

use anyhow::{anyhow, Context};
use bench::{
    args::Args,
    ceiling, load,
    report::{median, Level, Machine, Report, Target},
    stack::{self, ApiOptions, Proc},
};
use serde_json::json;
use service_kit::testing::TestDatabase;
use sqlx::MySqlPool;
use tokio::time::Instant;

const OPTIONS: &[&str] = &[
    "levels",
    "warmup",
    "seconds",
    "products",
    "instances",
    "db-max-connections",
    "cold-starts",
    "out",
    "notes",
    "skip-ceiling",
];

struct Settings {
    levels: Vec<usize>,
    warmup: Duration,
    measure: Duration,
    products: usize,
    /// `per-invocation`: one function process per concurrent invocation (as
    /// Lambda scales out); `shared`: one process serving them all.
    instances: String,
    db_max_connections: u32,
    cold_starts: usize,
    out: PathBuf,
    notes: PathBuf,
    skip_ceiling: bool,
}

impl Settings {
    fn parse() -> anyhow::Result<Self> {
        let a = Args::parse(OPTIONS)?;
        let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
        let instances: String = a.get("instances", "per-invocation".to_owned())?;
        if !matches!(instances.as_str(), "per-invocation" | "shared") {
            return Err(anyhow!("--instances is per-invocation or shared"));
        }
        Ok(Self {
            levels: a.list("levels", &[1, 8, 32, 64])?,
            warmup: Duration::from_secs_f64(a.get("warmup", 2.0)?),
            measure: Duration::from_secs_f64(a.get("seconds", 10.0)?),
            products: a.get("products", 32)?,
            instances,
            db_max_connections: a.get("db-max-connections", 16)?,
            cold_starts: a.get("cold-starts", 5)?,
            out: a.get("out", root.join("bench/results"))?,
            notes: a.get("notes", root.join("bench/NOTES.md"))?,
            skip_ceiling: a.get("skip-ceiling", false)?,
        })
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
    fn start_functions(
        &self,
        settings: &Settings,
        concurrency: usize,
    ) -> anyhow::Result<Vec<Proc>> {
        let (count, each) = match settings.instances.as_str() {
            "shared" => (1, concurrency),
            _ => (concurrency, 1),
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
    let settings = Settings::parse()?;
    let db = TestDatabase::create().await;
    let api = ApiOptions {
        db_url: db.url.clone(),
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
    let running = Running {
        client: client.clone(),
        saga_url: format!("http://127.0.0.1:{rp}/orchestrator/create-and-confirm-order"),
        customers_base: apis.customers_base,
        orders_base: apis.orders_base,
        runtime_port: rp,
        customers: apis.customers,
        orders: apis.orders,
        emulator,
    };
    let customer_id = stack::create_customer(&client, &running.customers_base).await?;
    let products = Arc::new(
        stack::create_products(
            &client,
            &running.orders_base,
            settings.products,
            2990,
            100_000_000,
        )
        .await?,
    );
    eprintln!("cold start: {} runs", settings.cold_starts);
    let cold = running
        .cold_starts(settings.cold_starts, customer_id, &products)
        .await
        .context("measuring the cold start")?;

    let mut levels = Vec::new();
    let run_id = format!("bench-{}", fastrand::u64(..));
    for &c in &settings.levels {
        let functions = running.start_functions(&settings, c)?;
        stack::wait_ready(
            &client,
            &format!("http://127.0.0.1:{rp}/orchestrator/health"),
            Duration::from_secs(30),
        )
        .await?;
        eprintln!("saga: concurrency {c}");
        let cpu_before = cpu(&running, &functions);
        let (client2, url, products2) = (
            client.clone(),
            running.saga_url.clone(),
            Arc::clone(&products),
        );
        let run = format!("{run_id}-{c}");
        let summary = load::run(c, settings.warmup, settings.measure, move |n| {
            let client = client2.clone();
            let url = url.clone();
            let body = saga_body(&run, n, customer_id, &products2);
            async move { send_saga(&client, &url, &body).await }
        })
        .await;
        eprintln!(
            "  {:.0} sagas/s, p50 {:.1} ms, p99 {:.1} ms, errors {:?}",
            summary.throughput, summary.p50_ms, summary.p99_ms, summary.errors
        );
        let peak = rss(
            &[&running.customers, &running.orders, &running.emulator],
            &functions,
        );
        let cpu_after = cpu(&running, &functions);
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
        levels.push(Level {
            summary,
            peak_rss_kib: peak,
            cpu_ms_per_saga,
        });
        drop(functions);
    }

    let pool = service_kit::db::pool_options(
        u32::try_from(settings.levels.iter().copied().max().unwrap_or(1)).unwrap_or(64),
    )
    .connect(&db.url)
    .await?;
    let (database, flush) = database_facts(&pool).await;
    let mut ceilings = Vec::new();
    if !settings.skip_ceiling {
        for &c in &settings.levels {
            eprintln!("ceiling: concurrency {c}");
            let (pool2, products2) = (pool.clone(), Arc::clone(&products));
            let run = format!("{run_id}-ceiling-{c}");
            let summary = load::run(c, settings.warmup, settings.measure, move |n| {
                let pool = pool2.clone();
                let product = products2[fastrand::usize(..products2.len())];
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
            ceilings.push(summary);
        }
    }

    let mut targets = Vec::new();
    if let Some(l) = levels.iter().find(|l| l.summary.concurrency == 32) {
        let s = &l.summary;
        targets.push(Target {
            name: "throughput at concurrency 32".into(),
            goal: "≥ 1000 sagas/s".into(),
            measured: format!("{:.0} sagas/s", s.throughput),
            met: s.throughput >= 1000.0,
        });
        targets.push(Target {
            name: "p99 at concurrency 32".into(),
            goal: "< 50 ms".into(),
            measured: format!("{:.1} ms", s.p99_ms),
            met: s.p99_ms < 50.0,
        });
        if let Some(c) = ceilings.iter().find(|c| c.concurrency == 32) {
            let share = s.throughput / c.throughput.max(1e-9);
            targets.push(Target {
                name: "share of the database ceiling at concurrency 32".into(),
                goal: "≥ 50%".into(),
                measured: format!(
                    "{:.0}% ({:.0} of {:.0} sagas/s)",
                    share * 100.0,
                    s.throughput,
                    c.throughput
                ),
                met: share >= 0.5,
            });
        }
    }
    let own_peak = levels
        .iter()
        .flat_map(|l| l.peak_rss_kib.iter())
        .filter(|(name, _)| name.as_str() != "cargo-lambda")
        .map(|(name, kib)| (name.clone(), *kib))
        .max_by_key(|(_, kib)| *kib);
    if let Some((name, kib)) = own_peak {
        targets.push(Target {
            name: "peak RSS of our own processes".into(),
            goal: "< 30 MiB each".into(),
            measured: format!("{:.1} MiB ({name})", kib as f64 / 1024.0),
            met: kib < 30 * 1024,
        });
    }

    let mut s = BTreeMap::new();
    s.insert(
        "warm-up s".into(),
        format!("{}", settings.warmup.as_secs_f64()),
    );
    s.insert(
        "measured s per level".into(),
        format!("{}", settings.measure.as_secs_f64()),
    );
    s.insert(
        "products".into(),
        format!(
            "{} (one random product, qty 1, per saga)",
            settings.products
        ),
    );
    s.insert("orchestrator instances".into(), settings.instances.clone());
    s.insert(
        "DB_MAX_CONNECTIONS per API".into(),
        settings.db_max_connections.to_string(),
    );
    s.insert(
        "profile".into(),
        if cfg!(debug_assertions) {
            "debug"
        } else {
            "release"
        }
        .into(),
    );
    let report = Report {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        commit: git_commit(),
        machine: Machine::describe(database, flush),
        settings: s,
        saga: levels,
        ceiling: ceilings,
        cold_start_ms: cold,
        targets,
    };
    let notes = std::fs::read_to_string(&settings.notes).unwrap_or_default();
    report.write(&settings.out, &notes)?;
    println!("{}", report.markdown(""));
    eprintln!(
        "cold start median {:.1} ms; report in {}",
        median(&report.cold_start_ms),
        settings.out.display()
    );
    pool.close().await;
    Ok(())
}
