//! The server's half of correlation ids ([`kit_runtime::correlation`]): the
//! id of each request, taken from `X-Correlation-Id` or generated, made
//! current for its task, echoed on the response, and one access log line.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::header::{HeaderName, HeaderValue},
    middleware::Next,
    HttpMessage,
};
pub use kit_runtime::correlation::*;

/// The header that carries the id, as an actix header name.
pub const HEADER: HeaderName = HeaderName::from_static(HEADER_NAME);

/// The id assigned to a request: set by the root span builder
/// ([`crate::telemetry::RequestSpan`]) or, failing that, here.
pub fn of_request(req: &ServiceRequest) -> CorrelationId {
    if let Some(id) = req.extensions().get::<CorrelationId>() {
        return id.clone();
    }
    let id = CorrelationId::from_header(req.headers().get(&HEADER).and_then(|v| v.to_str().ok()));
    req.extensions_mut().insert(id.clone());
    id
}

/// Middleware: makes the id current for the request, echoes it in the response
/// and writes one access log line (method, route, status, latency; never the
/// query string, which may carry personal data).
pub async fn middleware(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let id = of_request(&req);
    let started = std::time::Instant::now();
    let method = req.method().clone();
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let mut res = scope(id.clone(), next.call(req)).await?;
    let status = res.status().as_u16();
    let latency_ms = (started.elapsed().as_secs_f64() * 1_000_000.0).round() / 1000.0;
    if status >= 500 {
        tracing::warn!(%method, %route, status, latency_ms, "request failed");
    } else {
        tracing::info!(%method, %route, status, latency_ms, "request completed");
    }
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        res.headers_mut().insert(HEADER, value);
    }
    Ok(res)
}
