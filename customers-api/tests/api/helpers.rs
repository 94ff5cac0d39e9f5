use customers_api::startup;
use kit_runtime::config::HttpSettings;
use kit_testing::TestDatabase;
use reqwest::{Method, Response};
use serde_json::{json, Value};

pub use kit_testing::app::SERVICE_TOKEN;

kit_testing::api_test_app!("customers-api");

pub fn settings(db: &TestDatabase) -> HttpSettings {
    HttpSettings {
        db_max_connections: 10,
        ..kit_testing::http_settings(db)
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
    let mut settings = settings(&db);
    tweak(&mut settings);
    let app = startup::build(settings).await.expect("the app starts");
    TestApp::serve(app, db).await
}

pub fn customer_body(name: &str, email: &str) -> Value {
    json!({"name": name, "email": email, "phone": "+51987654321"})
}

impl TestApp {
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
        self.rows("customers").await
    }
}

pub use kit_testing::assert_problem;
