//! Handler tests: API Gateway HTTP API events in, downstreams faked with
//! wiremock (this suite is about their failures), the real handler between.

use std::time::{Duration, Instant};

use lambda_http::{Body, Context, Request, RequestExt};
use orchestrator_lambda::{
    config::{Config, OrdersAuth},
    handler,
    saga::Deps,
};
use serde_json::{json, Value};
use wiremock::{matchers, Mock, MockServer, ResponseTemplate};

const SERVICE_TOKEN: &str = "test-service-token-0123456789";

struct Fakes {
    customers: MockServer,
    orders: MockServer,
}

async fn fakes() -> Fakes {
    Fakes {
        customers: MockServer::start().await,
        orders: MockServer::start().await,
    }
}

fn deps(f: &Fakes) -> Deps {
    deps_with(f, |_| {})
}

fn deps_with(f: &Fakes, tweak: impl FnOnce(&mut Config)) -> Deps {
    let mut config = Config {
        customers: f.customers.uri().parse().expect("url"),
        orders: f.orders.uri().parse().expect("url"),
        service_token: SERVICE_TOKEN.into(),
        orders_auth: OrdersAuth::Mint {
            secret: "test-jwt-secret-0123456789abcdef".into(),
            issuer: None,
            audience: None,
        },
        attempt_timeout: Duration::from_millis(500),
        max_attempts: 3,
        backoff_base: Duration::from_millis(10),
        backoff_cap: Duration::from_millis(50),
        deadline_margin: Duration::from_millis(200),
        saga_timeout: Duration::from_secs(10),
        compensation_reserve: Duration::from_millis(1500),
    };
    tweak(&mut config);
    Deps::with_ecs(config, None).expect("deps")
}

fn event(file: &str) -> Value {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    serde_json::from_str(&std::fs::read_to_string(path).expect("fixture")).expect("json")
}

fn request(event: &Value) -> Request {
    lambda_http::request::from_str(&event.to_string()).expect("an API Gateway event")
}

/// The happy-path fixture with another body.
fn with_body(body: Value) -> Request {
    let mut e = event("create-and-confirm-order.json");
    e["body"] = json!(body.to_string());
    request(&e)
}

async fn call(req: Request, deps: &Deps) -> (u16, Value) {
    let res = handler(req, deps).await.expect("the handler answers");
    let status = res.status().as_u16();
    let body = match res.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json"),
        Body::Binary(b) => serde_json::from_slice(b).expect("json"),
        _ => Value::Null,
    };
    (status, body)
}

fn customer() -> Value {
    json!({"id": 1, "name": "ACME", "email": "ops@acme.com", "phone": "+51987654321",
           "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-28T00:00:00Z"})
}

fn order(status: &str) -> Value {
    json!({"id": 8, "customer_id": 1, "status": status, "total_cents": 8970,
           "items": [{"product_id": 2, "qty": 3, "unit_price_cents": 2990, "subtotal_cents": 8970}],
           "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-28T00:00:00Z",
           "confirmed_at": null, "canceled_at": null})
}

fn problem(status: u16, code: &str) -> ResponseTemplate {
    ResponseTemplate::new(status)
        .insert_header("content-type", "application/problem+json")
        .set_body_json(json!({"type": format!("urn:problem:{code}"), "title": code, "status": status, "detail": format!("{code} happened"), "code": code}))
}

async fn customer_ok(f: &Fakes) {
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .and(matchers::header(
            "authorization",
            format!("Bearer {SERVICE_TOKEN}").as_str(),
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer()))
        .mount(&f.customers)
        .await;
}

async fn create_ok(f: &Fakes) {
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders"))
        .and(matchers::header_exists("idempotency-key"))
        .and(matchers::header_exists("authorization"))
        .respond_with(ResponseTemplate::new(201).set_body_json(order("CREATED")))
        .mount(&f.orders)
        .await;
}

async fn fetch_ok(f: &Fakes, status: &str) {
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/orders/8"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order(status)))
        .mount(&f.orders)
        .await;
}

#[tokio::test]
async fn happy_path_answers_the_consolidated_201() {
    let f = fakes().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .and(matchers::header("x-correlation-id", "req-001"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer()))
        .expect(1)
        .mount(&f.customers)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders"))
        .and(matchers::header("x-correlation-id", "req-001"))
        .and(matchers::body_json(
            json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 3}]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(order("CREATED")))
        .expect(1)
        .mount(&f.orders)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .and(matchers::header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CONFIRMED")))
        .expect(1)
        .mount(&f.orders)
        .await;
    fetch_ok(&f, "CONFIRMED").await;
    let d = deps(&f);
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &d).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(
        body,
        json!({"success": true, "correlationId": "req-001",
               "data": {"customer": {"id": 1, "name": "ACME", "email": "ops@acme.com", "phone": "+51987654321"},
                        "order": {"id": 8, "customer_id": 1, "status": "CONFIRMED", "total_cents": 8970,
                                  "items": [{"product_id": 2, "qty": 3, "unit_price_cents": 2990, "subtotal_cents": 8970}]}}})
    );
    // The two writes carried distinct keys derived from the request's key.
    let received = f.orders.received_requests().await.unwrap_or_default();
    let keys: Vec<String> = received
        .iter()
        .filter_map(|r| {
            r.headers
                .get("idempotency-key")
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    assert!(keys.iter().all(|k| k.starts_with("saga-")));
}

#[tokio::test]
async fn health_answers_ok() {
    let f = fakes().await;
    let (status, body) = call(request(&event("health.json")), &deps(&f)).await;
    assert_eq!((status, body["status"].clone()), (200, json!("ok")));
}

#[tokio::test]
async fn unknown_customer_is_404_and_nothing_is_ordered() {
    let f = fakes().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/999999"))
        .respond_with(problem(404, "customer_not_found"))
        .expect(1)
        .mount(&f.customers)
        .await;
    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&f.orders)
        .await;
    let (status, body) = call(request(&event("unknown-customer.json")), &deps(&f)).await;
    assert_eq!(status, 404);
    assert_eq!(body["success"], false);
    assert_eq!(body["correlationId"], "req-002");
    assert_eq!(body["error"]["code"], "customer_not_found");
    assert_eq!(body["error"]["step"], "validate_customer");
    assert_eq!(body["error"]["retriable"], false);
}

#[tokio::test]
async fn bad_bodies_are_400_before_any_call() {
    let f = fakes().await;
    Mock::given(matchers::any())
        .respond_with(ResponseTemplate::new(500))
        .expect(0)
        .mount(&f.customers)
        .await;
    let d = deps(&f);
    let (status, body) = call(request(&event("bad-body.json")), &d).await;
    assert_eq!(status, 400);
    assert_eq!(
        body["correlationId"], "req-003",
        "the header's correlation id is used"
    );
    assert_eq!(body["error"]["code"], "invalid_request");
    for bad in [
        json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 1}]}),
        json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 1}], "idempotency_key": ""}),
        json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 1}], "idempotency_key": "k".repeat(129)}),
        json!({"customer_id": 1, "items": [], "idempotency_key": "k"}),
        json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 0}], "idempotency_key": "k"}),
        json!({"customer_id": -1, "items": [{"product_id": 2, "qty": 1}], "idempotency_key": "k"}),
        json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 1}], "idempotency_key": "k", "extra": 1}),
    ] {
        let (status, body) = call(with_body(bad.clone()), &d).await;
        assert_eq!(status, 400, "{bad}: {body}");
        assert_eq!(body["error"]["step"], Value::Null);
    }
}

#[tokio::test]
async fn downstream_refusals_map_to_the_callers_fault() {
    for (status, code, expected_status, expected_code) in [
        (409, "insufficient_stock", 409, "insufficient_stock"),
        (422, "product_not_found", 422, "product_not_found"),
        (422, "idempotency_key_reused", 422, "idempotency_key_reused"),
        (422, "customer_not_found", 404, "customer_not_found"),
    ] {
        let f = fakes().await;
        customer_ok(&f).await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/orders"))
            .respond_with(problem(status, code))
            .expect(1) // a refusal is not retried
            .mount(&f.orders)
            .await;
        let (got, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
        assert_eq!(got, expected_status, "{code}: {body}");
        assert_eq!(body["error"]["code"], expected_code);
        assert_eq!(body["error"]["step"], "create_order");
        assert_eq!(body["error"]["retriable"], false);
    }
}

#[tokio::test]
async fn transient_failures_are_retried_and_retry_after_is_honoured() {
    let f = fakes().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .respond_with(ResponseTemplate::new(503))
        .up_to_n_times(1)
        .expect(1)
        .mount(&f.customers)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer()))
        .expect(1)
        .mount(&f.customers)
        .await;
    // The first create finds the key in progress, and is told to come back in 1 s.
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders"))
        .respond_with(problem(409, "idempotency_key_in_progress").insert_header("retry-after", "1"))
        .up_to_n_times(1)
        .expect(1)
        .mount(&f.orders)
        .await;
    create_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CONFIRMED")))
        .mount(&f.orders)
        .await;
    fetch_ok(&f, "CONFIRMED").await;
    let started = Instant::now();
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
    assert_eq!(status, 201, "{body}");
    assert!(
        started.elapsed() >= Duration::from_secs(1),
        "Retry-After was honoured"
    );
}

#[tokio::test]
async fn a_hanging_downstream_makes_a_504_before_the_lambda_deadline() {
    let f = fakes().await;
    customer_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders"))
        .respond_with(
            ResponseTemplate::new(201)
                .set_body_json(order("CREATED"))
                .set_delay(Duration::from_secs(30)),
        )
        .mount(&f.orders)
        .await;
    let mut ctx = Context::default();
    let lambda_deadline = chrono::Utc::now().timestamp_millis() + 3000;
    ctx.deadline = u64::try_from(lambda_deadline).unwrap_or_default();
    let req = request(&event("create-and-confirm-order.json")).with_lambda_context(ctx);
    // Attempts long enough that the invocation's deadline is what runs out.
    let (status, body) = call(
        req,
        &deps_with(&f, |c| c.attempt_timeout = Duration::from_secs(20)),
    )
    .await;
    let answered_at = chrono::Utc::now().timestamp_millis();
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "deadline_exceeded");
    assert_eq!(body["error"]["step"], "create_order");
    assert_eq!(body["error"]["retriable"], true);
    assert_eq!(
        body["error"]["compensation"], "pending",
        "the order may exist: the sweeper releases it"
    );
    assert!(
        answered_at < lambda_deadline,
        "answered {} ms before the deadline",
        lambda_deadline - answered_at
    );
}

#[tokio::test]
async fn attempts_that_all_time_out_are_a_504_too() {
    let f = fakes().await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .respond_with(
            ResponseTemplate::new(200)
                .set_body_json(customer())
                .set_delay(Duration::from_secs(5)),
        )
        .expect(3)
        .mount(&f.customers)
        .await;
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "downstream_timeout");
    assert_eq!(body["error"]["step"], "validate_customer");
    let message = body["error"]["message"].as_str().unwrap_or_default();
    assert!(
        !message.contains("127.0.0.1") && !message.contains("http"),
        "no internals: {message}"
    );
}

#[tokio::test]
async fn a_failed_confirm_is_compensated_by_exactly_one_cancel() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(problem(500, "internal_error"))
        .expect(3) // retried, then given up
        .mount(&f.orders)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/cancel"))
        .and(matchers::header_exists("idempotency-key"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CANCELED")))
        .expect(1)
        .mount(&f.orders)
        .await;
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["step"], "confirm_order");
    assert_eq!(body["error"]["code"], "order_cancelled");
    assert_eq!(body["error"]["compensation"], "done");
    // Final: a replay finds the order cancelled and answers the same.
    assert_eq!(body["error"]["retriable"], false);
}

/// The replay of a compensated saga: create replays the order, confirm is
/// refused (the order is cancelled), the cancel replays. Same answer as the
/// first time, no second cancel of anything else.
#[tokio::test]
async fn a_replay_of_a_compensated_saga_answers_the_same() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(problem(409, "invalid_state"))
        .expect(1) // a 4xx is not retried
        .mount(&f.orders)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/cancel"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CANCELED")))
        .expect(1)
        .mount(&f.orders)
        .await;
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": "order_cancelled", "step": "confirm_order", "retriable": false, "compensation": "done",
               "message": "order 8 could not be confirmed and was cancelled; its stock is back"})
    );
}

#[tokio::test]
async fn a_failed_compensation_is_reported_pending() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(ResponseTemplate::new(503))
        .mount(&f.orders)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/cancel"))
        .respond_with(ResponseTemplate::new(503))
        .expect(3)
        .mount(&f.orders)
        .await;
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["compensation"], "pending");
    assert_eq!(body["error"]["retriable"], true);
}

#[tokio::test]
async fn an_order_cancelled_since_is_not_reported_as_confirmed() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CONFIRMED")))
        .mount(&f.orders)
        .await;
    fetch_ok(&f, "CANCELED").await;
    let (status, body) = call(request(&event("create-and-confirm-order.json")), &deps(&f)).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["step"], "fetch_order");
}

#[tokio::test]
async fn unknown_routes_and_methods_are_refused() {
    let f = fakes().await;
    let mut e = event("health.json");
    e["rawPath"] = json!("/elsewhere");
    e["requestContext"]["http"]["path"] = json!("/elsewhere");
    let (status, _) = call(request(&e), &deps(&f)).await;
    assert_eq!(status, 404);
    let mut e = event("create-and-confirm-order.json");
    e["requestContext"]["http"]["method"] = json!("GET");
    let (status, _) = call(request(&e), &deps(&f)).await;
    assert_eq!(status, 405);
}
