//! The stack as real processes: customers-api and orders-api (the binaries
//! built beside this one), the Lambda runtime API of `cargo lambda watch`, and
//! orchestrator instances polling it.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use anyhow::{anyhow, bail};
use contracts::{Customer, CustomerId, CustomerInput, Product, ProductId, ProductInput};

/// orders-api's own token for customers-api.
pub const SERVICE_TOKEN: &str = "bench-service-token-0123456789";
/// The orchestrator's own token for customers-api.
pub const ORCHESTRATOR_TOKEN: &str = "bench-orchestrator-token-0123456789";

/// customers-api's `SERVICE_TOKENS`: each caller by its own token.
fn service_tokens() -> String {
    format!("orders-api={SERVICE_TOKEN},orchestrator={ORCHESTRATOR_TOKEN}")
}

use kit_testing::process::{as_lambda_function, lambda_runtime_api};
pub use kit_testing::process::{free_port, wait_listening, wait_ready, Proc};

/// The pid of the database server on this machine, if it runs here.
pub fn database_pid() -> Option<u32> {
    std::fs::read_dir("/proc").ok()?.flatten().find_map(|e| {
        let pid: u32 = e.file_name().to_str()?.parse().ok()?;
        let comm = std::fs::read_to_string(e.path().join("comm")).ok()?;
        matches!(comm.trim(), "mariadbd" | "mysqld").then_some(pid)
    })
}

/// Where the processes' logs go.
pub fn log_dir() -> PathBuf {
    std::env::temp_dir().join("order-back-office-bench")
}

/// Where cargo put this workspace's binaries: beside this one.
pub fn bin_dir() -> anyhow::Result<PathBuf> {
    let exe = std::env::current_exe()?;
    exe.parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("no directory above {}", exe.display()))
}

fn workspace_bin(name: &str) -> anyhow::Result<PathBuf> {
    let path = bin_dir()?.join(name);
    if !path.exists() {
        bail!(
            "{} is not built: build the workspace's binaries with the same profile first",
            path.display()
        );
    }
    Ok(path)
}

fn base_command(bin: &str) -> anyhow::Result<Command> {
    let mut cmd = Command::new(workspace_bin(bin)?);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .envs(kit_testing::issuer_env())
        .env("SERVICE_TOKEN", SERVICE_TOKEN)
        .env("SERVICE_TOKENS", service_tokens())
        .env("RUST_LOG", "info");
    Ok(cmd)
}

/// How an API is run.
#[derive(Debug, Clone)]
pub struct ApiOptions {
    pub db_url: String,
    pub db_max_connections: u32,
    pub reservation_ttl_secs: u64,
    pub sweep_interval_secs: u64,
}

pub fn customers_api(port: u16, opts: &ApiOptions) -> anyhow::Result<Proc> {
    let mut cmd = base_command("customers-api")?;
    cmd.env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", &opts.db_url)
        .env("DB_MAX_CONNECTIONS", opts.db_max_connections.to_string());
    Proc::spawn("customers-api", cmd, &log_dir())
}

pub fn orders_api(port: u16, customers_base: &str, opts: &ApiOptions) -> anyhow::Result<Proc> {
    let mut cmd = base_command("orders-api")?;
    cmd.env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", &opts.db_url)
        .env("DB_MAX_CONNECTIONS", opts.db_max_connections.to_string())
        .env("CUSTOMERS_API_BASE", customers_base)
        .env(
            "RESERVATION_TTL_SECS",
            opts.reservation_ttl_secs.to_string(),
        )
        .env("SWEEP_INTERVAL_SECS", opts.sweep_interval_secs.to_string());
    Proc::spawn("orders-api", cmd, &log_dir())
}

/// Both APIs, started and ready.
pub struct Apis {
    pub customers: Proc,
    pub orders: Proc,
    pub customers_base: String,
    /// Where orders-api (and whoever else should) reaches customers-api:
    /// `customers_base`, or a proxy in front of it.
    pub customers_front: String,
    pub orders_base: String,
    pub orders_port: u16,
}

/// Starts customers-api and orders-api on free ports and waits until both
/// are ready. With `customers_faults`, orders-api reaches customers-api
/// through a [`crate::proxy`] that injects them.
pub async fn start_apis(
    client: &reqwest::Client,
    opts: &ApiOptions,
    customers_faults: Option<std::sync::Arc<crate::proxy::Faults>>,
) -> anyhow::Result<Apis> {
    let (cp, op) = (free_port()?, free_port()?);
    let customers_base = format!("http://127.0.0.1:{cp}");
    let orders_base = format!("http://127.0.0.1:{op}");
    let customers = customers_api(cp, opts)?;
    let customers_front = match customers_faults {
        None => customers_base.clone(),
        Some(faults) => {
            let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
            let front = format!("http://{}", listener.local_addr()?);
            tokio::spawn(crate::proxy::serve(
                listener,
                customers_base.clone(),
                faults,
            ));
            front
        }
    };
    let orders = orders_api(op, &customers_front, opts)?;
    for base in [&customers_base, &orders_base] {
        wait_ready(client, &format!("{base}/ready"), Duration::from_secs(60))
            .await
            .map_err(|e| anyhow!("{e:#} (logs in {})", log_dir().display()))?;
    }
    Ok(Apis {
        customers,
        orders,
        customers_base,
        customers_front,
        orders_base,
        orders_port: op,
    })
}

/// The Lambda runtime API (and the invoke endpoint) of `cargo lambda watch`,
/// without a function of its own: the function instances are started here.
pub fn emulator(port: u16) -> anyhow::Result<Proc> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../orchestrator-lambda");
    Proc::spawn("cargo-lambda", lambda_runtime_api(&dir, port), &log_dir())
}

/// One orchestrator instance: the function binary polling the runtime API
/// with `max_concurrency` workers (1 = one invocation at a time, as in AWS).
pub fn function(
    name: &str,
    runtime_port: u16,
    customers_base: &str,
    orders_base: &str,
    max_concurrency: u32,
    extra_env: &[(&str, String)],
) -> anyhow::Result<Proc> {
    let bases = (customers_base, orders_base);
    function_binary(
        "orchestrator-lambda",
        name,
        runtime_port,
        bases,
        max_concurrency,
        extra_env,
    )
}

/// [`function`], of any function binary of this workspace (the bench's
/// `trivial-lambda` too).
pub fn function_binary(
    bin: &str,
    name: &str,
    runtime_port: u16,
    (customers_base, orders_base): (&str, &str),
    max_concurrency: u32,
    extra_env: &[(&str, String)],
) -> anyhow::Result<Proc> {
    let mut cmd = base_command(bin)?;
    // A function is the orchestrator: its own token, not orders-api's.
    cmd.env("SERVICE_TOKEN", ORCHESTRATOR_TOKEN);
    as_lambda_function(&mut cmd, runtime_port, max_concurrency);
    cmd.env("CUSTOMERS_API_BASE", customers_base)
        .env("ORDERS_API_BASE", orders_base);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    Proc::spawn(name, cmd, &log_dir())
}

/// CPU time (user + system) of process `pid` so far, in seconds.
pub fn cpu_seconds_of(pid: u32) -> Option<f64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name, which is in parentheses.
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let utime: f64 = fields.get(11)?.parse().ok()?;
    let stime: f64 = fields.get(12)?.parse().ok()?;
    Some((utime + stime) / 100.0)
}

/// Peak resident set size (`VmHWM`) of process `pid`, in KiB.
pub fn peak_rss_kib_of(pid: u32) -> Option<u64> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
}

/// `cargo lambda watch --release --concurrency N` as a user runs it from the
/// README: cargo-lambda serves the runtime API and the HTTP front on `port`,
/// and itself starts up to `concurrency` instances of the function (each
/// `cargo run --release`, one invocation at a time), as many as the load
/// needs. The instances are found with [`descendants`].
pub fn watch(
    port: u16,
    concurrency: usize,
    customers_base: &str,
    orders_base: &str,
) -> anyhow::Result<Proc> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../orchestrator-lambda");
    let mut cmd = Command::new("cargo");
    cmd.current_dir(dir)
        .args([
            "lambda",
            "watch",
            "--release",
            "--bin",
            "orchestrator-lambda",
        ])
        .args(["--concurrency", &concurrency.to_string()])
        .args(["-A", "127.0.0.1", "-P", &port.to_string()])
        .env("CARGO_TARGET_DIR", target_dir()?)
        .envs(kit_testing::issuer_env())
        .env("SERVICE_TOKEN", ORCHESTRATOR_TOKEN)
        .env("RUST_LOG", "info")
        .env("CUSTOMERS_API_BASE", customers_base)
        .env("ORDERS_API_BASE", orders_base);
    Proc::spawn("cargo-lambda-watch", cmd, &log_dir())
}

/// CPU seconds of one start of the orchestrator that ends at once (nothing
/// listens on its runtime API): `via_cargo`, as `cargo lambda watch` starts
/// an instance (`cargo run --release --bin orchestrator-lambda`, which checks
/// the build, then execs the binary under the same pid), or the binary
/// alone. Measured as this process's waited-for children's CPU time.
pub fn function_start_cpu_seconds(via_cargo: bool) -> anyhow::Result<f64> {
    let runtime_api = format!("127.0.0.1:{}", free_port()?);
    let mut cmd = if via_cargo {
        let mut cmd = Command::new("cargo");
        cmd.current_dir(Path::new(env!("CARGO_MANIFEST_DIR")).join("../orchestrator-lambda"))
            .args(["run", "--release", "--bin", "orchestrator-lambda"])
            .env("CARGO_TARGET_DIR", target_dir()?);
        cmd
    } else {
        Command::new(workspace_bin("orchestrator-lambda")?)
    };
    // No backtrace for the error it ends with (capturing one costs more
    // than the start itself).
    cmd.env("RUST_BACKTRACE", "0")
        .env("RUST_LIB_BACKTRACE", "0")
        .envs(kit_testing::issuer_env())
        .env("SERVICE_TOKEN", ORCHESTRATOR_TOKEN)
        .env("CUSTOMERS_API_BASE", "http://127.0.0.1:9")
        .env("ORDERS_API_BASE", "http://127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "orchestrator-lambda")
        .env("AWS_LAMBDA_RUNTIME_API", runtime_api)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let before = children_cpu_seconds().ok_or_else(|| anyhow!("no /proc/self/stat"))?;
    cmd.status()?;
    let after = children_cpu_seconds().ok_or_else(|| anyhow!("no /proc/self/stat"))?;
    Ok(after - before)
}

/// CPU time (user + system) of this process's children that ended and were
/// waited for, in seconds.
fn children_cpu_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let rest = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let cutime: f64 = fields.get(13)?.parse().ok()?;
    let cstime: f64 = fields.get(14)?.parse().ok()?;
    Some((cutime + cstime) / 100.0)
}

fn target_dir() -> anyhow::Result<PathBuf> {
    bin_dir()?
        .parent()
        .map(Path::to_path_buf)
        .ok_or_else(|| anyhow!("no target directory above the binaries"))
}

/// Every live process below `pid` (children, their children, ...), with its
/// command name.
pub fn descendants(pid: u32) -> Vec<(u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    // (pid, parent, name) of every process.
    let table: Vec<(u32, u32, String)> = entries
        .flatten()
        .filter_map(|e| {
            let p: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            let (head, rest) = stat.rsplit_once(')')?;
            let name = head.split_once('(')?.1.to_owned();
            let parent: u32 = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((p, parent, name))
        })
        .collect();
    let mut out: Vec<(u32, String)> = Vec::new();
    let mut frontier = vec![pid];
    while let Some(parent) = frontier.pop() {
        for (p, _, name) in table.iter().filter(|(_, pp, _)| *pp == parent) {
            out.push((*p, name.clone()));
            frontier.push(*p);
        }
    }
    out
}

/// A user token for the APIs, valid for an hour.
pub fn user_token() -> String {
    kit_testing::mint_token("bench", 3600, serde_json::json!({}))
}

/// Default headers of the load's client: the caller's token, which the saga
/// endpoint requires (the API calls set their own).
pub fn caller_headers() -> anyhow::Result<reqwest::header::HeaderMap> {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(
        reqwest::header::AUTHORIZATION,
        format!("Bearer {}", user_token()).parse()?,
    );
    Ok(headers)
}

/// Creates `count` products with `stock` each; returns their ids.
pub async fn create_products(
    client: &reqwest::Client,
    orders_base: &str,
    count: usize,
    price_cents: u64,
    stock: u32,
) -> anyhow::Result<Vec<ProductId>> {
    let token = user_token();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let input = ProductInput {
            sku: format!("BENCH-{i:04}-{}", fastrand::u32(..)),
            name: format!("Bench product {i}"),
            price_cents,
            stock,
        };
        let url = format!("{orders_base}/products");
        let product: Product = created(client.post(url).bearer_auth(&token).json(&input)).await?;
        ids.push(product.id);
    }
    Ok(ids)
}

/// Creates a customer; returns its id.
pub async fn create_customer(
    client: &reqwest::Client,
    customers_base: &str,
) -> anyhow::Result<CustomerId> {
    let input = CustomerInput {
        name: "Bench Buyer".into(),
        email: format!("buyer-{}@bench.example", fastrand::u32(..)),
        phone: Some("+51900000000".into()),
    };
    let url = format!("{customers_base}/customers");
    let customer: Customer =
        created(client.post(url).bearer_auth(user_token()).json(&input)).await?;
    Ok(customer.id)
}

/// Sends a create and reads its 201 answer, or says what came instead.
async fn created<T: serde::de::DeserializeOwned>(
    req: reqwest::RequestBuilder,
) -> anyhow::Result<T> {
    let res = req.send().await?;
    let status = res.status();
    let text = res.text().await?;
    if status != reqwest::StatusCode::CREATED {
        return Err(anyhow!("{status}: {text}"));
    }
    Ok(serde_json::from_str(&text)?)
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use super::*;

    #[test]
    fn descendants_include_a_grandchild_with_its_name() {
        let mut child = Command::new("sh")
            .args(["-c", "sleep 5 & wait"])
            .spawn()
            .expect("sh runs");
        let me = std::process::id();
        let until = Instant::now() + Duration::from_secs(5);
        let found = loop {
            let below = descendants(me);
            if below.iter().any(|(_, name)| name == "sleep") || Instant::now() > until {
                break below;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        let _ = child.kill();
        let _ = child.wait();
        assert!(found.iter().any(|(pid, _)| *pid == child.id()), "{found:?}");
        assert!(found.iter().any(|(_, name)| name == "sleep"), "{found:?}");
    }
}
