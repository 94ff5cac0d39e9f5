//! One harness for the APIs' black-box tests: a service built on a test
//! database, served from a background task, with a client, a user token and
//! a pool of the test's own beside it.

use std::sync::Once;

use reqwest::Method;
use serde_json::{json, Value};
use sqlx::{mysql::MySqlPoolOptions, MySqlPool};

use super::{mint_token, TestDatabase};
pub use kit_server::http::Application;

/// orders-api's own token for customers-api, in tests.
pub const SERVICE_TOKEN: &str = "test-service-token-0123456789";
/// The orchestrator's own token for customers-api, in tests.
pub const ORCHESTRATOR_TOKEN: &str = "test-orchestrator-token-0123456789";

/// The services customers-api knows in tests: `orders-api` holding
/// [`SERVICE_TOKEN`], `orchestrator` holding [`ORCHESTRATOR_TOKEN`].
pub fn service_tokens() -> kit_identity::token::ServiceTokens {
    let mut tokens = kit_identity::token::ServiceTokens::default();
    for (name, token) in [
        ("orders-api", SERVICE_TOKEN),
        ("orchestrator", ORCHESTRATOR_TOKEN),
    ] {
        if let Err(e) = tokens.add(name, token) {
            panic!("test service tokens: {e}");
        }
    }
    tokens
}

/// A token for `sub` with `extra` claims over every scope (see
/// [`mint_token`]): `json!({"scope": ""})` grants nothing,
/// `json!({"scope": "", "groups": ["viewer"]})` a viewer's scopes.
pub fn token_for(sub: &str, extra: Value) -> String {
    mint_token(sub, 600, extra)
}

/// A service under test.
pub struct TestApp {
    /// `http://127.0.0.1:<port>`.
    pub address: String,
    /// Follows no redirect, so that tests see them.
    pub client: reqwest::Client,
    /// A valid user token (`sub` = `tester`) with every scope.
    pub token: String,
    /// A pool of the test's own, to look behind the API.
    pub pool: MySqlPool,
    pub db_url: String,
    /// Dropping it drops the test's database.
    _db: TestDatabase,
}

static TRACING: Once = Once::new();

impl TestApp {
    /// Serves `app`, built on `db`, until the test's runtime ends. The
    /// services' logs show only when `TEST_LOG` is set.
    pub async fn serve(service: &'static str, app: Application, db: TestDatabase) -> Self {
        TRACING.call_once(|| {
            if std::env::var("TEST_LOG").is_ok() {
                kit_runtime::telemetry::init(service);
            }
        });
        let address = format!("http://127.0.0.1:{}", app.port());
        tokio::spawn(app.run_until_stopped());
        let pool = MySqlPoolOptions::new()
            .max_connections(4)
            .connect(&db.url)
            .await
            .expect("the test pool connects");
        Self {
            address,
            client: reqwest::Client::builder()
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .expect("client builds"),
            token: mint_token("tester", 600, json!({})),
            pool,
            db_url: db.url.clone(),
            _db: db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{}", self.address, path)
    }

    /// A request with the user token.
    pub fn authed(&self, method: Method, path: &str) -> reqwest::RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.token)
    }

    /// `GET path` with the user token, as JSON.
    pub async fn get_json(&self, path: &str) -> Value {
        self.authed(Method::GET, path)
            .send()
            .await
            .expect("sent")
            .json()
            .await
            .expect("json")
    }

    /// `GET path` without a token: its status and body.
    pub async fn get_text(&self, path: &str) -> (u16, String) {
        let res = self.client.get(self.url(path)).send().await.expect("sent");
        let status = res.status().as_u16();
        (status, res.text().await.expect("text"))
    }

    /// The `/metrics` text.
    pub async fn metrics(&self) -> String {
        self.get_text("/metrics").await.1
    }

    /// Rows of `table`.
    pub async fn rows(&self, table: &str) -> i64 {
        sqlx::query_scalar::<_, i64>(&format!("SELECT COUNT(*) FROM {table}"))
            .fetch_one(&self.pool)
            .await
            .expect("count")
    }
}

/// Declares an API's own `TestApp` in its tests: the shared [`TestApp`],
/// reached through `Deref`, to which the API's tests add their helpers
/// (`impl TestApp { ... }`). `TestApp::serve` serves a built service.
#[macro_export]
macro_rules! api_test_app {
    ($service:literal) => {
        #[doc = concat!($service, " under test: the shared harness and this API's helpers.")]
        pub struct TestApp($crate::app::TestApp);

        impl TestApp {
            pub async fn serve(app: $crate::app::Application, db: $crate::TestDatabase) -> Self {
                Self($crate::app::TestApp::serve($service, app, db).await)
            }
        }

        impl ::std::ops::Deref for TestApp {
            type Target = $crate::app::TestApp;

            fn deref(&self) -> &Self::Target {
                &self.0
            }
        }
    };
}
