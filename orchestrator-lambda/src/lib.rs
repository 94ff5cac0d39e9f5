//! orchestrator-lambda: `POST /orchestrator/create-and-confirm-order` runs the
//! create-and-confirm saga over customers-api and orders-api;
//! `GET /orchestrator/health` answers that the function is alive. Every
//! other answer needs `Authorization: Bearer <user JWT>`: without a valid
//! token the answer is 401 and nothing runs.
//!
//! The handler is a plain async function of the request and the dependencies
//! built once per cold start, testable without a Lambda runtime.

pub mod answer;
pub mod config;
pub mod endpoint;
pub mod saga;
pub mod secrets;

use std::time::Duration;

use lambda_http::{
    http::{header, Method, StatusCode},
    Body, Error, Request, RequestExt, Response,
};
use serde::Serialize;
use service_kit::correlation::{self, CorrelationId};
use tokio::time::Instant;

use crate::{
    answer::{Confirmed, Envelope},
    saga::{Deps, Failure, SagaRequest},
};

const SAGA_PATH: &str = "/orchestrator/create-and-confirm-order";
const HEALTH_PATH: &str = "/orchestrator/health";
/// Largest accepted request body.
const BODY_LIMIT: usize = 64 * 1024;

fn respond(
    status: StatusCode,
    correlation_id: &CorrelationId,
    body: &impl Serialize,
) -> Result<Response<Body>, Error> {
    Ok(Response::builder()
        .status(status)
        .header(header::CONTENT_TYPE, "application/json")
        .header(correlation::HEADER_NAME, correlation_id.as_str())
        .body(Body::from(serde_json::to_string(body)?))?)
}

/// The answer to a failure: its envelope, `Retry-After` when known, and
/// `WWW-Authenticate` for a 401.
fn refuse(correlation_id: &CorrelationId, f: &Failure) -> Result<Response<Body>, Error> {
    let mut res = respond(
        f.status,
        correlation_id,
        &Envelope::failure(correlation_id.as_str(), f),
    )?;
    let headers = res.headers_mut();
    if let Some(secs) = f.retry_after {
        headers.insert(header::RETRY_AFTER, header::HeaderValue::from(secs));
    }
    if f.status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            header::HeaderValue::from_static("Bearer realm=\"order-back-office\""),
        );
    }
    Ok(res)
}

/// The caller's subject, from a valid `Authorization: Bearer <JWT>`.
fn authenticate(req: &Request, deps: &Deps) -> Result<String, Failure> {
    let refuse = |why: &str| {
        tracing::info!(reason = why, "caller refused");
        Failure::request(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "a valid bearer token is required",
        )
    };
    let value = req
        .headers()
        .get(header::AUTHORIZATION)
        .ok_or_else(|| refuse("no Authorization header"))?
        .to_str()
        .map_err(|_| refuse("the Authorization header is not text"))?;
    let token = service_kit::token::bearer_token(value).map_err(refuse)?;
    deps.config.users.verify(token).map_err(refuse)
}

/// Epoch milliseconds of 2001-09-09: a Lambda deadline below this is no
/// wall-clock instant but a duration (local emulators send the function
/// timeout itself).
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// When this invocation must have answered: the Lambda deadline minus a
/// margin, and never later than `SAGA_TIMEOUT_MS` from now.
fn deadline_of(req: &Request, deps: &Deps) -> Instant {
    let cap = deps.config.saga_timeout;
    let remaining = req
        .lambda_context_ref()
        .map(|ctx| ctx.deadline)
        .filter(|ms| *ms > 0)
        .map(|deadline_ms| {
            let left = if deadline_ms < EPOCH_MS_FLOOR {
                deadline_ms
            } else {
                let now_ms =
                    u64::try_from(chrono::Utc::now().timestamp_millis()).unwrap_or_default();
                deadline_ms.saturating_sub(now_ms)
            };
            Duration::from_millis(left).saturating_sub(deps.config.deadline_margin)
        })
        .unwrap_or(cap);
    let now = Instant::now();
    now.checked_add(remaining.min(cap)).unwrap_or(now)
}

/// The Lambda's entry point.
pub async fn handler(req: Request, deps: &Deps) -> Result<Response<Body>, Error> {
    let header_id = req
        .headers()
        .get(correlation::HEADER_NAME)
        .and_then(|v| v.to_str().ok())
        .and_then(CorrelationId::parse);
    let path = req.uri().path().trim_end_matches('/');
    if path.ends_with(HEALTH_PATH) {
        let id = header_id.unwrap_or_else(CorrelationId::generate);
        return respond(StatusCode::OK, &id, &Health { status: "ok" });
    }
    let subject = match route(path, req.method()).and_then(|()| authenticate(&req, deps)) {
        Ok(subject) => subject,
        Err(f) => return refuse(&header_id.unwrap_or_else(CorrelationId::generate), &f),
    };
    let deadline = deadline_of(&req, deps);
    let parsed = parse(req.body());
    let id = parsed
        .as_ref()
        .ok()
        .and_then(|r| r.correlation_id.as_deref())
        .and_then(CorrelationId::parse)
        .or(header_id)
        .unwrap_or_else(CorrelationId::generate);
    let outcome = correlation::scope(id.clone(), async {
        run_logged(deps, &subject, &parsed?, deadline, &id).await
    })
    .await;
    match outcome {
        Ok(data) => respond(
            StatusCode::CREATED,
            &id,
            &Envelope::success(id.as_str(), &data),
        ),
        Err(f) => refuse(&id, &f),
    }
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// Only `POST` to the saga's path runs a saga.
fn route(path: &str, method: &Method) -> Result<(), Failure> {
    if !path.ends_with(SAGA_PATH) {
        return Err(Failure::request(
            StatusCode::NOT_FOUND,
            "route_not_found",
            "no such route",
        ));
    }
    if method != Method::POST {
        return Err(Failure::request(
            StatusCode::METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "use POST",
        ));
    }
    Ok(())
}

/// Runs the saga in its span, with one log line for its outcome.
async fn run_logged(
    deps: &Deps,
    subject: &str,
    request: &SagaRequest,
    deadline: Instant,
    id: &CorrelationId,
) -> Result<Confirmed, Failure> {
    let span = tracing::info_span!("saga", correlation_id = %id, customer_id = request.customer_id);
    tracing::Instrument::instrument(
        async {
            let started = Instant::now();
            let budget_ms = deadline.saturating_duration_since(started).as_millis() as u64;
            tracing::debug!(items = request.items.len(), budget_ms, "saga started");
            let result = saga::run(deps, subject, request, deadline).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(data) => tracing::info!(order_id = data.order.id, latency_ms, "saga succeeded"),
                Err(f) => tracing::warn!(code = f.code, step = ?f.step, status = f.status.as_u16(), latency_ms, "saga failed"),
            }
            result
        },
        span,
    )
    .await
}

fn parse(body: &Body) -> Result<SagaRequest, Failure> {
    let bytes: &[u8] = match body {
        Body::Empty => b"",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    };
    if bytes.len() > BODY_LIMIT {
        return Err(Failure::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            "payload_too_large",
            "the request body is too large",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(Failure::request(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the request body is empty",
        ));
    }
    let request: SagaRequest = serde_json::from_slice(bytes).map_err(|e| {
        Failure::request(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            format!("invalid request body: {e}"),
        )
    })?;
    let problems = request.problems();
    if !problems.is_empty() {
        return Err(Failure::request(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            problems.join("; "),
        ));
    }
    Ok(request)
}
