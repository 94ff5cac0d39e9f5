//! Test helpers (feature `test-util`): a throw-away database per test, the
//! test issuer and its tokens.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, MySqlConnection};

pub mod access;
pub mod app;
pub mod issuer;
pub mod process;

/// Where tests find a server: `TEST_DATABASE_URL` (no database path), default
/// `mysql://root@127.0.0.1:3306`.
pub fn server_url() -> String {
    std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "mysql://root@127.0.0.1:3306".to_owned())
}

/// A database created for one test and dropped when the value is dropped.
pub struct TestDatabase {
    pub name: String,
    pub url: String,
    server: String,
}

impl TestDatabase {
    pub async fn create() -> Self {
        let server = server_url();
        let name = format!("t_{}", uuid::Uuid::new_v4().simple());
        let mut conn = MySqlConnection::connect(&server)
            .await
            .unwrap_or_else(|e| panic!("tests need a MySQL/MariaDB server at {server}: {e}"));
        conn.execute(
            format!("CREATE DATABASE `{name}` CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
                .as_str(),
        )
        .await
        .unwrap_or_else(|e| panic!("creating test database {name}: {e}"));
        let _ = conn.close().await;
        let url = format!("{}/{name}", server.trim_end_matches('/'));
        Self { name, url, server }
    }
}

impl Drop for TestDatabase {
    fn drop(&mut self) {
        let server = self.server.clone();
        let name = self.name.clone();
        // Drop runs inside the test's runtime, which cannot be blocked on:
        // do it on a thread with a runtime of its own, and wait for it.
        let dropper = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async move {
                if let Ok(mut conn) = MySqlConnection::connect(&server).await {
                    // The app under test may still hold connections to the
                    // database, one of them inside a transaction (its
                    // sweeper, say) that cannot finish while this thread
                    // blocks the test's runtime: DROP DATABASE would wait
                    // for its metadata lock for good. End them first.
                    let ids: Vec<i64> = sqlx::query_scalar(
                        "SELECT CAST(id AS SIGNED) FROM information_schema.processlist WHERE db = ? AND id <> CONNECTION_ID()",
                    )
                    .bind(&name)
                    .fetch_all(&mut conn)
                    .await
                    .unwrap_or_default();
                    for id in ids {
                        let _ = conn.execute(format!("KILL {id}").as_str()).await;
                    }
                    let _ = conn.execute("SET SESSION lock_wait_timeout = 30").await;
                    let _ = conn
                        .execute(format!("DROP DATABASE IF EXISTS `{name}`").as_str())
                        .await;
                    let _ = conn.close().await;
                }
            });
        });
        let _ = dropper.join();
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or_default()
}

/// A token of the test issuer with `sub`, `exp = now + ttl_secs`
/// (negative: expired), [`TEST_ISSUER`], [`TEST_AUDIENCE`] and every scope,
/// then `extra`'s claims over those (`{"scope": ""}`: no scope; `{"scope":
/// "orders:read"}`: that one only; `{"aud": "other"}`: another audience).
pub fn mint_token(sub: &str, ttl_secs: i64, extra: serde_json::Value) -> String {
    sign_claims(&claims(sub, ttl_secs, extra))
}

/// The claims [`mint_token`] signs.
pub fn claims(sub: &str, ttl_secs: i64, extra: serde_json::Value) -> serde_json::Value {
    let every = kit_identity::scope::Scopes::all().claim();
    let mut claims = serde_json::json!({"sub": sub, "exp": now() + ttl_secs, "iat": now(),
        "iss": TEST_ISSUER, "aud": TEST_AUDIENCE, "scope": every});
    if let (Some(map), serde_json::Value::Object(more)) = (claims.as_object_mut(), extra) {
        map.extend(more);
    }
    claims
}

pub use issuer::{sign_claims, test_jwks, Forgery};

/// The environment that makes a service process accept the test issuer's
/// tokens: `JWT_JWKS` (its key set, inline), `JWT_ISSUER`, `JWT_AUDIENCE`.
pub fn issuer_env() -> [(&'static str, String); 3] {
    [
        ("JWT_JWKS", test_jwks()),
        ("JWT_ISSUER", TEST_ISSUER.to_owned()),
        ("JWT_AUDIENCE", TEST_AUDIENCE.to_owned()),
    ]
}

async fn one_connection(db: &TestDatabase) -> sqlx::MySqlPool {
    sqlx::mysql::MySqlPoolOptions::new()
        .max_connections(1)
        .connect(&db.url)
        .await
        .unwrap_or_else(|e| panic!("connecting to {}: {e}", db.name))
}

/// `SHOW CREATE TABLE`, without the AUTO_INCREMENT counter (data, not schema).
pub async fn table_ddl(pool: &sqlx::MySqlPool, table: &str) -> String {
    use sqlx::Row;
    let row = sqlx::query(&format!("SHOW CREATE TABLE `{table}`"))
        .fetch_one(pool)
        .await
        .unwrap_or_else(|e| panic!("table {table}: {e}"));
    let ddl: String = row.try_get(1).unwrap_or_default();
    ddl.split_whitespace()
        .filter(|w| !w.starts_with("AUTO_INCREMENT="))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Fails unless `schema_sql` (what a fresh MySQL loads at init) and a
/// service's migrations create the same `tables`, also when the migrations
/// then run over schema.sql (as they do at the service's start).
pub async fn assert_schema_matches_migrations(
    schema_sql: &str,
    mut migrator: sqlx::migrate::Migrator,
    tables: &[&str],
) {
    let (from_schema, from_migrations) =
        (TestDatabase::create().await, TestDatabase::create().await);
    let (a, b) = (
        one_connection(&from_schema).await,
        one_connection(&from_migrations).await,
    );
    sqlx::raw_sql(schema_sql)
        .execute(&a)
        .await
        .unwrap_or_else(|e| panic!("schema.sql loads: {e}"));
    kit_server::db::migrate(&b, &mut migrator)
        .await
        .unwrap_or_else(|e| panic!("migrations apply: {e:#}"));
    assert_same_tables(&a, &b, tables, "").await;
    kit_server::db::migrate(&a, &mut migrator)
        .await
        .unwrap_or_else(|e| panic!("migrations apply over schema.sql: {e:#}"));
    assert_same_tables(&a, &b, tables, " after migrating").await;
}

async fn assert_same_tables(a: &sqlx::MySqlPool, b: &sqlx::MySqlPool, tables: &[&str], when: &str) {
    for table in tables {
        assert_eq!(
            table_ddl(a, table).await,
            table_ddl(b, table).await,
            "table {table}{when}"
        );
    }
}

/// The `iss` the services under test accept, and [`mint_token`] sets.
pub const TEST_ISSUER: &str = "test-issuer";
/// The `aud` the services under test accept, and [`mint_token`] sets.
pub const TEST_AUDIENCE: &str = "test-audience";

/// The rules the services under test apply: [`TEST_ISSUER`],
/// [`TEST_AUDIENCE`], a day's token lifetime.
pub fn test_rules() -> kit_identity::jwks::Rules {
    kit_identity::jwks::Rules {
        issuer: TEST_ISSUER.into(),
        audience: TEST_AUDIENCE.into(),
        max_ttl: std::time::Duration::from_secs(86_400),
    }
}

/// A verifier of the test issuer's tokens under [`test_rules`], as the
/// services under test have.
pub fn test_verifier() -> kit_identity::jwks::JwtVerifier {
    kit_identity::jwks::JwtVerifier::of_document(&test_jwks(), test_rules())
        .unwrap_or_else(|e| panic!("the test issuer's key set: {e}"))
}

/// Settings of a service under test: port 0 on loopback, the test database,
/// the test issuer's keys and [`test_rules`], and the test services' tokens
/// ([`app::service_tokens`]: only customers-api looks at them).
pub fn http_settings(db: &TestDatabase) -> kit_runtime::config::HttpSettings {
    kit_runtime::config::HttpSettings {
        host: "127.0.0.1".into(),
        port: 0,
        database_url: db.url.clone(),
        migrate_on_start: true,
        db_max_connections: 20,
        auth: kit_runtime::config::AuthSettings {
            jwks: kit_identity::jwks::Source::Inline(test_jwks()),
            rules: test_rules(),
            jwks_refresh_floor: std::time::Duration::from_secs(1),
            services: app::service_tokens(),
        },
        cors_origins: Vec::new(),
    }
}

/// A database loaded with `sql` (schema.sql, then seed.sql, say).
pub async fn database_with(sql: &[&str]) -> TestDatabase {
    let db = TestDatabase::create().await;
    let pool = one_connection(&db).await;
    for script in sql {
        sqlx::raw_sql(script)
            .execute(&pool)
            .await
            .unwrap_or_else(|e| panic!("loading SQL: {e}"));
    }
    pool.close().await;
    db
}

/// A token with `alg: none` and no signature, otherwise well formed and
/// unexpired: what a forger sends to a verifier that trusts the header.
pub fn unsigned_token(sub: &str) -> String {
    Forgery::Unsigned.sign(&claims(sub, 600, serde_json::json!({})))
}

/// Checks that `res` is an RFC 9457 problem document with `status` and
/// `code`: its media type, `type` (`urn:problem:<code>`), a title and a
/// detail, and the correlation id of the response header. Returns the body.
pub async fn assert_problem(res: reqwest::Response, status: u16, code: &str) -> serde_json::Value {
    assert_eq!(res.status(), status, "status of {}", res.url());
    let content_type = res
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let header_id = res
        .headers()
        .get(contracts::headers::CORRELATION_ID)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let body: serde_json::Value = res.json().await.expect("problem JSON");
    assert_eq!(body["status"], status, "{body}");
    assert_eq!(body["code"], code, "{body}");
    assert_eq!(body["type"], format!("urn:problem:{code}"));
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert_eq!(
        body["correlation_id"].as_str(),
        header_id.as_deref(),
        "{body}"
    );
    body
}

/// Checks a service's problem codes: its own (`own`) serialised as
/// written, every code of `codes` snake_case and listed once, and `doc` (its
/// OpenAPI document) listing exactly `codes` as the `enum` of
/// `Problem.code`.
pub fn assert_codes_documented<C>(own: &[C], codes: &[&str], doc: &utoipa::openapi::OpenApi)
where
    C: kit_server::problem::ProblemCode + serde::Serialize,
{
    for code in own {
        let json = serde_json::to_value(code).expect("a code serialises");
        assert_eq!(json, code.as_str());
    }
    for code in codes {
        assert!(kit_server::problem::is_snake_case(code), "{code}");
        let times = codes.iter().filter(|c| *c == code).count();
        assert_eq!(times, 1, "{code} is listed {times} times");
    }
    let doc = serde_json::to_value(doc).expect("the document serialises");
    let listed = &doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    assert_eq!(listed, &serde_json::json!(codes));
}
