//! End to end: customers-api and orders-api as real processes on a fresh
//! MariaDB database, the orchestrator's binary serving invocations from the
//! Lambda runtime API of `cargo lambda watch`, and requests over HTTP as a
//! user would send them.

use std::{
    path::{Path, PathBuf},
    process::Command,
    time::Duration,
};

use futures_util::future::join_all;
use kit_testing::{
    mint_token,
    process::{as_lambda_function, free_port, lambda_runtime_api, wait_ready, Proc},
    TestDatabase,
};
use serde_json::{json, Value};
use sqlx::MySqlPool;

mod common;

/// orders-api's own token for customers-api.
const SERVICE_TOKEN: &str = "e2e-service-token-0123456789";
/// The orchestrator's own token for customers-api.
const ORCHESTRATOR_TOKEN: &str = "e2e-orchestrator-token-0123456789";

fn port() -> u16 {
    free_port().expect("a free port")
}

/// Where cargo put this workspace's binaries: beside this test's `deps/`.
fn bin_dir() -> PathBuf {
    let exe = std::env::current_exe().expect("test binary path");
    exe.parent()
        .and_then(|deps| deps.parent())
        .expect("target dir")
        .to_path_buf()
}

/// A log directory of one stack's own.
fn new_log_dir() -> PathBuf {
    let dir = std::env::temp_dir()
        .join("order-back-office-e2e")
        .join(format!("{}-{}", std::process::id(), fastrand::u32(..)));
    let _ = std::fs::create_dir_all(&dir);
    dir
}

fn api(logs: &Path, bin: &str, port: u16, db_url: &str, customers_port: u16) -> Proc {
    let path = bin_dir().join(bin);
    assert!(
        path.exists(),
        "{} is not built: run `cargo build --workspace --bins` first",
        path.display()
    );
    let mut cmd = Command::new(path);
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("PORT", port.to_string())
        .env("HOST", "127.0.0.1")
        .env("DATABASE_URL", db_url)
        .envs(kit_testing::issuer_env())
        .env("SERVICE_TOKEN", SERVICE_TOKEN)
        .env(
            "SERVICE_TOKENS",
            format!("orders-api={SERVICE_TOKEN},orchestrator={ORCHESTRATOR_TOKEN}"),
        )
        .env(
            "CUSTOMERS_API_BASE",
            format!("http://127.0.0.1:{customers_port}"),
        )
        .env("RESERVATION_TTL_SECS", "2")
        .env("IDEMPOTENCY_WAIT_SECS", "1")
        .env("SWEEP_INTERVAL_SECS", "1")
        .env("RUST_LOG", "info");
    Proc::spawn(bin, cmd, logs).expect("the service starts")
}

/// The Lambda runtime API of `cargo lambda watch`, and the function (this
/// package's binary, as cargo built it for the tests) polling it with
/// `AWS_LAMBDA_MAX_CONCURRENCY` workers.
/// The function reads its `SERVICE_TOKEN` from Secrets Manager (`moto`), as
/// it does in AWS, and checks user tokens with the test issuer's public keys.
fn lambda(
    logs: &Path,
    port: u16,
    customers_port: u16,
    orders_port: u16,
    secrets: (&common::Moto, &str),
) -> (Proc, Proc) {
    let emulator = lambda_runtime_api(Path::new(env!("CARGO_MANIFEST_DIR")), port);
    let emulator = Proc::spawn("cargo-lambda", emulator, logs)
        .expect("`cargo lambda` is installed (make setup puts it in .venv/)");
    let mut function = Command::new(env!("CARGO_BIN_EXE_orchestrator-lambda"));
    for (k, v) in common::aws_env(secrets.0) {
        function.env(k, v);
    }
    as_lambda_function(&mut function, port, 8);
    function
        .env("APP_SECRET_ARN", secrets.1)
        .envs(kit_testing::issuer_env())
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env(
            "CUSTOMERS_API_BASE",
            format!("http://127.0.0.1:{customers_port}"),
        )
        .env("ORDERS_API_BASE", format!("http://127.0.0.1:{orders_port}"))
        .env("SAGA_TIMEOUT_MS", "8000")
        .env("RUST_LOG", "info");
    let function = Proc::spawn("orchestrator-lambda", function, logs).expect("the function starts");
    (emulator, function)
}

/// `wait_ready`, and on failure the logs of the stack in the panic message.
async fn wait_ready_or_show(client: &reqwest::Client, url: &str, patience: Duration, logs: &Path) {
    let waited = tokio::time::timeout(patience, wait_ready(client, url, patience * 2)).await;
    if !matches!(waited, Ok(Ok(()))) {
        let mut text = String::new();
        for entry in std::fs::read_dir(logs).into_iter().flatten().flatten() {
            let body = std::fs::read_to_string(entry.path()).unwrap_or_default();
            let tail: Vec<&str> = body.lines().rev().take(5).collect();
            text.push_str(&format!(
                "--- {}\n{}\n",
                entry.path().display(),
                tail.join("\n")
            ));
        }
        panic!("{url} never became ready:\n{text}");
    }
}

struct Stack {
    client: reqwest::Client,
    saga_url: String,
    pool: MySqlPool,
    db_url: String,
    logs: PathBuf,
    customers_port: u16,
    orders_port: u16,
    _customers: Proc,
    orders: Option<Proc>,
    _lambda: (Proc, Proc),
    _moto: common::Moto,
    _db: TestDatabase,
    /// A user token of `alice`, which `saga` sends.
    token: String,
}

impl Stack {
    async fn start() -> Self {
        let db = TestDatabase::create().await;
        let (customers_port, orders_port, lambda_port) = (port(), port(), port());
        let logs = new_log_dir();
        let customers = api(
            &logs,
            "customers-api",
            customers_port,
            &db.url,
            customers_port,
        );
        let orders = api(&logs, "orders-api", orders_port, &db.url, customers_port);
        let moto = common::moto().await;
        let arn = common::put_secret(
            &moto,
            "order-back-office-e2e",
            &json!({"SERVICE_TOKEN": ORCHESTRATOR_TOKEN}).to_string(),
        )
        .await;
        let lambda = lambda(
            &logs,
            lambda_port,
            customers_port,
            orders_port,
            (&moto, &arn),
        );
        let client = reqwest::Client::new();
        wait_ready(
            &client,
            &format!("http://127.0.0.1:{customers_port}/ready"),
            Duration::from_secs(60),
        )
        .await
        .expect("ready");
        wait_ready(
            &client,
            &format!("http://127.0.0.1:{orders_port}/ready"),
            Duration::from_secs(60),
        )
        .await
        .expect("ready");
        // The function is built already: it answers within seconds, or its
        // log says why not.
        wait_ready_or_show(
            &client,
            &format!("http://127.0.0.1:{lambda_port}/orchestrator/health"),
            Duration::from_secs(60),
            &logs,
        )
        .await;
        let pool = MySqlPool::connect(&db.url).await.expect("test pool");
        Self {
            client,
            saga_url: format!(
                "http://127.0.0.1:{lambda_port}/orchestrator/create-and-confirm-order"
            ),
            pool,
            db_url: db.url.clone(),
            logs,
            customers_port,
            orders_port,
            _customers: customers,
            orders: Some(orders),
            _lambda: lambda,
            _moto: moto,
            _db: db,
            token: mint_token("alice", 600, json!({})),
        }
    }

    async fn saga(&self, body: &Value) -> (u16, Value) {
        self.saga_as(Some(&self.token), body).await
    }

    async fn saga_as(&self, token: Option<&str>, body: &Value) -> (u16, Value) {
        let (status, _, body) = self.saga_answer(token, body).await;
        (status, body)
    }

    /// Whether the saga's answer says it is a replay.
    async fn saga_replayed(&self, body: &Value) -> bool {
        let (_, headers, _) = self.saga_answer(Some(&self.token), body).await;
        headers
            .get(contracts::headers::IDEMPOTENT_REPLAYED)
            .is_some_and(|v| v == "true")
    }

    async fn saga_answer(
        &self,
        token: Option<&str>,
        body: &Value,
    ) -> (u16, reqwest::header::HeaderMap, Value) {
        let mut req = self.client.post(&self.saga_url);
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        let res = req
            .json(body)
            .timeout(Duration::from_secs(60))
            .send()
            .await
            .expect("sent");
        let status = res.status().as_u16();
        let headers = res.headers().clone();
        (status, headers, res.json().await.expect("a JSON answer"))
    }

    async fn customer(&self, name: &str) -> u64 {
        sqlx::query("INSERT INTO customers (name, email, phone, created_at, updated_at) VALUES (?, ?, '+51987654321', NOW(6), NOW(6))")
            .bind(name)
            .bind(format!("{}@example.com", name.to_lowercase()))
            .execute(&self.pool)
            .await
            .expect("customer")
            .last_insert_id()
    }

    async fn product(&self, sku: &str, price: u64, stock: u32) -> u64 {
        sqlx::query("INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) VALUES (?, 'Thing', ?, ?, NOW(6), NOW(6))")
            .bind(sku)
            .bind(price)
            .bind(stock)
            .execute(&self.pool)
            .await
            .expect("product")
            .last_insert_id()
    }

    async fn scalar(&self, sql: &str, id: u64) -> i64 {
        sqlx::query_scalar(sql)
            .bind(id)
            .fetch_one(&self.pool)
            .await
            .expect("scalar")
    }

    /// Orders of `customer`, whatever their status.
    async fn orders_of(&self, customer: u64) -> i64 {
        self.scalar(
            "SELECT COUNT(*) FROM orders WHERE customer_id = ?",
            customer,
        )
        .await
    }

    /// Units of `product` in stock.
    async fn stock_of(&self, product: u64) -> i64 {
        self.scalar(
            "SELECT CAST(stock AS SIGNED) FROM products WHERE id = ?",
            product,
        )
        .await
    }
}

#[tokio::test]
async fn the_saga_end_to_end() {
    let mut stack = Stack::start().await;
    let acme = stack.customer("ACME").await;
    let mouse = stack.product("E2E-MOUSE", 2990, 100).await;
    let request = json!({"customer_id": acme, "items": [{"product_id": mouse, "qty": 3}],
                         "idempotency_key": "abc-124", "correlation_id": "req-001"});

    // Happy path, in the shape of the contract.
    let (status, headers, first) = stack.saga_answer(Some(&stack.token), &request).await;
    assert!(
        headers
            .get(contracts::headers::IDEMPOTENT_REPLAYED)
            .is_none(),
        "a first run is no replay"
    );
    assert_eq!(status, 201, "{first}");
    assert_eq!(first["success"], true);
    assert_eq!(first["correlationId"], "req-001");
    assert_eq!(
        first["data"]["customer"],
        json!({"id": acme, "name": "ACME", "email": "acme@example.com", "phone": "+51987654321"})
    );
    let order = &first["data"]["order"];
    assert_eq!(order["status"], "CONFIRMED");
    assert_eq!(order["created_by"], "alice");
    assert_eq!(order["total_cents"], 8970);
    assert_eq!(
        order["items"],
        json!([{"product_id": mouse, "qty": 3, "unit_price_cents": 2990, "subtotal_cents": 8970}])
    );

    // The same request again: the same answer, still one order.
    let (status, again) = stack.saga(&request).await;
    assert_eq!((status, &again), (201, &first));
    assert!(
        stack.saga_replayed(&request).await,
        "the answer says it is a replay"
    );
    assert_eq!(stack.orders_of(acme).await, 1);
    assert_eq!(stack.stock_of(mouse).await, 97);

    // The same key with another body is refused.
    let other = json!({"customer_id": acme, "items": [{"product_id": mouse, "qty": 4}], "idempotency_key": "abc-124"});
    let (status, body) = stack.saga(&other).await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["error"]["code"], "idempotency_key_reused");

    // 30 identical requests at once: one order, one answer.
    let storm = json!({"customer_id": acme, "items": [{"product_id": mouse, "qty": 1}], "idempotency_key": "storm-1"});
    let answers = join_all((0..30).map(|_| stack.saga(&storm))).await;
    let (status0, body0) = &answers[0];
    assert_eq!(*status0, 201, "{body0}");
    for (status, body) in &answers {
        assert_eq!(
            (status, body["data"]["order"].clone()),
            (status0, body0["data"]["order"].clone())
        );
    }
    assert_eq!(stack.orders_of(acme).await, 2);
    assert_eq!(stack.stock_of(mouse).await, 96);

    // No token, or a bad one: 401, and nothing happens.
    let stranger = json!({"customer_id": acme, "items": [{"product_id": mouse, "qty": 1}], "idempotency_key": "stranger"});
    let forged =
        kit_testing::Forgery::AnotherKey.sign(&kit_testing::claims("alice", 600, json!({})));
    for token in [None, Some(forged.as_str())] {
        let (status, body) = stack.saga_as(token, &stranger).await;
        assert_eq!(
            (status, &body["error"]["code"]),
            (401, &json!("unauthorized"))
        );
    }
    assert_eq!(stack.orders_of(acme).await, 2);

    // Keys belong to their caller: bob's "abc-124" is bob's own order.
    let bob = mint_token("bob", 600, json!({}));
    let (status, bobs) = stack.saga_as(Some(&bob), &request).await;
    assert_eq!(status, 201, "{bobs}");
    assert_ne!(bobs["data"]["order"]["id"], first["data"]["order"]["id"]);
    assert_eq!(bobs["data"]["order"]["created_by"], "bob");
    let (_, bobs_again) = stack.saga_as(Some(&bob), &request).await;
    assert_eq!(bobs_again["data"]["order"], bobs["data"]["order"]);
    assert_eq!(stack.orders_of(acme).await, 3);

    // Unknown customer; insufficient stock.
    let (status, body) = stack.saga(&json!({"customer_id": 999_999, "items": [{"product_id": mouse, "qty": 1}], "idempotency_key": "nobody"})).await;
    assert_eq!(
        (
            status,
            body["error"]["code"].clone(),
            body["error"]["step"].clone()
        ),
        (404, json!("customer_not_found"), json!("validate_customer"))
    );
    let scarce = stack.product("E2E-SCARCE", 100, 2).await;
    let (status, body) = stack.saga(&json!({"customer_id": acme, "items": [{"product_id": scarce, "qty": 3}], "idempotency_key": "greedy"})).await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (409, json!("insufficient_stock"))
    );
    assert_eq!(stack.stock_of(scarce).await, 2);

    // orders-api dies while sagas run: every answer is a 201 or a clean error,
    // and once the reservation TTL has passed no stock is held by an
    // unconfirmed order.
    let limited = stack.product("E2E-LIMITED", 100, 50).await;
    let running = stack.orders.take();
    let sagas = (0..20).map(|i| {
        let body = json!({"customer_id": acme, "items": [{"product_id": limited, "qty": 1}], "idempotency_key": format!("crash-{i}")});
        let stack = &stack;
        async move { stack.saga(&body).await }
    });
    let killer = async move {
        tokio::time::sleep(Duration::from_millis(30)).await;
        drop(running); // SIGKILL
    };
    let (answers, ()) = tokio::join!(join_all(sagas), killer);
    for (status, body) in &answers {
        match status {
            201 => assert_eq!(body["data"]["order"]["status"], "CONFIRMED"),
            502 | 504 => {
                assert_eq!(body["success"], false, "{body}");
                assert!(body["error"]["step"].is_string(), "{body}");
                assert!(!body["error"]["message"]
                    .as_str()
                    .unwrap_or_default()
                    .is_empty());
            }
            other => panic!("unexpected {other}: {body}"),
        }
    }
    let failed = answers.iter().filter(|(s, _)| *s != 201).count();
    assert!(failed > 0, "orders-api was stopped while sagas ran");
    // Back up, with its sweeper: the leftovers expire.
    stack.orders = Some(api(
        &stack.logs,
        "orders-api",
        stack.orders_port,
        &stack.db_url,
        stack.customers_port,
    ));
    wait_ready(
        &stack.client,
        &format!("http://127.0.0.1:{}/ready", stack.orders_port),
        Duration::from_secs(60),
    )
    .await
    .expect("ready");
    let mut left = i64::MAX;
    for _ in 0..60 {
        left = stack.scalar("SELECT COUNT(*) FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = ? AND o.status = 'CREATED'", limited).await;
        if left == 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(250)).await;
    }
    assert_eq!(left, 0, "no reservation outlives its TTL");
    let sold = stack.scalar("SELECT CAST(COALESCE(SUM(i.qty), 0) AS SIGNED) FROM orders o JOIN order_items i ON i.order_id = o.id WHERE i.product_id = ? AND o.status = 'CONFIRMED'", limited).await;
    let stock = stack
        .scalar(
            "SELECT CAST(stock AS SIGNED) FROM products WHERE id = ?",
            limited,
        )
        .await;
    assert_eq!(stock + sold, 50, "stock is conserved");
}

/// The info-level logs of all three processes carry no secret and no PII:
/// not a token, not a customer's email or phone, even where a request put
/// them in a body, a query string, a rejected `Authorization` header or a
/// saga's answer.
#[tokio::test]
async fn info_logs_carry_no_secrets_or_pii() {
    let stack = Stack::start().await;
    let token = mint_token("auditor", 600, json!({}));
    let (email, phone) = ("pii-probe@initech.example", "+15550001234");
    let customers = format!("http://127.0.0.1:{}", stack.customers_port);
    let orders = format!("http://127.0.0.1:{}", stack.orders_port);
    let c = &stack.client;

    let create = || {
        c.post(format!("{customers}/customers"))
            .bearer_auth(&token)
            .json(&json!({"name": "Initech", "email": email, "phone": phone}))
            .send()
    };
    let res = create().await.expect("sent");
    assert_eq!(res.status(), 201);
    let id = res.json::<Value>().await.expect("json")["id"]
        .as_u64()
        .expect("an id");
    // A conflict on the email, a search by it, a bad body echoing it.
    assert_eq!(create().await.expect("sent").status(), 409);
    let found = c
        .get(format!("{customers}/customers"))
        .query(&[("search", email)])
        .bearer_auth(&token)
        .send()
        .await
        .expect("sent");
    assert_eq!(found.status(), 200);
    let bad = c
        .put(format!("{customers}/customers/{id}"))
        .bearer_auth(&token)
        .json(&json!({"name": "", "email": email, "phone": phone}))
        .send()
        .await
        .expect("sent");
    assert_eq!(bad.status(), 400);
    // Credentials that are refused.
    for (url, bearer) in [
        (
            format!("{customers}/internal/customers/{id}"),
            token.as_str(),
        ),
        (format!("{customers}/customers/{id}"), SERVICE_TOKEN),
        (format!("{orders}/orders"), "not-a-jwt-but-a-secret-attempt"),
    ] {
        let res = c.get(url).bearer_auth(bearer).send().await.expect("sent");
        assert_eq!(res.status(), 401);
    }
    // A saga whose answer carries the email and the phone, and one that fails.
    let product = stack.product("E2E-PII", 100, 10).await;
    let (status, body) = stack
        .saga(&json!({"customer_id": id, "items": [{"product_id": product, "qty": 1}], "idempotency_key": "pii-1"}))
        .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["customer"]["email"], email);
    let (status, _) = stack
        .saga(&json!({"customer_id": id, "items": [{"product_id": product, "qty": 99}], "idempotency_key": "pii-2"}))
        .await;
    assert_eq!(status, 409);
    tokio::time::sleep(Duration::from_millis(300)).await;

    let forbidden = [
        email,
        "initech.example",
        "5550001234",
        SERVICE_TOKEN,
        ORCHESTRATOR_TOKEN,
        &token,
        &stack.token,
        "not-a-jwt-but-a-secret-attempt",
    ];
    let mut lines = 0;
    let mut info_lines = 0;
    let mut callers = std::collections::BTreeSet::new();
    for entry in std::fs::read_dir(&stack.logs).expect("log dir") {
        let path = entry.expect("entry").path();
        let text = std::fs::read_to_string(&path).unwrap_or_default();
        for line in text.lines() {
            lines += 1;
            // Who made each request: the access lines name the caller.
            if let Ok(v) = serde_json::from_str::<Value>(line) {
                if v["message"] == "request completed" {
                    if let (Some(service), Some(route), Some(sub)) = (
                        v["service"].as_str(),
                        v["route"].as_str(),
                        v["sub"].as_str(),
                    ) {
                        callers.insert(format!("{service} {route} {sub}"));
                    }
                }
            }
            if line.contains(r#""level":"INFO""#) {
                info_lines += 1;
            }
            for secret in forbidden {
                assert!(
                    !line.contains(secret),
                    "{} logs {secret:?}: {line}",
                    path.display()
                );
            }
        }
    }
    assert!(
        info_lines > 20,
        "the processes logged at info ({info_lines} info lines of {lines})"
    );
    // customers-api knows which service asked, and orders-api served the
    // saga's caller itself (its token relayed), not a service.
    for expected in [
        "customers-api /internal/customers/{id} service:orchestrator",
        "customers-api /internal/customers/{id} service:orders-api",
        "orders-api /orders alice",
        "orders-api /orders/{id}/confirm alice",
    ] {
        assert!(callers.contains(expected), "{expected} in {callers:#?}");
    }
}
