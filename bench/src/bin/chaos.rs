//! `make chaos`: sagas on products with limited stock while a proxy between
//! the orchestrator and orders-api injects 500s, delays beyond the per-attempt
//! timeout and dropped connections, orders-api is killed (SIGKILL) and
//! restarted, and for a while customers-api answers seconds late (a second
//! proxy in front of it). Afterwards, and after the reservation TTL, it checks
//! and prints:
//!
//! - while customers-api was slow, orders-api kept serving reads at once, and
//!   creates that need customers-api answered within their deadline;
//! - every answer was a 201 or a clean error document;
//! - no order is left CREATED;
//! - the stock invariant holds for every product;
//! - no key made two orders, and every 201's order is CONFIRMED;
//! - a replay of every key returns its first answer.
//!
//! Exits non-zero when a check fails.

use std::{
    collections::{BTreeMap, BTreeSet},
    fmt::Write as _,
    path::PathBuf,
    sync::{
        atomic::{AtomicUsize, Ordering},
        Arc,
    },
    time::Duration,
};

use anyhow::Context;
use bench::{
    proxy::{self, Faults, Rates},
    stack::{self, ApiOptions, Proc},
};
use clap::Parser;
use contracts::{CustomerId, OrderInput, OrderItemInput, ProductId, SagaRequest};
use futures_util::{stream, StreamExt};
use kit_server::deadline;
use kit_testing::TestDatabase;
use serde::Serialize;
use serde_json::{json, Value};
use sqlx::MySqlPool;
use tokio::sync::Mutex;

/// Sagas through a fault-injecting proxy in front of orders-api, with
/// orders-api killed and restarted mid-run and twin requests, then the
/// invariants checked: no oversell, no lost or doubled order, every replay the
/// same answer, every reservation released. Writes
/// `<out>/<date>-chaos.{md,json}`.
#[derive(Parser)]
#[command(name = "chaos")]
struct Options {
    /// Sagas to send.
    #[arg(long, default_value_t = 1000)]
    sagas: usize,
    /// Sagas in flight at once.
    #[arg(long, default_value_t = 16)]
    concurrency: usize,
    /// Units of stock of each product (less than the sagas ask for in all).
    #[arg(long, default_value_t = 150)]
    stock: u32,
    /// Products the sagas pick from.
    #[arg(long, default_value_t = 3)]
    products: usize,
    /// Probability of each fault the proxy injects (0..=1).
    #[arg(long, value_parser = bench::args::fraction, default_value = "0.03")]
    fault_rate: f64,
    /// Times orders-api is killed (SIGKILL) and restarted during the run.
    #[arg(long, default_value_t = 2)]
    kills: usize,
    /// Every N-th saga is sent twice, the copy 50-500 ms later (0: none).
    #[arg(long, default_value_t = 5)]
    twins: usize,
    /// Seconds customers-api answers late during the slow window (0: no
    /// window). It opens once 40% of the sagas are answered.
    #[arg(long, value_parser = bench::args::seconds, default_value = "3")]
    slow_customers: Duration,
    /// Seconds the slow window lasts.
    #[arg(long, value_parser = bench::args::seconds, default_value = "6")]
    slow_for: Duration,
    /// Where the report goes.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
}

impl Options {
    /// The run, in a line.
    fn describe(&self) -> String {
        format!(
            "{} sagas at concurrency {} on {} products of stock {}; \
             each fault at {:.0}% of requests to orders-api; {} kills",
            self.sagas,
            self.concurrency,
            self.products,
            self.stock,
            self.fault_rate * 100.0,
            self.kills
        )
    }
}

/// One saga as first answered.
#[derive(Debug, Clone, Serialize)]
struct Answer {
    key: String,
    body: SagaRequest,
    status: u16,
    response: Value,
}

#[derive(Debug, Default, Serialize)]
struct Check {
    name: String,
    passed: bool,
    detail: String,
}

#[derive(Debug, Serialize)]
struct ChaosReport {
    date: String,
    sagas: usize,
    concurrency: usize,
    products: usize,
    stock_per_product: u32,
    fault_rate_per_kind: f64,
    orders_api_kills: usize,
    /// Sagas sent a second time, 50-500 ms after the first.
    twin_requests: usize,
    faults: BTreeMap<String, u64>,
    first_answers: BTreeMap<String, u64>,
    replays_of_retriable_failures: BTreeMap<String, u64>,
    slow_window: Option<SlowWindow>,
    checks: Vec<Check>,
}

/// What orders-api answered, called directly, while customers-api was slow.
#[derive(Debug, Default, Serialize)]
struct SlowWindow {
    delay_ms: u64,
    seconds: f64,
    /// `GET /products/{id}`, one after another: answers by status.
    reads: BTreeMap<String, u64>,
    slowest_read_ms: f64,
    /// `POST /orders` (which checks the customer) from 8 workers, each with
    /// `X-Request-Timeout-Ms`: answers by status and code.
    creates: BTreeMap<String, u64>,
    slowest_create_ms: f64,
    create_deadline_ms: u64,
}

/// A clean error document: the saga's failure shape, nothing else.
fn clean_error(status: u16, v: &Value) -> bool {
    matches!(status, 400 | 404 | 409 | 422 | 502 | 504)
        && v["success"] == json!(false)
        && v["correlationId"].as_str().is_some_and(|s| !s.is_empty())
        && v["error"]["code"].as_str().is_some_and(|s| !s.is_empty())
        && v["error"]["message"].is_string()
        && v["error"]["retriable"].is_boolean()
}

fn label(status: u16, v: &Value) -> String {
    if status == 201 {
        "201".into()
    } else {
        format!("{status} {}", v["error"]["code"].as_str().unwrap_or("?"))
    }
}

/// What must match between two answers of one key: the status, and the data
/// or the error (the correlation id is per request).
fn same_answer(a_status: u16, a: &Value, b_status: u16, b: &Value) -> bool {
    a_status == b_status && a["data"] == b["data"] && a["error"] == b["error"]
}

async fn send(client: &reqwest::Client, url: &str, body: &SagaRequest) -> (u16, Value) {
    match client.post(url).json(body).send().await {
        Ok(res) => {
            let status = res.status().as_u16();
            let text = res.text().await.unwrap_or_default();
            (
                status,
                serde_json::from_str(&text).unwrap_or(Value::String(text)),
            )
        }
        Err(e) => (0, Value::String(format!("transport error: {e}"))),
    }
}

fn check(name: &str, passed: bool, detail: String) -> Check {
    println!(
        "[{}] {name}: {detail}",
        if passed { "PASS" } else { "FAIL" }
    );
    Check {
        name: name.into(),
        passed,
        detail,
    }
}

/// A status and body that is not final: a 5xx that does not say
/// `retriable: false`, or a twin's `409 saga_in_progress` (another request
/// owns the saga).
fn retriable(status: u16, v: &Value) -> bool {
    (status >= 500 && v["error"]["retriable"] != json!(false))
        || (status == 409 && v["error"]["code"] == "saga_in_progress")
}

/// How long a reservation holds stock in this run.
const RESERVATION_TTL_SECS: u64 = 6;
/// The orchestrator's per-attempt timeout; the proxy's delays exceed it.
const ATTEMPT_TIMEOUT_MS: u64 = 400;

/// Both APIs, the fault proxy in front of orders-api, and the Lambda
/// emulator with one orchestrator per saga in flight.
struct Stack {
    client: reqwest::Client,
    api: ApiOptions,
    customers_base: String,
    orders_base: String,
    orders_port: u16,
    /// Replaced when the killer restarts it.
    orders: Arc<Mutex<Proc>>,
    faults: Arc<Faults>,
    /// Where orders-api and the orchestrator reach customers-api: a proxy
    /// that holds every request while `slow` is enabled.
    customers_front: String,
    slow: Arc<Faults>,
    saga_url: String,
    _customers: Proc,
    _emulator: Proc,
    _functions: Vec<Proc>,
}

impl Stack {
    async fn start(opts: &Options, db_url: &str) -> anyhow::Result<Self> {
        let api = ApiOptions {
            db_url: db_url.to_owned(),
            db_max_connections: 16,
            reservation_ttl_secs: RESERVATION_TTL_SECS,
            sweep_interval_secs: 1,
        };
        let (pp, rp) = (stack::free_port()?, stack::free_port()?);
        let client = reqwest::Client::builder()
            .default_headers(stack::caller_headers()?)
            .timeout(Duration::from_secs(60))
            .build()?;
        let slow = Faults::slow(opts.slow_customers);
        let apis = stack::start_apis(&client, &api, Some(Arc::clone(&slow))).await?;
        let faults = fault_proxy(pp, &apis.orders_base, opts.fault_rate).await?;
        let emulator = stack::emulator(rp)?;
        stack::wait_listening(rp, Duration::from_secs(60)).await?;
        let env = [
            ("DOWNSTREAM_TIMEOUT_MS", ATTEMPT_TIMEOUT_MS.to_string()),
            ("RETRY_MAX_ATTEMPTS", "5".to_owned()),
            ("SAGA_TIMEOUT_MS", "20000".to_owned()),
        ];
        let proxied = format!("http://127.0.0.1:{pp}");
        let functions: Vec<Proc> = (0..opts.concurrency)
            .map(|i| {
                let name = format!("orchestrator-{i}");
                stack::function(&name, rp, &apis.customers_front, &proxied, 1, &env)
            })
            .collect::<anyhow::Result<_>>()?;
        let health = format!("http://127.0.0.1:{rp}/orchestrator/health");
        stack::wait_ready(&client, &health, Duration::from_secs(30))
            .await
            .map_err(with_logs)?;
        Ok(Self {
            client,
            api,
            customers_base: apis.customers_base,
            orders_base: apis.orders_base,
            orders_port: apis.orders_port,
            orders: Arc::new(Mutex::new(apis.orders)),
            faults,
            customers_front: apis.customers_front,
            slow,
            saga_url: format!("http://127.0.0.1:{rp}/orchestrator/create-and-confirm-order"),
            _customers: apis.customers,
            _emulator: emulator,
            _functions: functions,
        })
    }

    /// The sagas' bodies: one key each, one or two products, 1-2 units; and
    /// what the slow window's direct calls use.
    async fn sagas(
        &self,
        opts: &Options,
    ) -> anyhow::Result<(Vec<ProductId>, Vec<SagaRequest>, Probe)> {
        let customer_id = stack::create_customer(&self.client, &self.customers_base).await?;
        let probe = Probe {
            product: stack::create_products(&self.client, &self.orders_base, 1, 100, 1_000_000)
                .await?[0],
            customer_id,
            run: format!("chaos-probe-{}", fastrand::u64(..)),
        };
        let products = stack::create_products(
            &self.client,
            &self.orders_base,
            opts.products,
            4990,
            opts.stock,
        )
        .await?;
        let run = format!("chaos-{}", fastrand::u64(..));
        let bodies = (0..opts.sagas)
            .map(|i| {
                let first = products[i % products.len()];
                let mut items = vec![OrderItemInput {
                    product_id: first,
                    qty: 1 + fastrand::u32(..2),
                }];
                let other = products[(i + 1) % products.len()];
                if fastrand::bool() && other != first {
                    items.push(OrderItemInput {
                        product_id: other,
                        qty: 1,
                    });
                }
                SagaRequest {
                    customer_id,
                    items,
                    idempotency_key: format!("{run}-{i}"),
                    correlation_id: None,
                }
            })
            .collect();
        Ok((products, bodies, probe))
    }

    /// Kills orders-api (SIGKILL) and restarts it at evenly spaced points of
    /// the run, as `done` counts answered sagas (never while customers-api is
    /// slow: that window judges a running orders-api).
    fn killer(&self, opts: &Options, done: Arc<AtomicUsize>) -> tokio::task::JoinHandle<()> {
        let (orders, customers_front, api, slow) = (
            Arc::clone(&self.orders),
            self.customers_front.clone(),
            self.api.clone(),
            Arc::clone(&self.slow),
        );
        let (sagas, kills, port) = (opts.sagas, opts.kills, self.orders_port);
        tokio::spawn(async move {
            for k in 1..=kills {
                let at = sagas * k / (kills + 1);
                while done.load(Ordering::Relaxed) < at || slow.enabled.load(Ordering::Relaxed) {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let mut proc = orders.lock().await;
                proc.kill();
                println!("orders-api killed (SIGKILL) after {at} sagas; restarting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                match stack::orders_api(port, &customers_front, &api) {
                    Ok(p) => *proc = p,
                    Err(e) => eprintln!("restarting orders-api: {e:#}"),
                }
            }
        })
    }

    /// Sends every job (a body, and a delay for twins), `concurrency` at a
    /// time, while the killer works; then turns the faults off and waits for
    /// orders-api to be ready.
    async fn run(
        &self,
        opts: &Options,
        jobs: Vec<(SagaRequest, u64)>,
        probe: Probe,
    ) -> anyhow::Result<(Vec<Answer>, Option<SlowWindow>)> {
        let done = Arc::new(AtomicUsize::new(0));
        let killer = self.killer(opts, Arc::clone(&done));
        let window = self.slow_window(opts, Arc::clone(&done), probe);
        let sagas = stream::iter(jobs)
            .map(|(body, delay_ms)| {
                let (client, url, done) = (&self.client, &self.saga_url, Arc::clone(&done));
                async move {
                    tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                    let (status, response) = send(client, url, &body).await;
                    done.fetch_add(1, Ordering::Relaxed);
                    Answer {
                        key: body.idempotency_key.clone(),
                        body,
                        status,
                        response,
                    }
                }
            })
            .buffer_unordered(opts.concurrency)
            .collect::<Vec<Answer>>();
        let (answers, window) = tokio::join!(sagas, window);
        killer.await.context("the killer task")?;
        self.faults.enabled.store(false, Ordering::Relaxed);
        let ready = format!("{}/ready", self.orders_base);
        stack::wait_ready(&self.client, &ready, Duration::from_secs(30))
            .await
            .map_err(with_logs)?;
        Ok((answers, window))
    }

    /// Once 40% of the sagas are answered, customers-api answers
    /// `--slow-customers` late for `--slow-for`, while orders-api is called
    /// directly: reads one after another, and creates (which check the
    /// customer) from 8 workers under a deadline.
    async fn slow_window(
        &self,
        opts: &Options,
        done: Arc<AtomicUsize>,
        probe: Probe,
    ) -> Option<SlowWindow> {
        if opts.slow_customers.is_zero() {
            return None;
        }
        while done.load(Ordering::Relaxed) < opts.sagas * 2 / 5 {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        self.slow.enabled.store(true, Ordering::Relaxed);
        println!(
            "customers-api slowed by {:?} for {:?}",
            opts.slow_customers, opts.slow_for
        );
        let until = tokio::time::Instant::now() + opts.slow_for;
        let creates = (0..8).map(|w| self.probe_creates(w, &probe, until));
        let (reads, creates) = tokio::join!(
            self.probe_reads(probe.product, until),
            futures_util::future::join_all(creates)
        );
        self.slow.enabled.store(false, Ordering::Relaxed);
        let mut window = SlowWindow {
            delay_ms: millis(opts.slow_customers),
            seconds: opts.slow_for.as_secs_f64(),
            create_deadline_ms: PROBE_DEADLINE_MS,
            ..SlowWindow::default()
        };
        (window.reads, window.slowest_read_ms) = reads;
        for (labels, slowest) in creates {
            for (k, v) in labels {
                *window.creates.entry(k).or_default() += v;
            }
            window.slowest_create_ms = window.slowest_create_ms.max(slowest);
        }
        Some(window)
    }

    /// `GET /products/{id}` until `until`, one after another.
    async fn probe_reads(
        &self,
        product: ProductId,
        until: tokio::time::Instant,
    ) -> (BTreeMap<String, u64>, f64) {
        let url = format!("{}/products/{product}", self.orders_base);
        let mut tally = Tally::default();
        while tokio::time::Instant::now() < until {
            let started = tokio::time::Instant::now();
            let req = self.client.get(&url);
            tally.add(probe_send(req).await, started);
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        (tally.labels, tally.slowest_ms)
    }

    /// `POST /orders` until `until`, each with a fresh key and a deadline.
    async fn probe_creates(
        &self,
        worker: usize,
        probe: &Probe,
        until: tokio::time::Instant,
    ) -> (BTreeMap<String, u64>, f64) {
        let url = format!("{}/orders", self.orders_base);
        let body = OrderInput {
            customer_id: probe.customer_id,
            items: vec![OrderItemInput {
                product_id: probe.product,
                qty: 1,
            }],
        };
        let mut tally = Tally::default();
        for n in 0.. {
            let started = tokio::time::Instant::now();
            if started >= until {
                break;
            }
            let req = self
                .client
                .post(&url)
                .header(
                    contracts::headers::IDEMPOTENCY_KEY,
                    format!("{}-{worker}-{n}", probe.run),
                )
                .header(deadline::HEADER_NAME, PROBE_DEADLINE_MS.to_string())
                .json(&body);
            tally.add(probe_send(req).await, started);
        }
        (tally.labels, tally.slowest_ms)
    }

    /// Sends `bodies` again, `concurrency` at a time, in order.
    async fn replay_all(&self, bodies: Vec<SagaRequest>, concurrency: usize) -> Vec<(u16, Value)> {
        stream::iter(bodies)
            .map(|body| async move { send(&self.client, &self.saga_url, &body).await })
            .buffered(concurrency)
            .collect()
            .await
    }
}

/// The deadline the creates of the slow window give orders-api.
const PROBE_DEADLINE_MS: u64 = 2000;

/// What the slow window's calls to orders-api use: a product of their own
/// (so they take no stock from the sagas), the sagas' customer, a key prefix.
struct Probe {
    product: ProductId,
    customer_id: CustomerId,
    run: String,
}

/// Answers by label, and the slowest.
#[derive(Default)]
struct Tally {
    labels: BTreeMap<String, u64>,
    slowest_ms: f64,
}

impl Tally {
    fn add(&mut self, label: String, started: tokio::time::Instant) {
        *self.labels.entry(label).or_default() += 1;
        self.slowest_ms = self
            .slowest_ms
            .max(started.elapsed().as_secs_f64() * 1000.0);
    }
}

/// A call to orders-api, labelled `200`, or `503 customers_unavailable`
/// (the problem's code), or `transport error`.
async fn probe_send(req: reqwest::RequestBuilder) -> String {
    let Ok(res) = req.send().await else {
        return "transport error".into();
    };
    let status = res.status().as_u16();
    let body: Value = res.json().await.unwrap_or_default();
    match body["code"].as_str() {
        Some(code) if status >= 400 => format!("{status} {code}"),
        _ => status.to_string(),
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

fn with_logs(e: anyhow::Error) -> anyhow::Error {
    anyhow::anyhow!("{e:#} (logs in {})", stack::log_dir().display())
}

/// Twins follow their original in the stream, so that both run at once:
/// every `every`-th body is sent again 50-500 ms after the first.
fn with_twins(bodies: Vec<SagaRequest>, every: usize) -> Vec<(SagaRequest, u64)> {
    bodies
        .into_iter()
        .enumerate()
        .flat_map(|(i, body)| {
            let twin =
                (every > 0 && i % every == 0).then(|| (body.clone(), 50 + fastrand::u64(..450)));
            std::iter::once((body, 0)).chain(twin)
        })
        .collect()
}

/// Every key sent again with the faults off. A final answer (201, 4xx, or a
/// 5xx that says `retriable: false`) must come back as it was. A retriable
/// failure (the outcome was unknown) is not an answer to keep but a request
/// to send again: the replay must settle on a final answer, and a second
/// replay must return exactly that.
struct Replays {
    /// Each key's replay, in the order of the first answers.
    first: Vec<(u16, Value)>,
    /// The indices of the keys first answered with a retriable failure.
    unsettled: Vec<usize>,
    /// What those settled on, as a client retrying each second for 60 s saw.
    settled: BTreeMap<usize, (u16, Value)>,
    /// Their replay once settled.
    second: Vec<(u16, Value)>,
    rounds: usize,
}

impl Replays {
    async fn collect(stack: &Stack, answers: &[Answer], concurrency: usize) -> Self {
        let bodies = |indices: &[usize]| indices.iter().map(|&i| answers[i].body.clone()).collect();
        let first = stack
            .replay_all(
                answers.iter().map(|a| a.body.clone()).collect(),
                concurrency,
            )
            .await;
        let unsettled: Vec<usize> = (0..answers.len())
            .filter(|&i| retriable(answers[i].status, &answers[i].response))
            .collect();
        // A replay that is final settles its key at once; the others are
        // sent again each second until they are.
        let mut settled: BTreeMap<usize, (u16, Value)> = unsettled
            .iter()
            .filter(|&&i| !retriable(first[i].0, &first[i].1))
            .map(|&i| (i, first[i].clone()))
            .collect();
        let mut rounds = 0;
        let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
        loop {
            let pending: Vec<usize> = unsettled
                .iter()
                .copied()
                .filter(|i| !settled.contains_key(i))
                .collect();
            if pending.is_empty() || tokio::time::Instant::now() > give_up {
                break;
            }
            rounds += 1;
            tokio::time::sleep(Duration::from_secs(1)).await;
            let again = stack.replay_all(bodies(&pending), concurrency).await;
            for (i, answer) in pending.into_iter().zip(again) {
                if !retriable(answer.0, &answer.1) {
                    settled.insert(i, answer);
                }
            }
        }
        let second = stack.replay_all(bodies(&unsettled), concurrency).await;
        Self {
            first,
            unsettled,
            settled,
            second,
            rounds,
        }
    }

    /// Each key's last answer.
    fn finals(&self) -> Vec<&(u16, Value)> {
        let mut finals: Vec<&(u16, Value)> = self.first.iter().collect();
        for (&i, answer) in self.unsettled.iter().zip(&self.second) {
            finals[i] = answer;
        }
        finals
    }

    /// Every answer the replays gave.
    fn all(&self) -> impl Iterator<Item = &(u16, Value)> {
        self.first
            .iter()
            .chain(&self.second)
            .chain(self.settled.values())
    }
}

/// A fault proxy on `port` in front of `orders_base`: each kind of fault
/// at `rate`.
async fn fault_proxy(port: u16, orders_base: &str, rate: f64) -> anyhow::Result<Arc<Faults>> {
    let faults = Faults::new(
        Rates {
            error_before: rate,
            error_after: rate,
            delay: rate,
            drop_before: rate,
            drop_after: rate,
        },
        Duration::from_millis(ATTEMPT_TIMEOUT_MS * 3 / 2),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    tokio::spawn(proxy::serve(
        listener,
        orders_base.to_owned(),
        Arc::clone(&faults),
    ));
    Ok(faults)
}

/// Where the run ended: what the checks after it look at.
struct Settled<'a> {
    stack: &'a Stack,
    pool: &'a MySqlPool,
    answers: &'a [Answer],
    twins: usize,
}

impl Settled<'_> {
    /// The invariants, once the TTL has run out, and how retriable failures
    /// settled on replay.
    async fn checks(
        &self,
        opts: &Options,
        products: &[ProductId],
    ) -> anyhow::Result<(Vec<Check>, BTreeMap<String, u64>)> {
        let (pool, answers) = (self.pool, self.answers);
        let mut checks = vec![
            check_clean(answers),
            check_none_created(pool).await?,
            check_stock(pool, products, opts.stock).await?,
            check_order_events(pool).await?,
            check_stock_events(pool, products).await?,
        ];
        let replays = Replays::collect(self.stack, answers, opts.concurrency).await;
        let (replay_check, replays_of_retriable) = check_replays(answers, &replays);
        checks.push(replay_check);
        checks.push(check_one_order_per_key(pool, answers, &replays).await?);
        checks.push(check_no_contradiction(pool, answers, &replays, self.twins).await?);
        Ok((checks, replays_of_retriable))
    }
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let opts = Options::parse();
    let db = TestDatabase::create().await;
    let stack = Stack::start(&opts, &db.url).await?;
    let (products, bodies, probe) = stack.sagas(&opts).await?;
    println!("{}", opts.describe());
    let jobs = with_twins(bodies, opts.twins);
    let twins = jobs.iter().filter(|(_, delay)| *delay > 0).count();
    println!("{twins} sagas also sent as twins");
    let (answers, slow_window) = stack.run(&opts, jobs, probe).await?;
    let fault_counts = stack.faults.counts();
    let first_answers = tally(&answers);
    println!("first answers: {first_answers:?}");
    println!("faults: {fault_counts:?}");

    // Stock still held by abandoned reservations goes back after the TTL.
    let wait = RESERVATION_TTL_SECS + 3;
    println!("waiting {wait} s for the reservation TTL and the sweeper");
    tokio::time::sleep(Duration::from_secs(wait)).await;

    let pool = MySqlPool::connect(&db.url).await?;
    let mut checks: Vec<Check> = slow_window.iter().flat_map(check_slow_window).collect();
    let settled = Settled {
        stack: &stack,
        pool: &pool,
        answers: &answers,
        twins,
    };
    let (more, replays_of_retriable) = settled.checks(&opts, &products).await?;
    checks.extend(more);
    pool.close().await;

    let report = ChaosReport {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        sagas: opts.sagas,
        concurrency: opts.concurrency,
        products: opts.products,
        stock_per_product: opts.stock,
        fault_rate_per_kind: opts.fault_rate,
        orders_api_kills: opts.kills,
        twin_requests: twins,
        faults: fault_counts,
        first_answers,
        replays_of_retriable_failures: replays_of_retriable,
        slow_window,
        checks,
    };
    write_report(&opts.out, &report)?;
    if report.checks.iter().all(|c| c.passed) {
        println!("chaos: all checks passed");
        Ok(())
    } else {
        Err(with_logs(anyhow::anyhow!("chaos: some checks failed")))
    }
}

/// While customers-api was slow: every read answered 200 in less than half
/// the delay (a read queued behind a pinned database connection would wait
/// out the delay), and every create answered within its deadline (plus a
/// second of slack) with a 201 or a clean problem.
fn check_slow_window(w: &SlowWindow) -> [Check; 2] {
    let reads: u64 = w.reads.values().sum();
    let read_limit = w.delay_ms as f64 / 2.0;
    let creates: u64 = w.creates.values().sum();
    let create_limit = (w.create_deadline_ms + 1000) as f64;
    let fine = ["201", "503 customers_unavailable", "504 deadline_exceeded"];
    [
        check(
            "customers-api slow: orders-api kept serving reads at once",
            reads > 0 && w.reads.keys().all(|k| k == "200") && w.slowest_read_ms < read_limit,
            format!(
                "{reads} reads in {:.0} s of a {} ms delay: {:?}, slowest {:.1} ms (limit {read_limit:.0})",
                w.seconds, w.delay_ms, w.reads, w.slowest_read_ms
            ),
        ),
        check(
            "customers-api slow: creates answered within their deadline, cleanly",
            creates > 0
                && w.creates.keys().all(|k| fine.contains(&k.as_str()))
                && w.slowest_create_ms <= create_limit,
            format!(
                "{creates} creates with a {} ms deadline: {:?}, slowest {:.0} ms (limit {create_limit:.0})",
                w.create_deadline_ms, w.creates, w.slowest_create_ms
            ),
        ),
    ]
}

/// How many first answers had each label.
fn tally(answers: &[Answer]) -> BTreeMap<String, u64> {
    let mut out: BTreeMap<String, u64> = BTreeMap::new();
    for a in answers {
        *out.entry(label(a.status, &a.response)).or_default() += 1;
    }
    out
}

fn check_clean(answers: &[Answer]) -> Check {
    let unclean: Vec<&Answer> = answers
        .iter()
        .filter(|a| {
            let ok = a.status == 201
                && a.response["success"] == json!(true)
                && a.response["data"]["order"]["status"] == "CONFIRMED";
            !ok && !clean_error(a.status, &a.response)
        })
        .collect();
    check(
        "every answer is a 201 or a clean error document",
        unclean.is_empty(),
        match unclean.first() {
            None => format!("{} answers", answers.len()),
            Some(a) => format!(
                "{} unclean, e.g. {} {}",
                unclean.len(),
                a.status,
                a.response
            ),
        },
    )
}

async fn check_none_created(pool: &MySqlPool) -> anyhow::Result<Check> {
    let created: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'CREATED'")
        .fetch_one(pool)
        .await?;
    Ok(check(
        "no order is left CREATED",
        created == 0,
        format!("{created} CREATED"),
    ))
}

async fn check_stock(
    pool: &MySqlPool,
    products: &[ProductId],
    stock: u32,
) -> anyhow::Result<Check> {
    let mut broken = Vec::new();
    for &p in products {
        let current: i64 =
            sqlx::query_scalar("SELECT CAST(stock AS SIGNED) FROM products WHERE id = ?")
                .bind(p.get())
                .fetch_one(pool)
                .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(i.qty), 0) AS SIGNED) FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE i.product_id = ? AND o.status IN ('CREATED', 'CONFIRMED')",
        )
        .bind(p.get())
        .fetch_one(pool)
        .await?;
        if i64::from(stock) != current + held {
            broken.push(format!(
                "product {p}: {stock} ≠ {current} in stock + {held} held"
            ));
        }
    }
    Ok(check(
        "stock invariant: initial + restocks = stock + held by CREATED/CONFIRMED orders",
        broken.is_empty(),
        if broken.is_empty() {
            format!("{} products", products.len())
        } else {
            broken.join("; ")
        },
    ))
}

/// Each event's `changes[field]` as (before, after).
fn moved(changes: &str, field: &str) -> (serde_json::Value, serde_json::Value) {
    let v: serde_json::Value = serde_json::from_str(changes).unwrap_or_default();
    (v[field]["before"].clone(), v[field]["after"].clone())
}

/// Every order's events, replayed oldest first, end at its status: each
/// starts where the one before ended, and none is missing (kills of
/// orders-api mid-write included).
async fn check_order_events(pool: &MySqlPool) -> anyhow::Result<Check> {
    let rows: Vec<(u64, String, String)> = sqlx::query_as(
        "SELECT o.id, o.status, COALESCE(e.changes, '{}') FROM orders o \
         LEFT JOIN order_events e ON e.order_id = o.id ORDER BY o.id, e.seq",
    )
    .fetch_all(pool)
    .await?;
    let mut broken = Vec::new();
    let mut replayed: BTreeMap<u64, (String, serde_json::Value)> = BTreeMap::new();
    for (id, status, changes) in rows {
        let (before, after) = moved(&changes, "status");
        let entry = replayed
            .entry(id)
            .or_insert((status, serde_json::Value::Null));
        if before != entry.1 {
            broken.push(format!(
                "order {id}: an event from {before} after {}",
                entry.1
            ));
        }
        entry.1 = after;
    }
    for (id, (status, end)) in &replayed {
        if end.as_str() != Some(status) {
            broken.push(format!(
                "order {id}: events end at {end}, the order is {status}"
            ));
        }
    }
    Ok(check(
        "every order's events replay to its status",
        broken.is_empty(),
        if broken.is_empty() {
            format!("{} orders", replayed.len())
        } else {
            broken.join("; ")
        },
    ))
}

/// Every product's stock events sum to its stock.
async fn check_stock_events(pool: &MySqlPool, products: &[ProductId]) -> anyhow::Result<Check> {
    let mut broken = Vec::new();
    let mut events = 0;
    for &p in products {
        let stock: i64 =
            sqlx::query_scalar("SELECT CAST(stock AS SIGNED) FROM products WHERE id = ?")
                .bind(p.get())
                .fetch_one(pool)
                .await?;
        let changes: Vec<String> = sqlx::query_scalar(
            "SELECT changes FROM product_events WHERE product_id = ? ORDER BY seq",
        )
        .bind(p.get())
        .fetch_all(pool)
        .await?;
        events += changes.len();
        let sum: i64 = changes
            .iter()
            .map(|c| moved(c, "stock"))
            .filter_map(|(b, a)| Some(a.as_i64()? - b.as_i64()?))
            .sum();
        if sum != stock {
            broken.push(format!(
                "product {p}: events sum to {sum}, stock is {stock}"
            ));
        }
    }
    Ok(check(
        "every product's stock events sum to its stock",
        broken.is_empty(),
        if broken.is_empty() {
            format!("{} products, {events} events", products.len())
        } else {
            broken.join("; ")
        },
    ))
}

/// Final first answers came back as they were; retriable ones settled and
/// stayed settled. Also tallies how the retriable ones settled.
fn check_replays(answers: &[Answer], r: &Replays) -> (Check, BTreeMap<String, u64>) {
    let mut differ = Vec::new();
    for (a, (status, res)) in answers.iter().zip(&r.first) {
        if !retriable(a.status, &a.response) && !same_answer(a.status, &a.response, *status, res) {
            differ.push(format!(
                "{}: first {} then {}",
                a.key,
                label(a.status, &a.response),
                label(*status, res)
            ));
        }
    }
    let mut tally: BTreeMap<String, u64> = BTreeMap::new();
    for (&i, (status, res)) in r.unsettled.iter().zip(&r.second) {
        let (key, first) = (
            &answers[i].key,
            label(answers[i].status, &answers[i].response),
        );
        match r.settled.get(&i) {
            Some((s, v)) => {
                *tally
                    .entry(format!("{first} → {}", label(*s, v)))
                    .or_default() += 1;
                if !same_answer(*s, v, *status, res) {
                    differ.push(format!(
                        "{key}: first {first}, settled on {}, then {}",
                        label(*s, v),
                        label(*status, res)
                    ));
                }
            }
            None => differ.push(format!(
                "{key}: first {first}, never settled in 60 s (last {})",
                label(*status, res)
            )),
        }
    }
    let detail = if differ.is_empty() {
        format!(
            "{} keys replayed; the {} first answered with a retriable 5xx settled ({} rounds of retries) and stayed there",
            answers.len(),
            r.unsettled.len(),
            r.rounds
        )
    } else {
        let some: Vec<String> = differ.iter().take(5).cloned().collect();
        format!("{} differ, e.g. {}", differ.len(), some.join("; "))
    };
    let passed = differ.is_empty();
    (
        check(
            "a replay of every key returns its first final answer",
            passed,
            detail,
        ),
        tally,
    )
}

async fn check_one_order_per_key(
    pool: &MySqlPool,
    answers: &[Answer],
    r: &Replays,
) -> anyhow::Result<Check> {
    // Twins share a key: one order per key, not per answer.
    let mut by_key: BTreeMap<&str, BTreeSet<u64>> = BTreeMap::new();
    for (a, (s, v)) in answers.iter().zip(r.finals()) {
        if let (201, Some(id)) = (*s, v["data"]["order"]["id"].as_u64()) {
            by_key.entry(a.key.as_str()).or_default().insert(id);
        }
    }
    let answered_201 = by_key.len();
    let one_each = by_key.values().all(|ids| ids.len() == 1);
    let order_ids: BTreeSet<u64> = by_key.values().flatten().copied().collect();
    let confirmed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'")
            .fetch_one(pool)
            .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(pool)
        .await?;
    Ok(check(
        "one order per key: every 201 names its own order, and the CONFIRMED orders are exactly those",
        one_each
            && order_ids.len() == answered_201
            && i64::try_from(answered_201).unwrap_or(-1) == confirmed,
        format!(
            "{answered_201} keys answered 201 with {} distinct orders; {confirmed} CONFIRMED of {total} orders",
            order_ids.len()
        ),
    ))
}

/// Every 201 ever given (first answers, twins, replays) names an order that
/// is CONFIRMED now that all work has finished.
async fn check_no_contradiction(
    pool: &MySqlPool,
    answers: &[Answer],
    r: &Replays,
    twins: usize,
) -> anyhow::Result<Check> {
    let told: BTreeSet<u64> = answers
        .iter()
        .map(|a| (a.status, &a.response))
        .chain(r.all().map(|(s, v)| (*s, v)))
        .filter(|(s, _)| *s == 201)
        .filter_map(|(_, v)| v["data"]["order"]["id"].as_u64())
        .collect();
    let mut contradicted = Vec::new();
    for id in &told {
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
            .bind(id)
            .fetch_one(pool)
            .await?;
        if status != "CONFIRMED" {
            contradicted.push(format!("order {id} answered 201, now {status}"));
        }
    }
    Ok(check(
        "no answer contradicts the data: every order ever answered 201 is CONFIRMED",
        contradicted.is_empty(),
        if contradicted.is_empty() {
            format!("{} orders answered 201 ({twins} twin requests)", told.len())
        } else {
            contradicted.join("; ")
        },
    ))
}

/// What orders-api answered while customers-api was slow.
fn slow_window_markdown(md: &mut String, w: &SlowWindow) {
    let _ = writeln!(
        md,
        "\n## While customers-api was slow\n\nFor {:.0} s, every request to customers-api \
         (from orders-api and the orchestrator) was held {} ms. Meanwhile orders-api, called \
         directly, got reads one after another and creates (which check the customer) from 8 \
         workers, each with `X-Request-Timeout-Ms: {}`.\n\n| call | answer | count |\n|---|---|---:|",
        w.seconds, w.delay_ms, w.create_deadline_ms
    );
    for (call, labels) in [
        ("GET /products/{id}", &w.reads),
        ("POST /orders", &w.creates),
    ] {
        for (k, v) in labels {
            let _ = writeln!(md, "| `{call}` | {k} | {v} |");
        }
    }
    let _ = writeln!(
        md,
        "\nSlowest read {:.1} ms; slowest create {:.0} ms.",
        w.slowest_read_ms, w.slowest_create_ms
    );
}

fn write_report(dir: &std::path::Path, r: &ChaosReport) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir)?;
    let stem = format!("{}-chaos", r.date);
    std::fs::write(
        dir.join(format!("{stem}.json")),
        serde_json::to_string_pretty(r)? + "\n",
    )?;
    let mut md = String::new();
    let _ = writeln!(md, "# Chaos run, {}\n", r.date);
    let _ = writeln!(
        md,
        "{} sagas at concurrency {} on {} products of stock {} each; every request from the orchestrator \
         to orders-api goes through a fault proxy, each kind of fault at {:.0}%; orders-api is killed \
         (SIGKILL) and restarted {} times during the run; {} sagas are also sent a second time, 50-500 ms \
         after the first (twins). Checks run after the reservation TTL.\n",
        r.sagas, r.concurrency, r.products, r.stock_per_product, r.fault_rate_per_kind * 100.0, r.orders_api_kills,
        r.twin_requests
    );
    let _ = writeln!(md, "## Checks\n");
    for c in &r.checks {
        let _ = writeln!(
            md,
            "- **{}** {}: {}",
            if c.passed { "PASS" } else { "FAIL" },
            c.name,
            c.detail
        );
    }
    if let Some(w) = &r.slow_window {
        slow_window_markdown(&mut md, w);
    }
    let _ = writeln!(
        md,
        "\n## Faults injected\n\n| fault | requests |\n|---|---:|"
    );
    for (k, v) in &r.faults {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(md, "\n## First answers\n\n| answer | sagas |\n|---|---:|");
    for (k, v) in &r.first_answers {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    let _ = writeln!(
        md,
        "\n## How retriable failures settled on replay\n\nA 5xx with `retriable: true` means the outcome was not known \
         (a service was down or silent past the retries); the caller sends the same request again, and the saga \
         finishes exactly once.\n\n| first answer → replay | sagas |\n|---|---:|"
    );
    for (k, v) in &r.replays_of_retriable_failures {
        let _ = writeln!(md, "| {k} | {v} |");
    }
    std::fs::write(dir.join(format!("{stem}.md")), md)?;
    Ok(())
}
