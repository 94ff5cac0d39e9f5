use std::time::Duration;

use futures_util::future::join_all;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, spawn_app};

#[tokio::test]
async fn a_replayed_create_answers_the_same_bytes_and_makes_no_second_order() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 2}]});
    let first = app.post_order(&body, Some("order-abc")).await;
    assert_eq!(first.status(), 201);
    assert!(first
        .headers()
        .get(contracts::headers::IDEMPOTENT_REPLAYED)
        .is_none());
    let location = first.headers()[reqwest::header::LOCATION].clone();
    let first_bytes = first.bytes().await.expect("body");

    // Key order and whitespace do not matter; the request is the same.
    let same = json!({"items": [{"qty": 2, "product_id": p}], "customer_id": customer});
    let replay = app.post_order(&same, Some("order-abc")).await;
    assert_eq!(replay.status(), 201);
    assert_eq!(
        replay.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    assert_eq!(replay.headers()[reqwest::header::LOCATION], location);
    assert_eq!(replay.bytes().await.expect("body"), first_bytes);
    assert_eq!(app.order_rows().await, 1);
    assert_eq!(app.stock(p).await, 8);

    // Same key, another body: 422, nothing done.
    let other = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 3}]});
    assert_problem(
        app.post_order(&other, Some("order-abc")).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.order_rows().await, 1);
}

#[tokio::test]
async fn confirm_keys_are_bound_to_their_order_and_replayed() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let o1 = app.order(customer, &[(p, 1)]).await;
    let o2 = app.order(customer, &[(p, 1)]).await;
    let first = app.confirm(o1, Some("confirm-1")).await;
    assert_eq!(first.status(), 200);
    let bytes = first.bytes().await.expect("body");
    let replay = app.confirm(o1, Some("confirm-1")).await;
    assert_eq!(
        replay.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    assert_eq!(replay.bytes().await.expect("body"), bytes);
    assert_problem(
        app.confirm(o2, Some("confirm-1")).await,
        422,
        "idempotency_key_reused",
    )
    .await;
    assert_eq!(app.status_of(o2).await, "CREATED");
    // The same key on another endpoint is another key.
    assert_eq!(app.cancel(o2, Some("confirm-1")).await.status(), 200);
}

#[tokio::test]
async fn final_refusals_are_replayed_but_validation_failures_are_not_stored() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 1).await;
    let greedy = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 5}]});
    let first = app.post_order(&greedy, Some("greedy")).await;
    assert_eq!(first.status(), 409);
    let bytes = first.bytes().await.expect("body");
    let again = app.post_order(&greedy, Some("greedy")).await;
    assert_eq!(
        again.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    assert_eq!(again.bytes().await.expect("body"), bytes);

    let invalid = json!({"customer_id": customer, "items": []});
    assert_problem(
        app.post_order(&invalid, Some("fixable")).await,
        400,
        "validation_failed",
    )
    .await;
    let fixed = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    assert_eq!(app.post_order(&fixed, Some("fixable")).await.status(), 201);
}

#[tokio::test]
async fn fifty_concurrent_confirms_with_one_key_change_state_once() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let order = app.order(customer, &[(p, 1)]).await;
    let responses = join_all((0..50).map(|_| app.confirm(order, Some("storm")))).await;
    let mut bodies = Vec::new();
    let mut in_progress = 0;
    for res in responses {
        match res.status().as_u16() {
            200 => bodies.push(res.bytes().await.expect("body")),
            409 => {
                assert!(res.headers().contains_key(reqwest::header::RETRY_AFTER));
                let body: Value = res.json().await.expect("json");
                assert_eq!(body["code"], "idempotency_key_in_progress");
                in_progress += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert!(!bodies.is_empty());
    assert_eq!(bodies.len() + in_progress, 50);
    assert!(
        bodies.windows(2).all(|w| w[0] == w[1]),
        "every 200 is the stored answer"
    );
    let confirmations: i64 =
        sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE id = ? AND status = 'CONFIRMED'")
            .bind(order)
            .fetch_one(&app.pool)
            .await
            .expect("count");
    assert_eq!(confirmations, 1);
    let after = app.confirm(order, Some("storm")).await;
    assert_eq!(
        after.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    assert_eq!(after.bytes().await.expect("body"), bodies[0]);
}

/// The request holding a key is slowed down by a product lock the test
/// holds: its twin, sent meanwhile, waits for it and replays its answer.
#[tokio::test]
async fn a_twin_waits_for_the_request_holding_its_key_and_replays_the_answer() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 2}]});
    let lock = app.lock_product(p).await;
    let first = app.post_order(&body, Some("twin"));
    let twin = async {
        tokio::time::sleep(Duration::from_millis(150)).await;
        app.post_order(&body, Some("twin")).await
    };
    let release = async {
        tokio::time::sleep(Duration::from_millis(400)).await;
        lock.rollback().await.expect("release");
    };
    let (first, twin, ()) = tokio::join!(first, twin, release);
    assert_eq!(first.status(), 201);
    assert!(first
        .headers()
        .get(contracts::headers::IDEMPOTENT_REPLAYED)
        .is_none());
    assert_eq!(twin.status(), 201, "the twin waited instead of a 409");
    assert_eq!(
        twin.headers()[contracts::headers::IDEMPOTENT_REPLAYED],
        "true"
    );
    assert_eq!(
        twin.bytes().await.expect("body"),
        first.bytes().await.expect("body")
    );
    assert_eq!(app.order_rows().await, 1);
    assert_eq!(app.stock(p).await, 8);
}

/// A claim is a row written by an open transaction: past the wait bound a
/// twin gets 409 in progress; when the transaction dies (a crash rolls it
/// back), the key is free at once, with nothing to expire.
#[tokio::test]
async fn a_claim_held_past_the_wait_is_in_progress_and_a_crash_frees_it() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let order = app.order(customer, &[(p, 1)]).await;
    let mut in_flight = app.pool.begin().await.expect("tx");
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, subject, idem_key, fingerprint, created_at)
         VALUES ('confirm_order', 'tester', 'held', REPEAT('x', 32), NOW(6))",
    )
    .execute(&mut *in_flight)
    .await
    .expect("claim");
    let started = std::time::Instant::now();
    let res = app.confirm(order, Some("held")).await;
    assert!(
        started.elapsed() >= Duration::from_millis(900),
        "answered after {:?}, before the wait bound",
        started.elapsed()
    );
    assert!(res.headers().contains_key(reqwest::header::RETRY_AFTER));
    assert_problem(res, 409, "idempotency_key_in_progress").await;
    assert_eq!(app.status_of(order).await, "CREATED");
    in_flight.rollback().await.expect("the crash");
    let res = app.confirm(order, Some("held")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.status_of(order).await, "CONFIRMED");
}

/// A request of an earlier version of the service left a lease and no
/// answer (it held its key in a separate commit).
#[tokio::test]
async fn a_lease_left_by_a_dead_request_expires() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let order = app.order(customer, &[(p, 1)]).await;
    let scope = "confirm_order";
    let fingerprint = {
        use sha2::Digest;
        let mut h = sha2::Sha256::new();
        h.update(scope.as_bytes());
        h.update([0]);
        h.update(order.to_string().as_bytes());
        h.update([0]);
        h.finalize().to_vec()
    };
    // What such a request that crashed mid-way leaves: a lease and no answer.
    sqlx::query(
        "INSERT INTO idempotency_keys (scope, subject, idem_key, fingerprint, owner, locked_until, created_at)
         VALUES (?, 'tester', 'crashed', ?, 'dead-owner', ?, NOW(6))",
    )
    .bind(scope)
    .bind(&fingerprint)
    .bind(chrono::Utc::now() + chrono::Duration::seconds(60))
    .execute(&app.pool)
    .await
    .expect("claim");
    let res = app.confirm(order, Some("crashed")).await;
    assert_problem(res, 409, "idempotency_key_in_progress").await;
    sqlx::query("UPDATE idempotency_keys SET locked_until = NOW(6) - INTERVAL 1 SECOND WHERE idem_key = 'crashed'")
        .execute(&app.pool)
        .await
        .expect("expire the lease");
    let res = app.confirm(order, Some("crashed")).await;
    assert_eq!(res.status(), 200);
    assert_eq!(app.status_of(order).await, "CONFIRMED");
}

#[tokio::test]
async fn records_are_purged_after_their_ttl() {
    let app = crate::helpers::spawn_app_with(|s| {
        s.idempotency_ttl = std::time::Duration::from_secs(1);
        s.sweep_interval = std::time::Duration::from_secs(1);
    })
    .await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    assert_eq!(
        app.post_order(&body, Some("short-lived")).await.status(),
        201
    );
    let mut purged = false;
    for _ in 0..50 {
        let left: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM idempotency_keys")
            .fetch_one(&app.pool)
            .await
            .expect("count");
        if left == 0 {
            purged = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    assert!(purged, "the record was purged");
    // The key is free again: another body is a new order, not a 422.
    let other = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 2}]});
    assert_eq!(
        app.post_order(&other, Some("short-lived")).await.status(),
        201
    );
    assert_eq!(app.stock(p).await, 7);
}

/// The wait bound holds for the work's own row locks too: an order whose
/// product stays locked by another transaction through every attempt is a
/// 503 with `Retry-After`, and nothing is written.
#[tokio::test]
async fn a_row_locked_through_every_attempt_is_a_503_database_busy() {
    let app = spawn_app().await;
    let customer = app.customer().await;
    let p = app.product(250, 10).await;
    let lock = app.lock_product(p).await;
    let body = json!({"customer_id": customer, "items": [{"product_id": p, "qty": 1}]});
    let res = app.post_order(&body, Some("busy")).await;
    assert!(res.headers().contains_key(reqwest::header::RETRY_AFTER));
    assert_problem(res, 503, "database_busy").await;
    lock.rollback().await.expect("release");
    assert_eq!(app.order_rows().await, 0);
    assert_eq!(app.stock(p).await, 10);
    // Not stored: the same key works once the row is free.
    assert_eq!(app.post_order(&body, Some("busy")).await.status(), 201);
}
