//! The function's HTTP layer: an axum [`Router`] that `lambda_http` runs.
//! The saga, the health check and the console; any other path is a 404 and any other method a 405
//! (with `Allow`), both in the saga's answer shape.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::{Path, Request, State},
    http::{header, HeaderMap, HeaderValue, StatusCode},
    response::Response,
    routing::{get, post, MethodRouter},
    Router,
};
use kit_runtime::correlation::{self, CorrelationId};
use lambda_http::Context;
use serde::Serialize;
use tokio::time::Instant;

use crate::{
    answer, console,
    saga::{self, Caller, Completed, Deps, Failure, SagaCode, SagaRequest},
    self_check,
    state::AppState,
};
use kit_identity::scope::Scope;

pub const SAGA_PATH: &str = "/orchestrator/create-and-confirm-order";
pub const HEALTH_PATH: &str = "/orchestrator/health";

/// A route of the function: its method, its path, and the scope a caller's
/// token must grant (`None`: open to anyone).
pub struct Route {
    pub method: &'static str,
    pub path: &'static str,
    pub scope: Option<Scope>,
}

/// Every route [`app`] serves, with what it asks of its caller (the tests
/// walk this table with every role).
pub const ROUTES: [Route; 4] = [
    Route {
        method: "GET",
        path: HEALTH_PATH,
        scope: None,
    },
    Route {
        method: "POST",
        path: SAGA_PATH,
        scope: Some(SAGA_SCOPE),
    },
    Route {
        method: "GET",
        path: console::PATH,
        scope: None,
    },
    Route {
        method: "GET",
        path: console::ASSET_PATH,
        scope: None,
    },
];

/// What running a saga needs.
const SAGA_SCOPE: Scope = Scope::OrdersWrite;

/// The function's routes over `state` (built once per cold start): the
/// Router `lambda_http` runs, and the tests call with `oneshot`.
pub fn app(state: Arc<AppState>) -> Router {
    Router::new()
        .route(ROUTES[0].path, only(ROUTES[0].method, get(health)))
        .route(
            ROUTES[1].path,
            only(ROUTES[1].method, post(create_and_confirm)),
        )
        .route(ROUTES[2].path, only(ROUTES[2].method, get(console_page)))
        .route(ROUTES[3].path, only(ROUTES[3].method, get(console_asset)))
        // Not a public route: only a direct invocation reaches it (the
        // HTTP API has no route to it), as the release's pre-traffic hook does.
        .route(self_check::PATH, only("GET", get(self_check)))
        .fallback(route_not_found)
        .with_state(state)
}

/// `route`, answering 405 with `Allow: allow` to every other method.
fn only(allow: &'static str, route: MethodRouter<Arc<AppState>>) -> MethodRouter<Arc<AppState>> {
    route.fallback(move |headers: HeaderMap| async move {
        let f = Failure::request(
            StatusCode::METHOD_NOT_ALLOWED,
            SagaCode::MethodNotAllowed,
            format!("use {allow}"),
        );
        let mut res = answer::failure(&correlation_of(&headers), &f);
        res.headers_mut()
            .insert(header::ALLOW, HeaderValue::from_static(allow));
        res
    })
}

async fn route_not_found(headers: HeaderMap) -> Response {
    let f = Failure::request(
        StatusCode::NOT_FOUND,
        SagaCode::RouteNotFound,
        "no such route",
    );
    answer::failure(&correlation_of(&headers), &f)
}

#[derive(Serialize)]
struct Health {
    status: &'static str,
}

/// `GET /orchestrator/health`: alive, no token needed.
async fn health(headers: HeaderMap) -> Response {
    answer::json(
        StatusCode::OK,
        &correlation_of(&headers),
        &Health { status: "ok" },
    )
}

/// `GET /orchestrator/self-check`: 200 when this version can reach and use
/// both APIs, else 503 ([`self_check`]).
async fn self_check(State(state): State<Arc<AppState>>, headers: HeaderMap) -> Response {
    let report = self_check::run(&state.saga).await;
    let status = if report.passed() {
        StatusCode::OK
    } else {
        StatusCode::SERVICE_UNAVAILABLE
    };
    answer::json(status, &correlation_of(&headers), &report)
}

/// `GET /console`: the page (no token needed: it holds no data; every
/// call it makes carries the operator's token).
async fn console_page(State(state): State<Arc<AppState>>) -> Response {
    console::serve_page(&state.console)
}

/// `GET /console/{asset}`: a hashed script or stylesheet, else 404.
async fn console_asset(path: Path<String>, headers: HeaderMap) -> Response {
    match console::serve_asset(path) {
        Some(res) => res,
        None => route_not_found(headers).await,
    }
}

/// The caller's correlation id, or a new one.
fn correlation_of(headers: &HeaderMap) -> CorrelationId {
    header_correlation(headers).unwrap_or_else(CorrelationId::generate)
}

fn header_correlation(headers: &HeaderMap) -> Option<CorrelationId> {
    headers
        .get(correlation::HEADER_NAME)
        .and_then(|v| v.to_str().ok())
        .and_then(CorrelationId::parse)
}

/// `POST /orchestrator/create-and-confirm-order`: the caller, then the
/// body, then the saga, under the body's correlation id (else the
/// header's, else a new one).
async fn create_and_confirm(State(state): State<Arc<AppState>>, req: Request) -> Response {
    let header_id = header_correlation(req.headers());
    let deadline = deadline_of(req.extensions().get::<Context>(), &state);
    let caller = match authenticate(req.headers(), &state, deadline).await {
        Ok(caller) => caller,
        Err(f) => return answer::failure(&header_id.unwrap_or_else(CorrelationId::generate), &f),
    };
    let parsed = parse(req).await;
    let id = parsed
        .as_ref()
        .ok()
        .and_then(|r| r.correlation_id.as_deref())
        .and_then(CorrelationId::parse)
        .or(header_id)
        .unwrap_or_else(CorrelationId::generate);
    let outcome = correlation::scope(id.clone(), async {
        run_logged(&state.saga, &caller, &parsed?, deadline, &id).await
    })
    .await;
    match outcome {
        Ok(completed) => answer::success(&id, completed),
        Err(f) => answer::failure(&id, &f),
    }
}

/// The caller, from a valid `Authorization: Bearer <JWT>` that grants
/// `orders:write` (401 without a valid token, 403 without the scope). The
/// token is relayed to orders-api for every step, compensation included,
/// so it must stay valid until `deadline`: one that expires sooner is
/// refused (401) before anything runs, rather than failing half-way.
async fn authenticate(
    headers: &HeaderMap,
    state: &AppState,
    deadline: Instant,
) -> Result<Caller, Failure> {
    let refuse = |why: &str| {
        tracing::info!(reason = why, "caller refused");
        Failure::request(
            StatusCode::UNAUTHORIZED,
            SagaCode::Unauthorized,
            "a valid bearer token is required",
        )
    };
    let value = headers
        .get(header::AUTHORIZATION)
        .ok_or_else(|| refuse("no Authorization header"))?
        .to_str()
        .map_err(|_| refuse("the Authorization header is not text"))?;
    let token = kit_identity::token::bearer_token(value).map_err(refuse)?;
    let principal = state.users.verify(token).await.map_err(refuse)?;
    let needed = deadline.saturating_duration_since(Instant::now()).as_secs() as i64 + 1;
    if principal.expires_at - chrono::Utc::now().timestamp() < needed {
        tracing::info!(sub = %principal.subject, "the token expires before the saga could end");
        return Err(Failure::request(
            StatusCode::UNAUTHORIZED,
            SagaCode::Unauthorized,
            format!(
                "the token expires within {needed} s, before the saga could end; use a fresh one"
            ),
        ));
    }
    principal.scopes.require(SAGA_SCOPE).map_err(|scope| {
        tracing::info!(sub = %principal.subject, scope = %scope, "caller lacks the scope");
        Failure::request(
            StatusCode::FORBIDDEN,
            SagaCode::Forbidden,
            format!("this needs the scope {scope}, which the token does not grant"),
        )
    })?;
    Ok(Caller {
        subject: principal.subject,
        token: token.to_owned(),
    })
}

/// Epoch milliseconds of 2001-09-09: a Lambda deadline below this is no
/// wall-clock instant but a duration (local emulators send the function
/// timeout itself).
const EPOCH_MS_FLOOR: u64 = 1_000_000_000_000;

/// When this invocation must have answered: the Lambda deadline minus a
/// margin, and never later than `SAGA_TIMEOUT_MS` from now.
fn deadline_of(context: Option<&Context>, state: &AppState) -> Instant {
    let cap = state.saga_timeout;
    let remaining = context
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
            Duration::from_millis(left).saturating_sub(state.deadline_margin)
        })
        .unwrap_or(cap);
    let now = Instant::now();
    now.checked_add(remaining.min(cap)).unwrap_or(now)
}

/// The body as a saga request, within [`SagaRequest::BODY_BYTES`]. The
/// event's body is in memory already: it is read whole, then measured.
async fn parse(req: Request) -> Result<SagaRequest, Failure> {
    let invalid = |message: String| {
        Failure::request(StatusCode::BAD_REQUEST, SagaCode::InvalidRequest, message)
    };
    let bytes = axum::body::to_bytes(req.into_body(), usize::MAX)
        .await
        .map_err(|_| invalid("the request body could not be read".into()))?;
    if bytes.len() > SagaRequest::BODY_BYTES {
        return Err(Failure::request(
            StatusCode::PAYLOAD_TOO_LARGE,
            SagaCode::PayloadTooLarge,
            "the request body is too large",
        ));
    }
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(invalid("the request body is empty".into()));
    }
    let request: SagaRequest = serde_json::from_slice(&bytes)
        .map_err(|e| invalid(format!("invalid request body: {e}")))?;
    let problems = request.problems();
    if !problems.is_empty() {
        return Err(invalid(problems.join("; ")));
    }
    Ok(request)
}

/// Runs the saga in its span, with one log line for its outcome.
async fn run_logged(
    deps: &Deps,
    caller: &Caller,
    request: &SagaRequest,
    deadline: Instant,
    id: &CorrelationId,
) -> Result<Completed, Failure> {
    let span = tracing::info_span!("saga", correlation_id = %id, sub = %caller.subject, customer_id = request.customer_id.get());
    tracing::Instrument::instrument(
        async {
            let started = Instant::now();
            let budget_ms = deadline.saturating_duration_since(started).as_millis() as u64;
            tracing::debug!(items = request.items.len(), budget_ms, "saga started");
            let result = saga::run(deps, caller, request, deadline).await;
            let latency_ms = started.elapsed().as_millis() as u64;
            match &result {
                Ok(done) => tracing::info!(order_id = done.order.id.get(), latency_ms, "saga succeeded"),
                Err(f) => tracing::warn!(code = %f.code, step = ?f.step, status = f.status.as_u16(), latency_ms, "saga failed"),
            }
            result
        },
        span,
    )
    .await
}
