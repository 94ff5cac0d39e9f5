//! The server's half of logging ([`kit_runtime::telemetry`]): the root span
//! of every request, which every log line of the request sits in.

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    HttpMessage,
};
pub use kit_runtime::telemetry::*;
use tracing_actix_web::RootSpanBuilder;

use crate::correlation::{self, CorrelationId};

/// The root span of every request: method, route, correlation id (taken
/// from `X-Correlation-Id` or generated) and, once known, the caller's `sub`. The query string is left out on
/// purpose: it may carry personal data (searches by email).
pub struct RequestSpan;

impl RootSpanBuilder for RequestSpan {
    fn on_request_start(request: &ServiceRequest) -> tracing::Span {
        let id = CorrelationId::from_header(
            request
                .headers()
                .get(&correlation::HEADER)
                .and_then(|v| v.to_str().ok()),
        );
        request.extensions_mut().insert(id.clone());
        let route = request
            .match_pattern()
            .unwrap_or_else(|| "unmatched".to_owned());
        tracing::info_span!(
            "request",
            correlation_id = %id,
            method = %request.method(),
            route = %route,
            status = tracing::field::Empty,
            // The caller, once its credential is checked (`auth`).
            sub = tracing::field::Empty,
        )
    }

    fn on_request_end<B: MessageBody>(
        span: tracing::Span,
        outcome: &Result<ServiceResponse<B>, actix_web::Error>,
    ) {
        if let Ok(res) = outcome {
            span.record("status", res.status().as_u16());
        }
    }
}
