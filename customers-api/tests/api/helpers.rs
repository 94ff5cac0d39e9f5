use std::sync::Once;

use customers_api::startup::Application;
use reqwest::{Method, Response};
use serde_json::{json, Value};
use service_kit::{
    config::HttpSettings,
    testing::{mint_token, TestDatabase},
};
use sqlx::{mysql::MySqlPoolOptions, MySqlPool};

pub const JWT_SECRET: &str = "test-jwt-secret-0123456789abcdef";
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";

static TRACING: Once = Once::new();

/// Logs of the apps under test, only when `TEST_LOG` is set.
fn init_tracing() {
    TRACING.call_once(|| {
        if std::env::var("TEST_LOG").is_ok() {
            service_kit::telemetry::init("customers-api");
        }
    });
}

pub struct TestApp {
    pub address: String,
    pub client: reqwest::Client,
    /// A valid user token.
    pub token: String,
    /// A pool of the test's own, to look behind the API.
    pub pool: MySqlPool,
    /// Dropping it drops the test's database.
    _db: TestDatabase,
}

pub fn settings(db: &TestDatabase) -> HttpSettings {
    HttpSettings {
        db_max_connections: 10,
        ..service_kit::testing::http_settings(db, JWT_SECRET, SERVICE_TOKEN)
    }
}

pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Spawns the app on a fresh database, after `tweak` adjusts its settings.
pub async fn spawn_app_with(tweak: impl FnOnce(&mut HttpSettings)) -> TestApp {
    let db = TestDatabase::create().await;
    spawn_app_on(db, tweak).await
}

/// Spawns the app on a database prepared by the caller.
pub async fn spawn_app_on(db: TestDatabase, tweak: impl FnOnce(&mut HttpSettings)) -> TestApp {
    init_tracing();
    let mut settings = settings(&db);
    tweak(&mut settings);
    let app = Application::build(settings).await.expect("the app starts");
    let address = format!("http://127.0.0.1:{}", app.port());
    tokio::spawn(app.run_until_stopped());
    let pool = MySqlPoolOptions::new()
        .max_connections(2)
        .connect(&db.url)
        .await
        .expect("test pool connects");
    TestApp {
        address,
        client: reqwest::Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client builds"),
        token: mint_token(JWT_SECRET, "tester", 600, json!({})),
        pool,
        _db: db,
    }
}

pub fn customer_body(name: &str, email: &str) -> Value {
    json!({"name": name, "email": email, "phone": "+51987654321"})
}

impl TestApp {
    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with the user token.
    pub fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    pub async fn post_customer(&self, body: &Value) -> Response {
        self.authed(Method::POST, "/customers")
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    /// Creates a customer that must be accepted, and returns it.
    pub async fn create_customer(&self, name: &str, email: &str) -> Value {
        let res = self.post_customer(&customer_body(name, email)).await;
        assert_eq!(res.status(), 201, "creating {email}");
        res.json().await.expect("customer JSON")
    }

    pub async fn get_customer(&self, id: impl std::fmt::Display) -> Response {
        self.authed(Method::GET, &format!("/customers/{id}"))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn put_customer(&self, id: impl std::fmt::Display, body: &Value) -> Response {
        self.authed(Method::PUT, &format!("/customers/{id}"))
            .json(body)
            .send()
            .await
            .expect("request sent")
    }

    pub async fn delete_customer(&self, id: impl std::fmt::Display) -> Response {
        self.authed(Method::DELETE, &format!("/customers/{id}"))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn list_customers(&self, query: &str) -> Response {
        self.authed(Method::GET, &format!("/customers{query}"))
            .send()
            .await
            .expect("request sent")
    }

    pub async fn get_internal(&self, id: impl std::fmt::Display, token: Option<&str>) -> Response {
        let mut req = self
            .client
            .get(self.url(&format!("/internal/customers/{id}")));
        if let Some(token) = token {
            req = req.bearer_auth(token);
        }
        req.send().await.expect("request sent")
    }

    /// Rows in the customers table, deleted ones included.
    pub async fn customer_rows(&self) -> i64 {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM customers")
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

pub use service_kit::testing::assert_problem;
