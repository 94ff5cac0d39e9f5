//! A customer's history: created, replaced (each changed field before and
//! after), deleted, each with who did it; readable after the deletion.

use contracts::EventKind;
use kit_testing::app::token_for;
use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, customer_body, spawn_app};

#[tokio::test]
async fn a_customers_history_says_what_changed_and_who_changed_it() {
    let app = spawn_app().await;
    let maria = token_for(
        "maria",
        json!({"scope": "", "groups": ["customer-manager"]}),
    );
    let write = |method: Method, path: String, body: Option<Value>| {
        let mut req = app
            .client
            .request(method, app.url(&path))
            .bearer_auth(&maria)
            .header(contracts::headers::CORRELATION_ID, "corr-customer");
        if let Some(body) = body {
            req = req.json(&body);
        }
        async move { req.send().await.expect("sent").status().as_u16() }
    };
    assert_eq!(
        write(
            Method::POST,
            "/customers".into(),
            Some(customer_body("ACME", "ops@acme.example"))
        )
        .await,
        201
    );
    let id: u64 = sqlx::query_scalar("SELECT id FROM customers")
        .fetch_one(&app.pool)
        .await
        .expect("id");
    let renamed =
        json!({"name": "ACME Corp", "email": "ops@acme.example", "phone": "+51987654321"});
    assert_eq!(
        write(Method::PUT, format!("/customers/{id}"), Some(renamed)).await,
        200
    );
    assert_eq!(
        write(Method::DELETE, format!("/customers/{id}"), None).await,
        204
    );

    // Deleted, and its history is still there for a reader.
    let page = app.get_json(&format!("/customers/{id}/events")).await;
    let events = page["data"].as_array().cloned().unwrap_or_default();
    let kinds: Vec<&str> = events.iter().filter_map(|e| e["type"].as_str()).collect();
    assert_eq!(
        kinds,
        [
            EventKind::CustomerCreated.as_str(),
            EventKind::CustomerReplaced.as_str(),
            EventKind::CustomerDeleted.as_str()
        ]
    );
    assert!(events
        .iter()
        .all(|e| e["actor"] == "maria" && e["correlation_id"] == "corr-customer"));
    assert_eq!(
        events[0]["changes"],
        json!({"name": {"after": "ACME"}, "email": {"after": "ops@acme.example"}, "phone": {"after": "+51987654321"}})
    );
    // Only what changed.
    assert_eq!(
        events[1]["changes"],
        json!({"name": {"before": "ACME", "after": "ACME Corp"}})
    );
    assert_eq!(
        events[2]["changes"]["email"],
        json!({"before": "ops@acme.example"})
    );

    let res = app
        .authed(Method::GET, "/customers/987654/events")
        .send()
        .await
        .expect("sent");
    assert_problem(res, 404, "customer_not_found").await;
    // A refused write leaves no event.
    let taken = json!({"name": "Other", "email": "taken@acme.example"});
    assert_eq!(
        write(Method::POST, "/customers".into(), Some(taken.clone())).await,
        201
    );
    assert_eq!(
        write(Method::POST, "/customers".into(), Some(taken)).await,
        409
    );
    assert_eq!(app.rows("customer_events").await, 4);
}
