use std::time::Duration;

use kit_runtime::config::HttpSettings;
use kit_testing::TestDatabase;
use orders_api::{config::Settings, startup};
use reqwest::{Method, Response};
use serde_json::{json, Value};
use sqlx::MySqlPool;

pub use kit_testing::app::SERVICE_TOKEN;

kit_testing::api_test_app!("orders-api");

pub fn http_settings(db: &TestDatabase) -> HttpSettings {
    kit_testing::http_settings(db)
}

/// orders-api with a real customers-api beside it (same database).
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

pub async fn spawn_app_with(tweak: impl FnOnce(&mut Settings)) -> TestApp {
    let db = TestDatabase::create().await;
    let customers_base = spawn_customers(&db).await;
    spawn_orders(db, &customers_base, tweak).await
}

/// A real customers-api on `db`, served in the background; its base URL.
pub async fn spawn_customers(db: &TestDatabase) -> String {
    let customers = customers_api::startup::build(http_settings(db))
        .await
        .expect("customers-api starts");
    let base = format!("http://127.0.0.1:{}", customers.port());
    tokio::spawn(customers.run_until_stopped());
    base
}

/// A stand-in customers-api (wiremock) that knows customer 1 and answers
/// after `delay`.
pub async fn slow_customers(delay: Duration) -> wiremock::MockServer {
    use wiremock::{matchers, Mock, MockServer, ResponseTemplate};
    let customers = MockServer::start().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(json!({"id": 1, "name": "ACME", "email": "a@acme.example", "phone": null,
                                      "created_at": "2026-11-30T00:00:00Z", "updated_at": "2026-11-30T00:00:00Z"}))
                .set_delay(delay),
        )
        .mount(&customers)
        .await;
    customers
}

/// orders-api asking `customers_base` (a wiremock server, say) about customers.
pub async fn spawn_orders(
    db: TestDatabase,
    customers_base: &str,
    tweak: impl FnOnce(&mut Settings),
) -> TestApp {
    let mut settings = Settings {
        http: http_settings(&db),
        customers_api_base: customers_base.to_owned(),
        service_token: SERVICE_TOKEN.to_owned(),
        reservation_ttl: Duration::from_secs(900),
        cancel_window: Duration::from_secs(600),
        idempotency_ttl: Duration::from_secs(86_400),
        sweep_interval: Duration::from_secs(3600),
        sweep_idle_interval: Duration::from_secs(3600),
        limits: Default::default(),
        idempotency_wait: Duration::from_secs(1),
    };
    tweak(&mut settings);
    let app = startup::build(settings).await.expect("orders-api starts");
    TestApp::serve(app, db).await
}

impl TestApp {
    /// A customer, created straight in the table customers-api owns.
    pub async fn customer(&self) -> u64 {
        let email = format!("{}@example.com", uuid::Uuid::new_v4().simple());
        sqlx::query("INSERT INTO customers (name, email, created_at, updated_at) VALUES ('Buyer', ?, NOW(6), NOW(6))")
            .bind(email)
            .execute(&self.pool)
            .await
            .expect("customer")
            .last_insert_id()
    }

    pub async fn product(&self, price_cents: u64, stock: u32) -> u64 {
        let sku = format!("SKU-{}", uuid::Uuid::new_v4().simple());
        let res = self
            .authed(Method::POST, "/products")
            .json(&json!({"sku": sku, "name": "Thing", "price_cents": price_cents, "stock": stock}))
            .send()
            .await
            .expect("sent");
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.expect("json");
        body["id"].as_u64().expect("id")
    }

    /// Holds product `p`'s row lock, as a running transaction would, until
    /// the returned transaction ends.
    pub async fn lock_product(&self, p: u64) -> sqlx::Transaction<'static, sqlx::MySql> {
        let mut lock = self.pool.begin().await.expect("tx");
        sqlx::query("SELECT stock FROM products WHERE id = ? FOR UPDATE")
            .bind(p)
            .execute(&mut *lock)
            .await
            .expect("lock the product");
        lock
    }

    pub async fn stock(&self, product_id: u64) -> u32 {
        sqlx::query_scalar::<_, u32>("SELECT stock FROM products WHERE id = ?")
            .bind(product_id)
            .fetch_one(&self.pool)
            .await
            .expect("stock")
    }

    pub async fn post_order(&self, body: &Value, key: Option<&str>) -> Response {
        let mut req = self.authed(Method::POST, "/orders").json(body);
        if let Some(key) = key {
            req = req.header(contracts::headers::IDEMPOTENCY_KEY, key);
        }
        req.send().await.expect("sent")
    }

    /// An order that must be created; returns its id.
    pub async fn order(&self, customer_id: u64, items: &[(u64, u32)]) -> u64 {
        let items: Vec<Value> = items
            .iter()
            .map(|(p, q)| json!({"product_id": p, "qty": q}))
            .collect();
        let res = self
            .post_order(&json!({"customer_id": customer_id, "items": items}), None)
            .await;
        assert_eq!(res.status(), 201);
        let body: Value = res.json().await.expect("json");
        body["id"].as_u64().expect("id")
    }

    pub async fn confirm(&self, order_id: u64, key: Option<&str>) -> Response {
        let mut req = self.authed(Method::POST, &format!("/orders/{order_id}/confirm"));
        if let Some(key) = key {
            req = req.header(contracts::headers::X_IDEMPOTENCY_KEY, key);
        }
        req.send().await.expect("sent")
    }

    pub async fn cancel(&self, order_id: u64, key: Option<&str>) -> Response {
        let mut req = self.authed(Method::POST, &format!("/orders/{order_id}/cancel"));
        if let Some(key) = key {
            req = req.header(contracts::headers::IDEMPOTENCY_KEY, key);
        }
        req.send().await.expect("sent")
    }

    pub async fn order_rows(&self) -> i64 {
        self.rows("orders").await
    }

    pub async fn status_of(&self, order_id: u64) -> String {
        sqlx::query_scalar::<_, String>("SELECT status FROM orders WHERE id = ?")
            .bind(order_id)
            .fetch_one(&self.pool)
            .await
            .expect("status")
    }
}

pub use kit_testing::assert_problem;

/// `n` orders of made-up customers, most of them settled, spread over the
/// last `n` minutes, and fresh statistics: enough rows for the optimizer to
/// plan as it would on a real table.
pub async fn fill_orders(app: &TestApp, n: u32) {
    let digits = "(SELECT 0 d UNION ALL SELECT 1 UNION ALL SELECT 2 UNION ALL SELECT 3 UNION ALL SELECT 4 \
                  UNION ALL SELECT 5 UNION ALL SELECT 6 UNION ALL SELECT 7 UNION ALL SELECT 8 UNION ALL SELECT 9)";
    let sql = format!(
        "INSERT INTO orders (customer_id, status, total_cents, created_by, created_at, updated_at)
         SELECT 1 + (n % 50),
                CASE WHEN n % 20 = 0 THEN 'CREATED' WHEN n % 3 = 0 THEN 'CANCELED' ELSE 'CONFIRMED' END,
                100, 'filler', NOW(6) - INTERVAL n MINUTE, NOW(6) - INTERVAL n MINUTE
         FROM (SELECT a.d + 10 * b.d + 100 * c.d + 1000 * e.d AS n
               FROM {digits} a, {digits} b, {digits} c, {digits} e) seq
         WHERE n < ?"
    );
    sqlx::query(&sql)
        .bind(n)
        .execute(&app.pool)
        .await
        .expect("filler orders");
    sqlx::query("ANALYZE TABLE orders")
        .execute(&app.pool)
        .await
        .expect("analyze");
}

/// The row of a query plan about the `orders` table.
#[derive(Debug)]
pub struct Plan {
    pub access: String,
    pub key: Option<String>,
    pub extra: String,
}

/// Runs an `EXPLAIN ...` query and returns its row for `orders`.
pub async fn explain(
    pool: &MySqlPool,
    query: sqlx::query::Query<'_, sqlx::MySql, sqlx::mysql::MySqlArguments>,
) -> Plan {
    use sqlx::Row;
    let text = |row: &sqlx::mysql::MySqlRow, col: &str| -> Option<String> {
        row.try_get::<Option<String>, _>(col)
            .ok()
            .flatten()
            .or_else(|| {
                row.try_get::<Option<Vec<u8>>, _>(col)
                    .ok()
                    .flatten()
                    .map(|b| String::from_utf8_lossy(&b).into_owned())
            })
    };
    let rows = query.fetch_all(pool).await.expect("explain");
    let row = rows
        .iter()
        .find(|r| text(r, "table").as_deref() == Some("orders"))
        .expect("a plan row for orders");
    Plan {
        access: text(row, "type").unwrap_or_default(),
        key: text(row, "key"),
        extra: text(row, "Extra").unwrap_or_default(),
    }
}
