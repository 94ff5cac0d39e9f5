use reqwest::Method;
use serde_json::{json, Value};

use crate::helpers::{assert_problem, customer_body, spawn_app, SERVICE_TOKEN};

#[tokio::test]
async fn create_answers_201_with_location_and_the_stored_customer() {
    let app = spawn_app().await;
    let res = app
        .post_customer(
            &json!({"name": "  ACME  ", "email": "Ops@Acme.com", "phone": "+51 987-654-321"}),
        )
        .await;
    assert_eq!(res.status(), 201);
    let location = res.headers()[reqwest::header::LOCATION]
        .to_str()
        .expect("ascii")
        .to_owned();
    let created: Value = res.json().await.expect("json");
    let id = created["id"].as_u64().expect("numeric id");
    assert_eq!(location, format!("/customers/{id}"));
    assert_eq!(created["name"], "ACME");
    assert_eq!(created["email"], "Ops@Acme.com");
    assert_eq!(created["phone"], "+51987654321");
    assert_eq!(created["created_at"], created["updated_at"]);
    assert!(created["created_at"]
        .as_str()
        .is_some_and(|t| t.ends_with('Z')));

    let fetched: Value = app
        .client
        .get(app.url(&location))
        .bearer_auth(&app.token)
        .send()
        .await
        .expect("sent")
        .json()
        .await
        .expect("json");
    assert_eq!(fetched, created, "GET answers exactly what POST stored");
}

#[tokio::test]
async fn phone_is_optional() {
    let app = spawn_app().await;
    let res = app
        .post_customer(&json!({"name": "Globex", "email": "hi@globex.com"}))
        .await;
    assert_eq!(res.status(), 201);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body["phone"], Value::Null);
}

#[tokio::test]
async fn duplicate_email_is_409_in_any_letter_case() {
    let app = spawn_app().await;
    app.create_customer("ACME", "ops@acme.com").await;
    for email in ["ops@acme.com", "OPS@ACME.COM", "Ops@acme.Com"] {
        let res = app.post_customer(&customer_body("Other", email)).await;
        let body = assert_problem(res, 409, "email_taken").await;
        assert_eq!(body["errors"][0]["field"], "email");
    }
    assert_eq!(app.customer_rows().await, 1);
}

#[tokio::test]
async fn unknown_customer_is_404() {
    let app = spawn_app().await;
    assert_problem(app.get_customer(424242).await, 404, "customer_not_found").await;
    assert_problem(app.get_customer(0).await, 404, "customer_not_found").await;
}

#[tokio::test]
async fn put_replaces_every_field() {
    let app = spawn_app().await;
    let created = app.create_customer("ACME", "ops@acme.com").await;
    let id = created["id"].as_u64().expect("id");
    let res = app
        .put_customer(
            id,
            &json!({"name": "ACME Corp", "email": "billing@acme.com", "phone": "+1 555 010 0999"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let replaced: Value = res.json().await.expect("json");
    assert_eq!(replaced["id"], id);
    assert_eq!(replaced["name"], "ACME Corp");
    assert_eq!(replaced["email"], "billing@acme.com");
    assert_eq!(replaced["phone"], "+15550100999");
    assert_eq!(replaced["created_at"], created["created_at"]);
    assert_ne!(replaced["updated_at"], created["updated_at"]);
    let fetched: Value = app.get_customer(id).await.json().await.expect("json");
    assert_eq!(fetched, replaced);

    // Replace means replace: leaving the phone out clears it.
    let res = app
        .put_customer(
            id,
            &json!({"name": "ACME Corp", "email": "billing@acme.com"}),
        )
        .await;
    assert_eq!(res.status(), 200);
    let fetched: Value = app.get_customer(id).await.json().await.expect("json");
    assert_eq!(fetched["phone"], Value::Null);

    // The old email is free again; keeping one's own email (in another case) is fine.
    app.create_customer("Other", "ops@acme.com").await;
    let res = app
        .put_customer(id, &json!({"name": "ACME", "email": "BILLING@acme.com"}))
        .await;
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn put_to_another_customers_email_is_409_and_changes_nothing() {
    let app = spawn_app().await;
    app.create_customer("ACME", "ops@acme.com").await;
    let globex = app.create_customer("Globex", "hi@globex.com").await;
    let id = globex["id"].as_u64().expect("id");
    let res = app
        .put_customer(id, &customer_body("Globex 2", "OPS@acme.com"))
        .await;
    assert_problem(res, 409, "email_taken").await;
    let fetched: Value = app.get_customer(id).await.json().await.expect("json");
    assert_eq!(fetched, globex);
}

#[tokio::test]
async fn put_unknown_customer_is_404() {
    let app = spawn_app().await;
    let res = app
        .put_customer(99, &customer_body("X", "x@example.com"))
        .await;
    assert_problem(res, 404, "customer_not_found").await;
    assert_eq!(app.customer_rows().await, 0);
}

#[tokio::test]
async fn soft_delete_hides_the_customer_and_frees_the_email() {
    let app = spawn_app().await;
    let created = app.create_customer("ACME", "ops@acme.com").await;
    let id = created["id"].as_u64().expect("id");

    let res = app.delete_customer(id).await;
    assert_eq!(res.status(), 204);
    assert!(res.bytes().await.expect("body").is_empty());

    assert_problem(app.get_customer(id).await, 404, "customer_not_found").await;
    assert_problem(
        app.get_internal(id, Some(SERVICE_TOKEN)).await,
        404,
        "customer_not_found",
    )
    .await;
    assert_problem(app.delete_customer(id).await, 404, "customer_not_found").await;
    assert_problem(
        app.put_customer(id, &customer_body("X", "x@acme.com"))
            .await,
        404,
        "customer_not_found",
    )
    .await;
    let listed: Value = app.list_customers("").await.json().await.expect("json");
    assert_eq!(listed["data"], json!([]));

    // The row is kept (soft delete) and its email can be used again.
    let again = app.create_customer("ACME again", "OPS@acme.com").await;
    assert_ne!(again["id"], id);
    assert_eq!(app.customer_rows().await, 2);
}

#[tokio::test]
async fn internal_lookup_needs_the_service_token() {
    let app = spawn_app().await;
    let created = app.create_customer("ACME", "ops@acme.com").await;
    let id = created["id"].as_u64().expect("id");

    let res = app.get_internal(id, Some(SERVICE_TOKEN)).await;
    assert_eq!(res.status(), 200);
    let body: Value = res.json().await.expect("json");
    assert_eq!(body, created);

    assert_problem(app.get_internal(id, None).await, 401, "unauthorized").await;
    assert_problem(
        app.get_internal(id, Some("wrong-token-0123456789")).await,
        401,
        "invalid_token",
    )
    .await;
    // A user token is no service token.
    assert_problem(
        app.get_internal(id, Some(&app.token)).await,
        401,
        "invalid_token",
    )
    .await;
    assert_problem(
        app.get_internal(id + 1000, Some(SERVICE_TOKEN)).await,
        404,
        "customer_not_found",
    )
    .await;
}

#[tokio::test]
async fn unsupported_methods_are_405_problems() {
    let app = spawn_app().await;
    for (method, path, allow) in [
        (Method::PATCH, "/customers/1", "GET, PUT, DELETE"),
        (Method::DELETE, "/customers", "POST, GET"),
        (Method::TRACE, "/ready", "GET"),
        (Method::POST, "/metrics", "GET"),
    ] {
        let res = app.authed(method.clone(), path).send().await.expect("sent");
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {path}"
        );
        assert_problem(res, 405, "method_not_allowed").await;
    }
}
