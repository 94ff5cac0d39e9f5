//! orchestrator-lambda: `POST /orchestrator/create-and-confirm-order` runs the
//! create-and-confirm saga over customers-api and orders-api;
//! `GET /orchestrator/health` answers that the function is alive;
//! `GET /console` serves the operator console ([`console`]). Every
//! other answer needs `Authorization: Bearer <user JWT>`: without a valid
//! token the answer is 401 and nothing runs.
//!
//! The routes are an axum [`Router`] over the state built once per cold
//! start ([`state::AppState`], [`routes::app`]), handed to `lambda_http` as
//! it is (the runtime's http-axum example); the tests call the same Router
//! with `oneshot` ([`handler`]), without a runtime.

pub mod answer;
pub mod config;
pub mod console;
pub mod endpoint;
pub mod routes;
pub mod saga;
pub mod secrets;
pub mod self_check;
pub mod state;

use std::sync::Arc;

use lambda_http::{tower::ServiceExt, Body, Error, Request, Response};

pub use crate::routes::app;
use crate::state::AppState;

/// One event through the routes over `state` (`oneshot`), as the runtime
/// would answer it: what the tests call.
pub async fn handler(req: Request, state: &Arc<AppState>) -> Result<Response<Body>, Error> {
    let res = app(Arc::clone(state)).oneshot(req).await?;
    buffered(res).await
}

/// An answer of the Router with its body read whole, as the runtime sends
/// it back (a text body when it is UTF-8). `lambda_http::run_concurrent`
/// needs an answer it can share between threads, which a streaming axum
/// body is not; an API Gateway answer is buffered anyway.
pub async fn buffered(res: axum::response::Response) -> Result<Response<Body>, Error> {
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(Response::from_parts(parts, body))
}
