//! Handler tests: API Gateway HTTP API events in, downstreams faked with
//! wiremock (this suite is about their failures), the real handler between.

use kit_client::RetryPolicy;
use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use lambda_http::{Body, Context, Request, RequestExt};
use orchestrator_lambda::{config::Config, handler, state::AppState};
use serde_json::{json, Value};
use wiremock::{matchers, Mock, MockServer, ResponseTemplate};

mod common;
use common::{event, SERVICE_TOKEN, SUBJECT};

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

/// The longest wait for one downstream attempt in these tests.
const ATTEMPT_TIMEOUT: Duration = Duration::from_millis(500);

fn deps(f: &Fakes) -> Arc<AppState> {
    deps_with(f, |_| {})
}

fn deps_with(f: &Fakes, tweak: impl FnOnce(&mut Config)) -> Arc<AppState> {
    let mut config = Config {
        console: Default::default(),
        customers: f.customers.uri().parse().expect("url"),
        orders: f.orders.uri().parse().expect("url"),
        users: common::users(),
        service_token: SERVICE_TOKEN.into(),
        retry: RetryPolicy {
            attempt_timeout: ATTEMPT_TIMEOUT,
            max_attempts: 3,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(50),
        },
        deadline_margin: Duration::from_millis(200),
        saga_timeout: Duration::from_secs(10),
        compensation_reserve: Duration::from_millis(1500),
        aws: None,
    };
    tweak(&mut config);
    Arc::new(AppState::with_ecs(config, None).expect("deps"))
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

/// The status and the JSON body (the console's page and assets, which are
/// no JSON, as a string).
async fn call(req: Request, deps: &Arc<AppState>) -> (u16, Value) {
    let res = handler(req, deps).await.expect("the handler answers");
    let status = res.status().as_u16();
    let json = res
        .headers()
        .get("content-type")
        .is_some_and(|t| t.as_bytes().starts_with(b"application/json"));
    let body = match res.body() {
        Body::Text(t) if !json => Value::String(t.clone()),
        Body::Text(t) => serde_json::from_str(t).expect("json"),
        Body::Binary(b) => serde_json::from_slice(b).expect("json"),
        _ => Value::Null,
    };
    (status, body)
}

/// Fakes that fail the test if anything calls them.
async fn untouched_fakes() -> Fakes {
    let f = fakes().await;
    for server in [&f.customers, &f.orders] {
        Mock::given(matchers::any())
            .respond_with(ResponseTemplate::new(500))
            .expect(0)
            .mount(server)
            .await;
    }
    f
}

/// The sample saga event, with the default dependencies in front of `f`.
async fn saga(f: &Fakes) -> (u16, Value) {
    call(request(&event("create-and-confirm-order.json")), &deps(f)).await
}

fn customer() -> Value {
    json!({"id": 1, "name": "ACME", "email": "ops@acme.com", "phone": "+51987654321",
           "created_at": "2026-11-28T00:00:00Z", "updated_at": "2026-11-28T00:00:00Z"})
}

fn order(status: &str) -> Value {
    json!({"id": 8, "customer_id": 1, "status": status, "total_cents": 8970,
           "items": [{"product_id": 2, "qty": 3, "unit_price_cents": 2990, "subtotal_cents": 8970}],
           "created_by": SUBJECT,
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
        .and(matchers::header_exists(contracts::headers::IDEMPOTENCY_KEY))
        .and(matchers::header_exists("authorization"))
        .respond_with(ResponseTemplate::new(201).set_body_json(order("CREATED")))
        .mount(&f.orders)
        .await;
}

async fn confirm_answers(f: &Fakes, answer: ResponseTemplate) {
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(answer)
        .mount(&f.orders)
        .await;
}

/// `answer` to the cancel of order 8, which must be asked exactly `times`.
async fn cancel_answers(f: &Fakes, answer: ResponseTemplate, times: u64) {
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/cancel"))
        .respond_with(answer)
        .expect(times)
        .mount(&f.orders)
        .await;
}

async fn confirm_ok(f: &Fakes) {
    confirm_answers(
        f,
        ResponseTemplate::new(200).set_body_json(order("CONFIRMED")),
    )
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
        .and(matchers::header(
            contracts::headers::CORRELATION_ID,
            "req-001",
        ))
        .respond_with(ResponseTemplate::new(200).set_body_json(customer()))
        .expect(1)
        .mount(&f.customers)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders"))
        .and(matchers::header(
            contracts::headers::CORRELATION_ID,
            "req-001",
        ))
        .and(matchers::body_json(
            json!({"customer_id": 1, "items": [{"product_id": 2, "qty": 3}]}),
        ))
        .respond_with(ResponseTemplate::new(201).set_body_json(order("CREATED")))
        .expect(1)
        .mount(&f.orders)
        .await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .and(matchers::header_exists(contracts::headers::IDEMPOTENCY_KEY))
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
                                  "items": [{"product_id": 2, "qty": 3, "unit_price_cents": 2990, "subtotal_cents": 8970}],
                                  "created_by": SUBJECT}}})
    );
    // The two writes carried distinct keys derived from the request's key.
    let received = f.orders.received_requests().await.unwrap_or_default();
    let keys: Vec<String> = received
        .iter()
        .filter_map(|r| {
            r.headers
                .get(contracts::headers::IDEMPOTENCY_KEY)
                .and_then(|v| v.to_str().ok())
                .map(str::to_owned)
        })
        .collect();
    assert_eq!(keys.len(), 2);
    assert_ne!(keys[0], keys[1]);
    assert!(keys.iter().all(|k| k.starts_with("saga-")));
    // Every call says how long the saga will wait for it (its attempt's
    // timeout at most), so orders-api stops when nobody waits any more.
    let customers_calls = f.customers.received_requests().await.unwrap_or_default();
    for r in received.iter().chain(customers_calls.iter()) {
        let budget: u64 = r
            .headers
            .get(contracts::headers::REQUEST_TIMEOUT_MS)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse().ok())
            .expect("X-Request-Timeout-Ms on every downstream call");
        assert!(
            budget > 0 && budget <= ATTEMPT_TIMEOUT.as_millis() as u64,
            "{budget}"
        );
    }
    // Every orders-api call carries the caller's own token, nothing else.
    for r in &received {
        assert_eq!(relayed_subject(r).await.as_deref(), Some(SUBJECT));
        assert!(r.headers.get("x-on-behalf-of").is_none());
    }
}

/// The `sub` of the user token a downstream request carries, if it carries one.
async fn relayed_subject(r: &wiremock::Request) -> Option<String> {
    let value = r.headers.get("authorization")?.to_str().ok()?;
    let token = value.strip_prefix("Bearer ")?;
    common::users().verify(token).await.ok().map(|p| p.subject)
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
        (422, "order_limit_exceeded", 422, "order_limit_exceeded"),
        // orders-api refused the caller's own (relayed) token.
        (403, "forbidden", 403, "forbidden"),
        (401, "invalid_token", 401, "unauthorized"),
    ] {
        let f = fakes().await;
        customer_ok(&f).await;
        Mock::given(matchers::method("POST"))
            .and(matchers::path("/orders"))
            .respond_with(problem(status, code))
            .expect(1) // a refusal is not retried
            .mount(&f.orders)
            .await;
        let (got, body) = saga(&f).await;
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
        .respond_with(
            problem(409, "idempotency_key_in_progress")
                .insert_header(reqwest::header::RETRY_AFTER, "1"),
        )
        .up_to_n_times(1)
        .expect(1)
        .mount(&f.orders)
        .await;
    create_ok(&f).await;
    confirm_ok(&f).await;
    fetch_ok(&f, "CONFIRMED").await;
    let started = Instant::now();
    let (status, body) = saga(&f).await;
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
        &deps_with(&f, |c| c.retry.attempt_timeout = Duration::from_secs(20)),
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
    let (status, body) = saga(&f).await;
    assert_eq!(status, 504, "{body}");
    assert_eq!(body["error"]["code"], "downstream_timeout");
    assert_eq!(body["error"]["step"], "validate_customer");
    assert_leaks_nothing(&body, &[&f.customers.uri()]);
}

/// The answer names no address, URL, port or library error text.
fn assert_leaks_nothing(body: &Value, internals: &[&str]) {
    let text = body.to_string();
    let mut forbidden = vec![
        "http://",
        "https://",
        "127.0.0.1",
        "localhost",
        "error sending",
        "tcp",
        "dns",
        "connection",
        "os error",
        "hyper",
        "reqwest",
    ];
    forbidden.extend_from_slice(internals);
    for needle in forbidden {
        assert!(
            !text.to_lowercase().contains(&needle.to_lowercase()),
            "{needle:?} leaked: {text}"
        );
    }
    for port in internals.iter().filter_map(|u| u.rsplit(':').next()) {
        assert!(!text.contains(port), "port {port} leaked: {text}");
    }
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
        .and(matchers::header_exists(contracts::headers::IDEMPOTENCY_KEY))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CANCELED")))
        .expect(1)
        .mount(&f.orders)
        .await;
    let (status, body) = saga(&f).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["step"], "confirm_order");
    assert_eq!(body["error"]["code"], "confirm_failed_order_canceled");
    assert_eq!(body["error"]["compensation"], "done");
    // Final: a replay finds the order canceled and answers the same.
    assert_eq!(body["error"]["retriable"], false);
}

/// The replay of a compensated saga: create replays the order, confirm is
/// refused (the order is canceled), the cancel replays. Same answer as the
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
    cancel_answers(
        &f,
        ResponseTemplate::new(200).set_body_json(order("CANCELED")),
        1,
    )
    .await;
    let (status, body) = saga(&f).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(
        body["error"],
        json!({"code": "confirm_failed_order_canceled", "step": "confirm_order", "retriable": false, "compensation": "done",
               "message": "order 8 could not be confirmed and was canceled; its stock is back"})
    );
}

#[tokio::test]
async fn a_failed_compensation_is_reported_pending() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    confirm_answers(&f, ResponseTemplate::new(503)).await;
    cancel_answers(&f, ResponseTemplate::new(503), 3).await;
    let (status, body) = saga(&f).await;
    assert_eq!(status, 502, "{body}");
    assert_eq!(body["error"]["compensation"], "pending");
    assert_eq!(body["error"]["retriable"], true);
}

/// Confirm's own answer is the order: no read-back when it is fresh.
#[tokio::test]
async fn a_fresh_confirmation_is_the_answer_without_a_read_back() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    confirm_ok(&f).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/orders/8"))
        .respond_with(ResponseTemplate::new(200).set_body_json(order("CONFIRMED")))
        .expect(0)
        .mount(&f.orders)
        .await;
    let (status, body) = saga(&f).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["order"]["status"], "CONFIRMED");
}

/// A replayed confirmation was stored earlier: the order is read back, and
/// one canceled since is not reported as confirmed.
#[tokio::test]
async fn an_confirm_failed_order_canceled_since_is_not_reported_as_confirmed() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    confirm_answers(
        &f,
        ResponseTemplate::new(200)
            .insert_header(contracts::headers::IDEMPOTENT_REPLAYED, "true")
            .set_body_json(order("CONFIRMED")),
    )
    .await;
    fetch_ok(&f, "CANCELED").await;
    let (status, body) = saga(&f).await;
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

/// Routes are exact: a prefix, a suffix or another case runs nothing (no
/// downstream call), and a known path with another method names the one
/// it takes.
#[tokio::test]
async fn only_the_exact_routes_run_anything() {
    let f = untouched_fakes().await;
    let d = deps(&f);
    for path in [
        "/anything/orchestrator/create-and-confirm-order",
        "/orchestrator/create-and-confirm-order/again",
        "/Orchestrator/create-and-confirm-order",
        "/anything/orchestrator/health",
    ] {
        let mut e = event("create-and-confirm-order.json");
        e["rawPath"] = json!(path);
        e["requestContext"]["http"]["path"] = json!(path);
        let (status, body) = call(request(&e), &d).await;
        assert_eq!(status, 404, "{path}: {body}");
        assert_eq!(body["error"]["code"], "route_not_found", "{path}");
        assert_eq!(body["success"], false, "{path}");
    }
    for (file, method, allow) in [
        ("create-and-confirm-order.json", "PUT", "POST"),
        ("health.json", "POST", "GET"),
    ] {
        let mut e = event(file);
        e["requestContext"]["http"]["method"] = json!(method);
        let res = handler(request(&e), &d).await.expect("the handler answers");
        assert_eq!(res.status().as_u16(), 405, "{method} {file}");
        assert_eq!(
            res.headers().get("allow").and_then(|v| v.to_str().ok()),
            Some(allow),
            "{method} {file}"
        );
    }
}

/// Every kind of refused credential, and what the saga endpoint does with it.
#[tokio::test]
async fn every_refused_token_is_a_401_before_any_downstream_call() {
    let f = untouched_fakes().await;
    let d = deps(&f);
    use kit_testing::{claims, sign_claims, Forgery};
    let now = chrono::Utc::now().timestamp();
    // The test issuer and audience, so that each case fails for its own reason.
    let mint = |extra: Value| sign_claims(&claims(SUBJECT, 600, extra));
    let without = |claim: &str| {
        let mut c = claims(SUBJECT, 600, json!({}));
        c.as_object_mut().map(|m| m.remove(claim));
        sign_claims(&c)
    };
    // The control: the same minting with nothing wrong is accepted, so each
    // case below is refused for its own fault.
    assert!(common::users().verify(&mint(json!({}))).await.is_ok());
    let bearer = |t: String| Some(format!("Bearer {t}"));
    let mut cases: Vec<(&str, Option<String>)> = vec![
        ("missing", None),
        ("expired", bearer(mint(json!({"exp": now - 60})))),
        ("no sub", bearer(without("sub"))),
        ("no exp", bearer(without("exp"))),
        (
            "two years ahead",
            bearer(mint(json!({"exp": now + 2 * 365 * 86_400}))),
        ),
        (
            "another audience",
            bearer(mint(json!({"aud": "elsewhere"}))),
        ),
        ("another issuer", bearer(mint(json!({"iss": "elsewhere"})))),
        ("an ID token", bearer(mint(json!({"token_use": "id"})))),
        ("garbage", Some("Bearer not.a.token".into())),
        ("Basic", Some("Basic b3BzOnBhc3N3b3Jk".into())),
        ("empty bearer", Some("Bearer ".into())),
        ("the service token", Some(format!("Bearer {SERVICE_TOKEN}"))),
    ];
    for forgery in Forgery::ALL {
        let t = forgery.sign(&claims(SUBJECT, 600, json!({})));
        cases.push((forgery.describe(), bearer(t)));
    }
    for (what, authorization) in cases {
        let mut e = event("create-and-confirm-order.json");
        match authorization {
            Some(value) => e["headers"]["authorization"] = json!(value),
            None => {
                e["headers"]
                    .as_object_mut()
                    .map(|h| h.remove("authorization"));
            }
        }
        let res = handler(request(&e), &d).await.expect("the handler answers");
        assert_eq!(res.status().as_u16(), 401, "{what}");
        assert!(
            res.headers()
                .contains_key(reqwest::header::WWW_AUTHENTICATE),
            "{what}: WWW-Authenticate"
        );
        let body: Value = match res.body() {
            Body::Text(t) => serde_json::from_str(t).expect("json"),
            _ => Value::Null,
        };
        assert_eq!(body["success"], false, "{what}");
        assert_eq!(body["error"]["code"], "unauthorized", "{what}");
        assert!(body["correlationId"].is_string(), "{what}");
    }
    // The health route stays open.
    let mut e = event("health.json");
    e["headers"]
        .as_object_mut()
        .map(|h| h.remove("authorization"));
    let (status, _) = call(request(&e), &d).await;
    assert_eq!(status, 200);
}

/// Every route of the function's table, called by each role, by a token
/// with every scope but the route's and with the route's alone: 403
/// `forbidden` naming the scope, before anything runs downstream, or
/// through (to the body's 400, for the saga).
#[tokio::test]
async fn the_saga_answers_each_role_as_the_spec_says() {
    use kit_identity::scope::{Role, Scopes};
    use orchestrator_lambda::routes::ROUTES;
    let f = untouched_fakes().await;
    let d = deps(&f);
    let token = |scopes: Scopes, groups: &[&str]| {
        kit_testing::mint_token(
            "walker",
            600,
            json!({"scope": scopes.claim(), "groups": groups}),
        )
    };
    let mut checked = 0;
    for route in ROUTES {
        let file = if route.method == "GET" {
            "health.json"
        } else {
            "create-and-confirm-order.json"
        };
        let send = |bearer: Option<String>| {
            let mut e = event(file);
            e["requestContext"]["http"]["method"] = json!(route.method);
            // A hashed asset stands for `{asset}`.
            let asset = &orchestrator_lambda::console::ASSETS[0].name;
            e["rawPath"] = json!(route.path.replace("{asset}", asset));
            if e["body"].is_string() {
                e["body"] = json!("{}");
            }
            match bearer {
                Some(t) => e["headers"]["authorization"] = json!(format!("Bearer {t}")),
                None => {
                    e["headers"]
                        .as_object_mut()
                        .map(|h| h.remove("authorization"));
                }
            }
            let d = d.clone();
            async move { call(request(&e), &d).await }
        };
        let Some(scope) = route.scope else {
            assert_eq!(send(None).await.0, 200, "{} is open", route.path);
            checked += 1;
            continue;
        };
        let mut callers: Vec<(String, String, bool)> = Role::ALL
            .iter()
            .map(|r| {
                (
                    r.to_string(),
                    token(Scopes::NONE, &[r.as_str()]),
                    r.scopes().contains(scope),
                )
            })
            .collect();
        callers.push((
            "every other scope".into(),
            token(Scopes::all().without(scope), &[]),
            false,
        ));
        callers.push((
            scope.to_string(),
            token(Scopes::NONE.with(scope), &[]),
            true,
        ));
        for (who, t, allowed) in callers {
            let (status, body) = send(Some(t)).await;
            if allowed {
                assert_eq!(
                    status, 400,
                    "{} by {who}: through to the body: {body}",
                    route.path
                );
            } else {
                assert_eq!(status, 403, "{} by {who}: {body}", route.path);
                assert_eq!(body["error"]["code"], "forbidden");
                let message = body["error"]["message"].as_str().unwrap_or_default();
                assert!(message.contains(scope.as_str()), "{message}");
            }
            checked += 1;
        }
        assert_eq!(send(None).await.0, 401);
    }
    assert_eq!(checked, 3 + 7);
}

/// The caller's token is relayed for every step, compensation included: one
/// that would expire before the saga's deadline is refused up front, not
/// half-way.
#[tokio::test]
async fn a_token_that_expires_before_the_deadline_is_refused_before_anything_runs() {
    let f = untouched_fakes().await;
    // The budget is 10 s (saga_timeout): a token with 5 s left cannot last.
    let d = deps(&f);
    let short = kit_testing::mint_token(SUBJECT, 5, json!({}));
    let e = common::event_as("create-and-confirm-order.json", &short);
    let (status, body) = call(request(&e), &d).await;
    assert_eq!(status, 401, "{body}");
    assert_eq!(body["error"]["code"], "unauthorized");
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap_or_default()
            .contains("fresh"),
        "{body}"
    );
    // With a shorter budget, the same token is good enough to begin.
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    confirm_ok(&f).await;
    fetch_ok(&f, "CONFIRMED").await;
    let d = deps_with(&f, |c| c.saga_timeout = Duration::from_secs(2));
    let (status, body) = call(request(&e), &d).await;
    assert_eq!(status, 201, "{body}");
}

/// The orders-api keys a saga sends for `sub`.
async fn keys_sent_for(sub: &str) -> (String, String) {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    confirm_ok(&f).await;
    fetch_ok(&f, "CONFIRMED").await;
    let e = common::event_as("create-and-confirm-order.json", &common::token_for(sub));
    let (status, body) = call(request(&e), &deps(&f)).await;
    assert_eq!(status, 201, "{body}");
    let received = f.orders.received_requests().await.unwrap_or_default();
    let create = received
        .iter()
        .find(|r| r.url.path() == "/orders")
        .expect("a create");
    let header = |name: &str| {
        create
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default()
            .to_owned()
    };
    (
        header(contracts::headers::IDEMPOTENCY_KEY),
        relayed_subject(create).await.unwrap_or_default(),
    )
}

#[tokio::test]
async fn idempotency_keys_belong_to_their_caller() {
    let (alice_1, alice_as) = keys_sent_for("alice").await;
    let (alice_2, _) = keys_sent_for("alice").await;
    let (bob, bob_as) = keys_sent_for("bob").await;
    assert_eq!(alice_1, alice_2, "one caller, one key: one order");
    assert_ne!(alice_1, bob, "two callers, one key: two orders");
    assert_eq!((alice_as.as_str(), bob_as.as_str()), ("alice", "bob"));
}

/// A listener that accepts connections and resets them at once.
async fn resetting_server() -> String {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let addr = listener.local_addr().expect("addr");
    tokio::spawn(async move {
        while let Ok((stream, _)) = listener.accept().await {
            let _ = stream.set_zero_linger();
            drop(stream);
        }
    });
    format!("http://{addr}")
}

/// A log sink for one test: what the orchestrator logged while it ran.
#[derive(Clone, Default)]
struct Logs(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Logs {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if let Ok(mut v) = self.0.lock() {
            v.extend_from_slice(buf);
        }
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Logs {
    fn text(&self) -> String {
        self.0
            .lock()
            .map(|v| String::from_utf8_lossy(&v).into_owned())
            .unwrap_or_default()
    }
}

#[tokio::test]
async fn downstream_connection_failures_leak_nothing_but_are_logged() {
    let closed = {
        let l = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
        format!("http://{}", l.local_addr().expect("addr"))
    };
    let reset = resetting_server().await;
    let unresolvable = "http://orders-db-7.no-such-host.invalid:3002".to_owned();
    for (what, base) in [
        ("refused", closed),
        ("reset", reset),
        ("DNS failure", unresolvable),
    ] {
        let f = fakes().await;
        let logs = Logs::default();
        let sink = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || sink.clone())
            .with_ansi(false)
            .finish();
        let _guard = tracing::subscriber::set_default(subscriber);
        // customers-api is what fails: the first step.
        let d = deps_with(&f, |c| c.customers = base.parse().expect("url"));
        let (status, body) = call(request(&event("create-and-confirm-order.json")), &d).await;
        assert_eq!(body["error"]["step"], "validate_customer", "{what}");
        if status == 504 && what == "DNS failure" {
            // A resolver that never answers: the attempts time out instead.
            assert_eq!(body["error"]["code"], "downstream_timeout");
        } else {
            assert_eq!(status, 502, "{what}: {body}");
            assert_eq!(body["error"]["code"], "service_unavailable", "{what}");
            assert_eq!(
                body["error"]["message"], "customers-api could not be reached or failed",
                "{what}"
            );
        }
        let host = base.trim_start_matches("http://");
        assert_leaks_nothing(&body, &[&base, host]);
        let logged = logs.text();
        assert!(
            logged.contains(host.split(':').next().unwrap_or(host)),
            "{what}: the log names the address: {logged}"
        );
        assert!(
            logged.contains("req-001"),
            "{what}: under the correlation id"
        );
    }
}

#[tokio::test]
async fn a_confirm_owned_elsewhere_is_never_compensated() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/confirm"))
        .respond_with(
            problem(409, "idempotency_key_in_progress")
                .insert_header(reqwest::header::RETRY_AFTER, "1"),
        )
        .expect(3) // retried, then left to its owner
        .mount(&f.orders)
        .await;
    cancel_answers(
        &f,
        ResponseTemplate::new(200).set_body_json(order("CANCELED")),
        0,
    )
    .await;
    let res = handler(request(&event("create-and-confirm-order.json")), &deps(&f))
        .await
        .expect("answers");
    assert_eq!(res.status().as_u16(), 409);
    assert_eq!(
        res.headers()
            .get(reqwest::header::RETRY_AFTER)
            .and_then(|v| v.to_str().ok()),
        Some("1")
    );
    let body: Value = match res.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json"),
        _ => Value::Null,
    };
    assert_eq!(body["error"]["code"], "saga_in_progress");
    assert_eq!(body["error"]["step"], "confirm_order");
    assert_eq!(body["error"]["retriable"], true);
    assert!(body["error"].get("compensation").is_none(), "{body}");
}

#[tokio::test]
async fn a_create_owned_elsewhere_answers_saga_in_progress() {
    let f = fakes().await;
    customer_ok(&f).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders"))
        .respond_with(problem(409, "idempotency_key_in_progress"))
        .mount(&f.orders)
        .await;
    let (status, body) = saga(&f).await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "saga_in_progress");
    assert_eq!(body["error"]["step"], "create_order");
    assert!(body["error"].get("compensation").is_none(), "{body}");
}

/// Confirm's answer was lost (it timed out) but the confirm happened: the
/// compensation's precondition (`If-Match: "CREATED"`) refuses to cancel a
/// confirmed order, and the saga answers 201 with it.
#[tokio::test]
async fn compensation_never_cancels_a_confirmed_order() {
    let f = fakes().await;
    customer_ok(&f).await;
    create_ok(&f).await;
    confirm_answers(&f, ResponseTemplate::new(503)).await;
    Mock::given(matchers::method("POST"))
        .and(matchers::path("/orders/8/cancel"))
        .and(matchers::header(reqwest::header::IF_MATCH, "\"CREATED\""))
        .respond_with(problem(412, "precondition_failed"))
        .expect(1) // a refusal is not retried
        .mount(&f.orders)
        .await;
    fetch_ok(&f, "CONFIRMED").await;
    let (status, body) = saga(&f).await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["data"]["order"]["status"], "CONFIRMED");
}

/// The pre-traffic hook's event, as template.yaml's hook sends it (the
/// template contract test keeps the two the same).
fn self_check_event() -> Request {
    request(&event("self-check.json"))
}

async fn ready_answers(server: &MockServer, status: u16) {
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/ready"))
        .respond_with(ResponseTemplate::new(status).set_body_json(json!({"status": "ready"})))
        .mount(server)
        .await;
}

#[tokio::test]
async fn the_self_check_passes_when_both_apis_are_ready_and_the_service_token_reads() {
    let f = fakes().await;
    ready_answers(&f.customers, 200).await;
    ready_answers(&f.orders, 200).await;
    // No customer 1: still an authenticated read answered.
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .and(matchers::header(
            "authorization",
            format!("Bearer {SERVICE_TOKEN}").as_str(),
        ))
        .respond_with(problem(404, "customer_not_found"))
        .expect(1)
        .mount(&f.customers)
        .await;
    let (status, body) = call(self_check_event(), &deps(&f)).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "ok");
    let names: Vec<_> = body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .map(|c| (c["name"].clone(), c["ok"].clone()))
        .collect();
    assert_eq!(names.len(), 3, "{body}");
    assert!(names.iter().all(|(_, ok)| ok == &json!(true)), "{body}");
    // The readiness checks carry no credential; nothing is written.
    for server in [&f.customers, &f.orders] {
        for r in server.received_requests().await.unwrap_or_default() {
            assert_eq!(r.method.as_str(), "GET");
            if r.url.path() == "/ready" {
                assert!(r.headers.get("authorization").is_none());
            }
        }
    }
}

#[tokio::test]
async fn the_self_check_fails_naming_the_check_when_an_api_is_not_ready_or_refuses_the_token() {
    let f = fakes().await;
    ready_answers(&f.customers, 200).await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/ready"))
        .respond_with(problem(503, "not_ready"))
        .mount(&f.orders)
        .await;
    Mock::given(matchers::method("GET"))
        .and(matchers::path("/internal/customers/1"))
        .respond_with(problem(401, "invalid_token"))
        .mount(&f.customers)
        .await;
    let (status, body) = call(self_check_event(), &deps(&f)).await;
    assert_eq!(status, 503, "{body}");
    assert_eq!(body["status"], "failed");
    let failed: Vec<_> = body["checks"]
        .as_array()
        .expect("checks")
        .iter()
        .filter(|c| c["ok"] == json!(false))
        .map(|c| {
            (
                c["name"].as_str().unwrap_or_default().to_owned(),
                c["status"].clone(),
            )
        })
        .collect();
    assert_eq!(
        failed,
        vec![
            ("orders-api ready".to_owned(), json!(503)),
            ("customers-api authenticated read".to_owned(), json!(401)),
        ]
    );
    assert_leaks_nothing(
        &body,
        &["not_ready happened", "invalid_token happened", "127.0.0.1"],
    );
}
