//! The stack as real processes: customers-api and orders-api (the binaries
//! built beside this one), the Lambda runtime API of `cargo lambda watch`, and
//! orchestrator instances polling it.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::{Duration, Instant},
};

use anyhow::{anyhow, bail};

pub const JWT_SECRET: &str = "bench-jwt-secret-0123456789abcdef";
pub const SERVICE_TOKEN: &str = "bench-service-token-0123456789";

use service_kit::testing::process::{as_lambda_function, lambda_runtime_api};
pub use service_kit::testing::process::{cpu_seconds_of, free_port, wait_ready, Proc};

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
        .env("JWT_SECRET", JWT_SECRET)
        .env("SERVICE_TOKEN", SERVICE_TOKEN)
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
    pub orders_base: String,
    pub orders_port: u16,
}

/// Starts customers-api and orders-api on free ports and waits until both
/// are ready.
pub async fn start_apis(client: &reqwest::Client, opts: &ApiOptions) -> anyhow::Result<Apis> {
    let (cp, op) = (free_port()?, free_port()?);
    let customers_base = format!("http://127.0.0.1:{cp}");
    let orders_base = format!("http://127.0.0.1:{op}");
    let customers = customers_api(cp, opts)?;
    let orders = orders_api(op, &customers_base, opts)?;
    for base in [&customers_base, &orders_base] {
        wait_ready(client, &format!("{base}/ready"), Duration::from_secs(60))
            .await
            .map_err(|e| anyhow!("{e:#} (logs in {})", log_dir().display()))?;
    }
    Ok(Apis {
        customers,
        orders,
        customers_base,
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
    let mut cmd = base_command("orchestrator-lambda")?;
    as_lambda_function(&mut cmd, runtime_port, max_concurrency);
    cmd.env("CUSTOMERS_API_BASE", customers_base)
        .env("ORDERS_API_BASE", orders_base);
    for (k, v) in extra_env {
        cmd.env(k, v);
    }
    Proc::spawn(name, cmd, &log_dir())
}

/// Waits until something listens on `port`.
pub async fn wait_listening(port: u16, patience: Duration) -> anyhow::Result<()> {
    let until = Instant::now() + patience;
    while tokio::net::TcpStream::connect(("127.0.0.1", port))
        .await
        .is_err()
    {
        if Instant::now() > until {
            bail!(
                "nothing listens on port {port} after {patience:?} (logs in {})",
                log_dir().display()
            );
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    Ok(())
}

/// A user token for the APIs, valid for an hour.
pub fn user_token() -> String {
    service_kit::testing::mint_token(JWT_SECRET, "bench", 3600, serde_json::json!({}))
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
    stock: u64,
) -> anyhow::Result<Vec<u64>> {
    let token = user_token();
    let mut ids = Vec::with_capacity(count);
    for i in 0..count {
        let res = client
            .post(format!("{orders_base}/products"))
            .bearer_auth(&token)
            .json(&serde_json::json!({
                "sku": format!("BENCH-{i:04}-{}", fastrand::u32(..)),
                "name": format!("Bench product {i}"),
                "price_cents": price_cents,
                "stock": stock,
            }))
            .send()
            .await?;
        let status = res.status();
        let body: serde_json::Value = res.json().await?;
        let id = body["id"]
            .as_u64()
            .ok_or_else(|| anyhow!("creating a product: {status} {body}"))?;
        ids.push(id);
    }
    Ok(ids)
}

/// Creates a customer; returns its id.
pub async fn create_customer(
    client: &reqwest::Client,
    customers_base: &str,
) -> anyhow::Result<u64> {
    let res = client
        .post(format!("{customers_base}/customers"))
        .bearer_auth(user_token())
        .json(&serde_json::json!({
            "name": "Bench Buyer",
            "email": format!("buyer-{}@bench.example", fastrand::u32(..)),
            "phone": "+51900000000",
        }))
        .send()
        .await?;
    let status = res.status();
    let body: serde_json::Value = res.json().await?;
    body["id"]
        .as_u64()
        .ok_or_else(|| anyhow!("creating a customer: {status} {body}"))
}
