//! `make chaos`: sagas on products with limited stock while a proxy between
//! the orchestrator and orders-api injects 500s, delays beyond the per-attempt
//! timeout and dropped connections, and orders-api is killed (SIGKILL) and
//! restarted. Afterwards, and after the reservation TTL, it checks and prints:
//!
//! - every answer was a 201 or a clean error document;
//! - no order is left CREATED;
//! - the stock invariant holds for every product;
//! - no key made two orders, and every 201's order is CONFIRMED;
//! - a replay of every key returns its first answer.
//!
//! Exits non-zero when a check fails.

use std::{
    collections::BTreeMap,
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
use futures_util::{stream, StreamExt};
use serde::Serialize;
use serde_json::{json, Value};
use service_kit::testing::TestDatabase;
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
    stock: u64,
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
    /// Where the report goes.
    #[arg(long, default_value = concat!(env!("CARGO_MANIFEST_DIR"), "/results"))]
    out: PathBuf,
}

/// One saga as first answered.
#[derive(Debug, Clone, Serialize)]
struct Answer {
    key: String,
    body: Value,
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
    stock_per_product: u64,
    fault_rate_per_kind: f64,
    orders_api_kills: usize,
    /// Sagas sent a second time, 50-500 ms after the first.
    twin_requests: usize,
    faults: BTreeMap<String, u64>,
    first_answers: BTreeMap<String, u64>,
    replays_of_retriable_failures: BTreeMap<String, u64>,
    checks: Vec<Check>,
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

async fn send(client: &reqwest::Client, url: &str, body: &Value) -> (u16, Value) {
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

fn check(checks: &mut Vec<Check>, name: &str, passed: bool, detail: String) {
    println!(
        "[{}] {name}: {detail}",
        if passed { "PASS" } else { "FAIL" }
    );
    checks.push(Check {
        name: name.into(),
        passed,
        detail,
    });
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    let Options {
        sagas,
        concurrency,
        stock,
        products: product_count,
        fault_rate: rate,
        kills,
        twins: twin_every,
        out,
    } = Options::parse();
    let reservation_ttl = 6;
    let attempt_timeout_ms = 400;

    let db = TestDatabase::create().await;
    let api = ApiOptions {
        db_url: db.url.clone(),
        db_max_connections: 16,
        reservation_ttl_secs: reservation_ttl,
        sweep_interval_secs: 1,
    };
    let (pp, rp) = (stack::free_port()?, stack::free_port()?);
    let client = reqwest::Client::builder()
        .default_headers(stack::caller_headers()?)
        .timeout(Duration::from_secs(60))
        .build()?;
    let apis = stack::start_apis(&client, &api).await?;
    let (customers_base, orders_base, op) = (
        apis.customers_base.clone(),
        apis.orders_base.clone(),
        apis.orders_port,
    );
    let _customers = apis.customers;
    let orders = Arc::new(Mutex::new(apis.orders));

    let faults = Faults::new(
        Rates {
            error_before: rate,
            error_after: rate,
            delay: rate,
            drop_before: rate,
            drop_after: rate,
        },
        Duration::from_millis(attempt_timeout_ms * 3 / 2),
    );
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", pp)).await?;
    tokio::spawn(proxy::serve(
        listener,
        orders_base.clone(),
        Arc::clone(&faults),
    ));

    let _emulator = stack::emulator(rp)?;
    stack::wait_listening(rp, Duration::from_secs(60)).await?;
    let env = [
        ("DOWNSTREAM_TIMEOUT_MS", attempt_timeout_ms.to_string()),
        ("RETRY_MAX_ATTEMPTS", "5".to_owned()),
        ("SAGA_TIMEOUT_MS", "20000".to_owned()),
    ];
    let _functions: Vec<Proc> = (0..concurrency)
        .map(|i| {
            stack::function(
                &format!("orchestrator-{i}"),
                rp,
                &customers_base,
                &format!("http://127.0.0.1:{pp}"),
                1,
                &env,
            )
        })
        .collect::<anyhow::Result<_>>()?;
    let saga_url = format!("http://127.0.0.1:{rp}/orchestrator/create-and-confirm-order");
    stack::wait_ready(
        &client,
        &format!("http://127.0.0.1:{rp}/orchestrator/health"),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#} (logs in {})", stack::log_dir().display()))?;

    let customer_id = stack::create_customer(&client, &customers_base).await?;
    let products =
        stack::create_products(&client, &orders_base, product_count, 4990, stock).await?;
    let run = format!("chaos-{}", fastrand::u64(..));
    let bodies: Vec<Value> = (0..sagas)
        .map(|i| {
            let mut items = vec![json!({"product_id": products[i % products.len()], "qty": 1 + fastrand::u32(..2)})];
            if fastrand::bool() {
                let other = products[(i + 1) % products.len()];
                if other != products[i % products.len()] {
                    items.push(json!({"product_id": other, "qty": 1}));
                }
            }
            json!({"customer_id": customer_id, "items": items, "idempotency_key": format!("{run}-{i}")})
        })
        .collect();

    // orders-api is killed and restarted at evenly spaced points of the run.
    let done = Arc::new(AtomicUsize::new(0));
    let killer = {
        let (done, orders, customers_base, api) = (
            Arc::clone(&done),
            Arc::clone(&orders),
            customers_base.clone(),
            api.clone(),
        );
        tokio::spawn(async move {
            for k in 1..=kills {
                let at = sagas * k / (kills + 1);
                while done.load(Ordering::Relaxed) < at {
                    tokio::time::sleep(Duration::from_millis(20)).await;
                }
                let mut proc = orders.lock().await;
                proc.kill();
                println!("orders-api killed (SIGKILL) after {at} sagas; restarting in 1 s");
                tokio::time::sleep(Duration::from_secs(1)).await;
                match stack::orders_api(op, &customers_base, &api) {
                    Ok(p) => *proc = p,
                    Err(e) => eprintln!("restarting orders-api: {e:#}"),
                }
            }
        })
    };

    println!(
        "{sagas} sagas at concurrency {concurrency} on {product_count} products of stock {stock}; \
         each fault at {:.0}% of requests to orders-api; {kills} kills",
        rate * 100.0
    );
    // Twins follow their original in the stream, so that both run at once.
    let jobs: Vec<(Value, u64)> = bodies
        .into_iter()
        .enumerate()
        .flat_map(|(i, body)| {
            let twin = (twin_every > 0 && i % twin_every == 0)
                .then(|| (body.clone(), 50 + fastrand::u64(..450)));
            std::iter::once((body, 0)).chain(twin)
        })
        .collect();
    let twins = jobs.iter().filter(|(_, delay)| *delay > 0).count();
    println!("{twins} sagas also sent as twins");
    let answers: Vec<Answer> = stream::iter(jobs.into_iter())
        .map(|(body, delay_ms)| {
            let (client, url, done) = (client.clone(), saga_url.clone(), Arc::clone(&done));
            async move {
                tokio::time::sleep(Duration::from_millis(delay_ms)).await;
                let (status, response) = send(&client, &url, &body).await;
                done.fetch_add(1, Ordering::Relaxed);
                Answer {
                    key: body["idempotency_key"]
                        .as_str()
                        .unwrap_or_default()
                        .to_owned(),
                    body,
                    status,
                    response,
                }
            }
        })
        .buffer_unordered(concurrency)
        .collect()
        .await;
    killer.await.context("the killer task")?;
    faults.enabled.store(false, Ordering::Relaxed);
    let fault_counts = faults.counts();
    stack::wait_ready(
        &client,
        &format!("{orders_base}/ready"),
        Duration::from_secs(30),
    )
    .await
    .map_err(|e| anyhow::anyhow!("{e:#} (logs in {})", stack::log_dir().display()))?;

    let mut first_answers: BTreeMap<String, u64> = BTreeMap::new();
    for a in &answers {
        *first_answers
            .entry(label(a.status, &a.response))
            .or_default() += 1;
    }
    println!("first answers: {first_answers:?}");
    println!("faults: {fault_counts:?}");

    // Stock still held by abandoned reservations goes back after the TTL.
    let wait = reservation_ttl + 3;
    println!("waiting {wait} s for the reservation TTL and the sweeper");
    tokio::time::sleep(Duration::from_secs(wait)).await;

    let mut checks = Vec::new();
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
        &mut checks,
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
    );

    let pool = MySqlPool::connect(&db.url).await?;
    let created: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'CREATED'")
        .fetch_one(&pool)
        .await?;
    check(
        &mut checks,
        "no order is left CREATED",
        created == 0,
        format!("{created} CREATED"),
    );

    let mut broken = Vec::new();
    for &p in &products {
        let current: i64 =
            sqlx::query_scalar("SELECT CAST(stock AS SIGNED) FROM products WHERE id = ?")
                .bind(p)
                .fetch_one(&pool)
                .await?;
        let held: i64 = sqlx::query_scalar(
            "SELECT CAST(COALESCE(SUM(i.qty), 0) AS SIGNED) FROM order_items i JOIN orders o ON o.id = i.order_id
             WHERE i.product_id = ? AND o.status IN ('CREATED', 'CONFIRMED')",
        )
        .bind(p)
        .fetch_one(&pool)
        .await?;
        if i64::try_from(stock).unwrap_or(i64::MAX) != current + held {
            broken.push(format!(
                "product {p}: {stock} ≠ {current} in stock + {held} held"
            ));
        }
    }
    check(
        &mut checks,
        "stock invariant: initial + restocks = stock + held by CREATED/CONFIRMED orders",
        broken.is_empty(),
        if broken.is_empty() {
            format!("{} products", products.len())
        } else {
            broken.join("; ")
        },
    );

    // Replays, with the faults off. A final answer (201, 4xx, or a 5xx that
    // says `retriable: false`) must come back as it was. A retriable failure
    // (5xx, `retriable: true`: the outcome was unknown) is not an answer to
    // keep but a request to send again: the replay must settle on a final
    // answer, and a second replay must return exactly that.
    let replay_all = |list: Vec<Value>| {
        let (client, url) = (client.clone(), saga_url.clone());
        async move {
            stream::iter(list)
                .map(|body| {
                    let (client, url) = (client.clone(), url.clone());
                    async move { send(&client, &url, &body).await }
                })
                .buffered(concurrency)
                .collect::<Vec<(u16, Value)>>()
                .await
        }
    };
    let replays = replay_all(answers.iter().map(|a| a.body.clone()).collect()).await;
    // Not final: a 5xx that does not say `retriable: false`, or a twin's
    // `409 saga_in_progress` (another request owns the saga).
    let retriable = |status: u16, v: &Value| {
        (status >= 500 && v["error"]["retriable"] != json!(false))
            || (status == 409 && v["error"]["code"] == "saga_in_progress")
    };
    let unsettled: Vec<usize> = (0..answers.len())
        .filter(|&i| retriable(answers[i].status, &answers[i].response))
        .collect();
    // As a client would: send the retriable ones again until they settle
    // (a claim left by the killed orders-api holds its key for the lease,
    // 10 s, and answers 409 in-progress until then), then once more.
    let mut settled: BTreeMap<usize, (u16, Value)> = BTreeMap::new();
    let mut rounds = 0;
    let give_up = tokio::time::Instant::now() + Duration::from_secs(60);
    loop {
        let pending: Vec<usize> = unsettled
            .iter()
            .copied()
            .filter(|i| !settled.contains_key(i))
            .filter(|&i| rounds > 0 || retriable(replays[i].0, &replays[i].1))
            .collect();
        if rounds == 0 {
            for &i in &unsettled {
                if !pending.contains(&i) {
                    settled.insert(i, replays[i].clone());
                }
            }
        }
        if pending.is_empty() || tokio::time::Instant::now() > give_up {
            break;
        }
        rounds += 1;
        tokio::time::sleep(Duration::from_secs(1)).await;
        let again = replay_all(pending.iter().map(|&i| answers[i].body.clone()).collect()).await;
        for (i, answer) in pending.into_iter().zip(again) {
            if !retriable(answer.0, &answer.1) {
                settled.insert(i, answer);
            }
        }
    }
    let second = replay_all(unsettled.iter().map(|&i| answers[i].body.clone()).collect()).await;
    let mut differ = Vec::new();
    let mut replays_of_retriable: BTreeMap<String, u64> = BTreeMap::new();
    for (a, (status, res)) in answers.iter().zip(&replays) {
        if retriable(a.status, &a.response) {
            continue;
        } else if !same_answer(a.status, &a.response, *status, res) {
            differ.push(format!(
                "{}: first {} then {}",
                a.key,
                label(a.status, &a.response),
                label(*status, res)
            ));
        }
    }
    for (&i, (status, res)) in unsettled.iter().zip(&second) {
        if let Some((s, v)) = settled.get(&i) {
            *replays_of_retriable
                .entry(format!(
                    "{} → {}",
                    label(answers[i].status, &answers[i].response),
                    label(*s, v)
                ))
                .or_default() += 1;
        }
        match settled.get(&i) {
            Some((first_status, first)) if same_answer(*first_status, first, *status, res) => {}
            Some((first_status, first)) => differ.push(format!(
                "{}: first {}, settled on {}, then {}",
                answers[i].key,
                label(answers[i].status, &answers[i].response),
                label(*first_status, first),
                label(*status, res)
            )),
            None => differ.push(format!(
                "{}: first {}, never settled in 60 s (last {})",
                answers[i].key,
                label(answers[i].status, &answers[i].response),
                label(*status, res)
            )),
        }
    }
    check(
        &mut checks,
        "a replay of every key returns its first final answer",
        differ.is_empty(),
        if differ.is_empty() {
            format!(
                "{} keys replayed; the {} first answered with a retriable 5xx settled ({} rounds of retries) and stayed there",
                answers.len(),
                unsettled.len(),
                rounds
            )
        } else {
            format!(
                "{} differ, e.g. {}",
                differ.len(),
                differ
                    .iter()
                    .take(5)
                    .cloned()
                    .collect::<Vec<_>>()
                    .join("; ")
            )
        },
    );

    // Each key's last answer.
    let mut finals: Vec<&(u16, Value)> = replays.iter().collect();
    for (&i, answer) in unsettled.iter().zip(&second) {
        finals[i] = answer;
    }
    // Twins share a key: one order per key, not per answer.
    let mut by_key: BTreeMap<&str, std::collections::BTreeSet<u64>> = BTreeMap::new();
    for (a, (s, v)) in answers.iter().zip(&finals) {
        if *s == 201 {
            if let Some(id) = v["data"]["order"]["id"].as_u64() {
                by_key.entry(a.key.as_str()).or_default().insert(id);
            }
        }
    }
    let answered_201 = by_key.len();
    let one_each = by_key.values().all(|ids| ids.len() == 1);
    let mut order_ids: Vec<u64> = by_key.values().flatten().copied().collect();
    order_ids.sort_unstable();
    order_ids.dedup();
    let confirmed: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'CONFIRMED'")
            .fetch_one(&pool)
            .await?;
    let total: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM orders")
        .fetch_one(&pool)
        .await?;
    check(
        &mut checks,
        "one order per key: every 201 names its own order, and the CONFIRMED orders are exactly those",
        one_each
            && order_ids.len() == answered_201
            && i64::try_from(answered_201).unwrap_or(-1) == confirmed,
        format!(
            "{answered_201} keys answered 201 with {} distinct orders; {confirmed} CONFIRMED of {total} orders",
            order_ids.len()
        ),
    );

    // Every 201 ever given (first answers, twins, replays) names an order
    // that is CONFIRMED now that all work has finished.
    let mut told: Vec<u64> = answers
        .iter()
        .map(|a| (a.status, &a.response))
        .chain(replays.iter().map(|(s, v)| (*s, v)))
        .chain(second.iter().map(|(s, v)| (*s, v)))
        .chain(settled.values().map(|(s, v)| (*s, v)))
        .filter(|(s, _)| *s == 201)
        .filter_map(|(_, v)| v["data"]["order"]["id"].as_u64())
        .collect();
    told.sort_unstable();
    told.dedup();
    let mut contradicted = Vec::new();
    for id in &told {
        let status: String = sqlx::query_scalar("SELECT status FROM orders WHERE id = ?")
            .bind(id)
            .fetch_one(&pool)
            .await?;
        if status != "CONFIRMED" {
            contradicted.push(format!("order {id} answered 201, now {status}"));
        }
    }
    check(
        &mut checks,
        "no answer contradicts the data: every order ever answered 201 is CONFIRMED",
        contradicted.is_empty(),
        if contradicted.is_empty() {
            format!("{} orders answered 201 ({twins} twin requests)", told.len())
        } else {
            contradicted.join("; ")
        },
    );
    pool.close().await;

    let report = ChaosReport {
        date: chrono::Utc::now().format("%Y-%m-%d").to_string(),
        sagas,
        concurrency,
        products: product_count,
        stock_per_product: stock,
        fault_rate_per_kind: rate,
        orders_api_kills: kills,
        twin_requests: twins,
        faults: fault_counts,
        first_answers,
        replays_of_retriable_failures: replays_of_retriable,
        checks,
    };
    write_report(&out, &report)?;
    if report.checks.iter().all(|c| c.passed) {
        println!("chaos: all checks passed");
        Ok(())
    } else {
        anyhow::bail!(
            "chaos: some checks failed (logs in {})",
            stack::log_dir().display()
        )
    }
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
