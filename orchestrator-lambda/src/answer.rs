//! What the orchestrator answers: `{"success", "correlationId", "data" |
//! "error"}`, with the confirmed order as `data`, as HTTP responses.

use axum::{
    body::Body,
    http::{header, HeaderValue, StatusCode},
    response::Response,
};
use contracts::{CustomerId, OrderId, OrderItem, OrderStatus};
use kit_runtime::correlation::{self, CorrelationId};
use serde::Serialize;

use crate::saga::{Compensation, Completed, Failure, SagaCode, Step};

/// The customer, as the saga's answer shows it.
#[derive(Debug, Serialize)]
pub struct CustomerSummary {
    pub id: CustomerId,
    pub name: String,
    pub email: String,
    pub phone: Option<String>,
}

/// The order, as the saga's answer shows it.
#[derive(Debug, Serialize)]
pub struct OrderSummary {
    pub id: OrderId,
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    pub total_cents: u64,
    pub items: Vec<OrderItem>,
    pub created_by: String,
}

/// A saga that succeeded: the customer and the confirmed order.
#[derive(Debug, Serialize)]
pub struct Confirmed {
    pub customer: CustomerSummary,
    pub order: OrderSummary,
}

impl From<Completed> for Confirmed {
    fn from(
        Completed {
            customer, order, ..
        }: Completed,
    ) -> Self {
        Self {
            customer: CustomerSummary {
                id: customer.id,
                name: customer.name,
                email: customer.email,
                phone: customer.phone,
            },
            order: OrderSummary {
                id: order.id,
                customer_id: order.customer_id,
                status: order.status,
                total_cents: order.total_cents,
                items: order.items,
                created_by: order.created_by,
            },
        }
    }
}

/// The `error` of a failed saga.
#[derive(Debug, Serialize)]
pub struct ErrorBody<'a> {
    pub code: SagaCode,
    pub message: &'a str,
    pub step: Option<Step>,
    pub retriable: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub compensation: Option<Compensation>,
}

impl<'a> From<&'a Failure> for ErrorBody<'a> {
    fn from(f: &'a Failure) -> Self {
        Self {
            code: f.code,
            message: &f.message,
            step: f.step,
            retriable: f.retriable,
            compensation: f.compensation,
        }
    }
}

/// Every answer but the health check's.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Envelope<'a> {
    pub success: bool,
    pub correlation_id: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub data: Option<&'a Confirmed>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ErrorBody<'a>>,
}

impl<'a> Envelope<'a> {
    pub fn success(correlation_id: &'a str, data: &'a Confirmed) -> Self {
        Self {
            success: true,
            correlation_id,
            data: Some(data),
            error: None,
        }
    }

    pub fn failure(correlation_id: &'a str, failure: &'a Failure) -> Self {
        Self {
            success: false,
            correlation_id,
            data: None,
            error: Some(failure.into()),
        }
    }
}

/// `body` as JSON with `status`, under the request's correlation id.
pub fn json(status: StatusCode, id: &CorrelationId, body: &impl Serialize) -> Response {
    let Ok(text) = serde_json::to_string(body) else {
        // Our own types always serialise; should one not, say nothing more.
        return plain(StatusCode::INTERNAL_SERVER_ERROR);
    };
    let mut res = Response::new(Body::from(text));
    *res.status_mut() = status;
    let headers = res.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    if let Ok(value) = HeaderValue::from_str(id.as_str()) {
        headers.insert(correlation::HEADER_NAME, value);
    }
    res
}

fn plain(status: StatusCode) -> Response {
    let mut res = Response::new(Body::empty());
    *res.status_mut() = status;
    res
}

/// A saga that succeeded: 201 with the customer and the confirmed order,
/// and `Idempotent-Replayed: true` when an earlier run with the same key
/// made the order (as orders-api marks its replays).
pub fn success(id: &CorrelationId, completed: Completed) -> Response {
    let replayed = completed.replayed;
    let data = Confirmed::from(completed);
    let mut res = json(
        StatusCode::CREATED,
        id,
        &Envelope::success(id.as_str(), &data),
    );
    if replayed {
        res.headers_mut().insert(
            header::HeaderName::from_static(REPLAYED),
            HeaderValue::from_static("true"),
        );
    }
    res
}

/// The header that marks a saga's answer as a replay.
pub const REPLAYED: &str = contracts::headers::IDEMPOTENT_REPLAYED;

/// A failure: its envelope, `Retry-After` when known, `WWW-Authenticate`
/// for a 401.
pub fn failure(id: &CorrelationId, f: &Failure) -> Response {
    let mut res = json(f.status, id, &Envelope::failure(id.as_str(), f));
    let headers = res.headers_mut();
    if let Some(secs) = f.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    if f.status == StatusCode::UNAUTHORIZED {
        headers.insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"order-back-office\""),
        );
    }
    res
}
