//! The server's half of deadlines ([`kit_runtime::deadline`]): a request's
//! `X-Request-Timeout-Ms` becomes its task's deadline, and a spent one is a
//! 504 before any work.

pub use kit_runtime::deadline::*;
use tokio::time::Instant;

/// Middleware: a request with `X-Request-Timeout-Ms` runs under that
/// deadline; an unreadable value is a 400, a spent one a 504, both before
/// any work.
pub async fn middleware(
    req: actix_web::dev::ServiceRequest,
    next: actix_web::middleware::Next<impl actix_web::body::MessageBody>,
) -> Result<actix_web::dev::ServiceResponse<impl actix_web::body::MessageBody>, actix_web::Error> {
    use crate::problem::{ApiError, KitCode};
    let Some(value) = req.headers().get(HEADER_NAME) else {
        return next.call(req).await;
    };
    let Some(budget) = value.to_str().ok().and_then(parse) else {
        return Err(ApiError::bad_request(
            KitCode::InvalidRequestTimeout,
            "X-Request-Timeout-Ms must be a whole number of milliseconds",
        )
        .into());
    };
    if budget.is_zero() {
        return Err(expired().into());
    }
    scope(Instant::now() + budget, next.call(req)).await
}

/// 504 `deadline_exceeded`: the caller stops waiting before an answer could
/// come.
pub fn expired() -> crate::problem::ApiError {
    crate::problem::ApiError::new(
        actix_web::http::StatusCode::GATEWAY_TIMEOUT,
        crate::problem::KitCode::DeadlineExceeded,
        "the request's deadline (X-Request-Timeout-Ms) ran out before it could be answered",
    )
}
