//! Test helpers (feature `test-util`): a throw-away database per test and
//! token minting.

use std::time::{SystemTime, UNIX_EPOCH};

use sqlx::{Connection, Executor, MySqlConnection};

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

/// An HS256 token with `sub` and `exp = now + ttl_secs` (negative: expired),
/// plus any extra claims.
pub fn mint_token(secret: &str, sub: &str, ttl_secs: i64, extra: serde_json::Value) -> String {
    let mut claims = serde_json::json!({"sub": sub, "exp": now() + ttl_secs, "iat": now()});
    if let (Some(map), serde_json::Value::Object(more)) = (claims.as_object_mut(), extra) {
        map.extend(more);
    }
    jsonwebtoken::encode(
        &jsonwebtoken::Header::new(jsonwebtoken::Algorithm::HS256),
        &claims,
        &jsonwebtoken::EncodingKey::from_secret(secret.as_bytes()),
    )
    .unwrap_or_default()
}
