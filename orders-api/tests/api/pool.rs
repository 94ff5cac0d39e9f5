use std::time::Duration;

use kit_server::db;
use kit_testing::TestDatabase;
use sqlx::MySqlPool;

/// Checkouts skip the ping while a connection is in steady use; one the
/// server dropped (a restart, a failover) has sat idle since, so it is
/// pinged, found dead and replaced: the query runs on a fresh connection.
#[tokio::test]
async fn a_connection_the_server_dropped_while_idle_is_replaced_not_handed_out() {
    let test_db = TestDatabase::create().await;
    let pool = db::connect(&test_db.url, 1, None).await.expect("pool");
    let first: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&pool)
        .await
        .expect("first query");
    let admin = MySqlPool::connect(&test_db.url).await.expect("admin");
    sqlx::query(&format!("KILL {first}"))
        .execute(&admin)
        .await
        .expect("kill");
    tokio::time::sleep(db::PING_AFTER_IDLE + Duration::from_millis(200)).await;
    let second: u64 = sqlx::query_scalar("SELECT CONNECTION_ID()")
        .fetch_one(&pool)
        .await
        .expect("a fresh connection answers");
    assert_ne!(first, second);
}
