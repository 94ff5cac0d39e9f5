use futures_util::future::join_all;
use serde_json::Value;

use crate::helpers::{customer_body, spawn_app};

#[tokio::test]
async fn fifty_parallel_creates_with_one_email_make_one_customer() {
    let app = spawn_app().await;
    let requests = (0..50).map(|i| {
        // The same address, in varying letter case.
        let email = if i % 2 == 0 {
            "race@example.com"
        } else {
            "RACE@Example.com"
        };
        let body = customer_body(&format!("Racer {i}"), email);
        let app = &app;
        async move { app.post_customer(&body).await }
    });
    let responses = join_all(requests).await;
    let mut created = 0;
    let mut conflicts = 0;
    for res in responses {
        match res.status().as_u16() {
            201 => created += 1,
            409 => {
                let body: Value = res.json().await.expect("json");
                assert_eq!(body["code"], "email_taken");
                conflicts += 1;
            }
            other => panic!("unexpected status {other}"),
        }
    }
    assert_eq!((created, conflicts), (1, 49));
    assert_eq!(app.customer_rows().await, 1);
}

#[tokio::test]
async fn parallel_replaces_onto_one_email_leave_it_unique() {
    let app = spawn_app().await;
    let mut ids = Vec::new();
    for i in 0..20 {
        let c = app
            .create_customer(&format!("C{i}"), &format!("c{i}@example.com"))
            .await;
        ids.push(c["id"].as_u64().expect("id"));
    }
    let body = customer_body("Same", "same@example.com");
    let responses = join_all(ids.iter().map(|id| app.put_customer(*id, &body))).await;
    let statuses: Vec<u16> = responses.iter().map(|r| r.status().as_u16()).collect();
    assert_eq!(
        statuses.iter().filter(|s| **s == 200).count(),
        1,
        "{statuses:?}"
    );
    assert_eq!(
        statuses.iter().filter(|s| **s == 409).count(),
        19,
        "{statuses:?}"
    );
    let holders: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM customers WHERE LOWER(email) = 'same@example.com'",
    )
    .fetch_one(&app.pool)
    .await
    .expect("count");
    assert_eq!(holders, 1);
}
