//! orchestrator-lambda: `POST /orchestrator/create-and-confirm-order` runs the
//! create-and-confirm saga over customers-api and orders-api;
//! `GET /orchestrator/health` answers that the function is alive;
//! `GET /console` serves the operator console ([`console`]). Every
//! other answer needs `Authorization: Bearer <user JWT>`: without a valid
//! token the answer is 401 and nothing runs.
//!
//! The routes are an axum [`Router`] over the dependencies built once per
//! cold start ([`routes::app`]). The runtime hands each event to [`invoke`],
//! and so do the tests ([`handler`]), without a runtime.

pub mod answer;
pub mod config;
pub mod console;
pub mod endpoint;
pub mod routes;
pub mod saga;
pub mod secrets;
pub mod self_check;

use std::sync::Arc;

use axum::Router;
use lambda_http::{tower::ServiceExt, Body, Error, Request, Response};

pub use crate::routes::app;
use crate::saga::Deps;

/// One event through `app`, its answer buffered as the runtime sends it
/// back (a text body when it is UTF-8).
pub async fn invoke(app: Router, req: Request) -> Result<Response<Body>, Error> {
    let res = app.oneshot(req).await?;
    let (parts, body) = res.into_parts();
    let bytes = axum::body::to_bytes(body, usize::MAX).await?;
    let body = match String::from_utf8(bytes.to_vec()) {
        Ok(text) => Body::Text(text),
        Err(e) => Body::Binary(e.into_bytes()),
    };
    Ok(Response::from_parts(parts, body))
}

/// One event through the routes over `deps`.
pub async fn handler(req: Request, deps: &Arc<Deps>) -> Result<Response<Body>, Error> {
    invoke(app(Arc::clone(deps)), req).await
}
