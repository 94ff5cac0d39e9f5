//! How a saga fails, as answered: each downstream refusal or outage mapped
//! to a status, a code of the orchestrator's own, the step it happened at,
//! whether a retry can help, and what became of the order.

use contracts::{Code, CustomerId, OrderId};
use kit_client::CallError;
use reqwest::StatusCode;
use serde::Serialize;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ValidateCustomer,
    CreateOrder,
    ConfirmOrder,
    FetchOrder,
    Compensate,
}

contracts::codes! {
    /// The `code` of a failed saga's answer: what a caller branches on.
    pub enum SagaCode {
        /// No valid bearer token (401).
        Unauthorized = "unauthorized",
        /// The token does not grant `orders:write` (403).
        Forbidden = "forbidden",
        /// No such route (404).
        RouteNotFound = "route_not_found",
        /// The route exists, not with this method (405, with `Allow`).
        MethodNotAllowed = "method_not_allowed",
        /// The body is larger than [`SagaRequest::BODY_BYTES`](super::SagaRequest::BODY_BYTES) (413).
        PayloadTooLarge = "payload_too_large",
        /// The body is no valid saga request (400).
        InvalidRequest = "invalid_request",
        /// The customer does not exist (404).
        CustomerNotFound = "customer_not_found",
        /// An ordered product does not exist (422).
        ProductNotFound = "product_not_found",
        /// Not enough stock (409).
        InsufficientStock = "insufficient_stock",
        /// The idempotency key was used with another request (422).
        IdempotencyKeyReused = "idempotency_key_reused",
        /// The order holds more units or value than one order may (422).
        OrderLimitExceeded = "order_limit_exceeded",
        /// Another request with this key is running the saga (409, retriable).
        SagaInProgress = "saga_in_progress",
        /// Confirm failed; the order was canceled and its stock is back (502, final).
        ConfirmFailedOrderCanceled = "confirm_failed_order_canceled",
        /// orders-api refused to confirm and the order is not settled yet (502, retriable).
        ConfirmRejected = "confirm_rejected",
        /// The order this request confirmed was canceled since (409).
        OrderCanceled = "order_canceled",
        /// The invocation's deadline ran out (504).
        DeadlineExceeded = "deadline_exceeded",
        /// A downstream service did not answer in time (504).
        DownstreamTimeout = "downstream_timeout",
        /// A downstream service could not be reached or failed (502).
        ServiceUnavailable = "service_unavailable",
    }
}

/// A downstream's code, as the saga answers it (a twin's claim on the key
/// is the saga in progress).
impl From<Code> for SagaCode {
    fn from(code: Code) -> Self {
        match code {
            Code::CustomerNotFound => Self::CustomerNotFound,
            Code::ProductNotFound => Self::ProductNotFound,
            Code::InsufficientStock => Self::InsufficientStock,
            Code::IdempotencyKeyReused => Self::IdempotencyKeyReused,
            Code::IdempotencyKeyInProgress => Self::SagaInProgress,
            Code::OrderLimitExceeded => Self::OrderLimitExceeded,
        }
    }
}

/// How a saga that failed after creating an order was cleaned up.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Compensation {
    /// The order was canceled; its stock is back.
    Done,
    /// The order may still hold stock; the reservation sweeper releases it.
    Pending,
}

/// A failed saga, as answered.
#[derive(Debug, Clone)]
pub struct Failure {
    pub status: StatusCode,
    pub code: SagaCode,
    pub message: String,
    pub step: Option<Step>,
    pub retriable: bool,
    pub compensation: Option<Compensation>,
    /// Seconds to wait before retrying (`Retry-After`), when known.
    pub retry_after: Option<u64>,
}

impl Failure {
    /// A failure at `step`, retriable when it is the server's (5xx).
    pub fn new(status: StatusCode, code: SagaCode, message: impl Into<String>, step: Step) -> Self {
        Self {
            step: Some(step),
            ..Self::request(status, code, message)
        }
    }

    /// A refusal of the request itself, before any step ran.
    pub fn request(status: StatusCode, code: SagaCode, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            step: None,
            retriable: status.is_server_error(),
            compensation: None,
            retry_after: None,
        }
    }

    /// Another request with the same saga key owns this step and may still
    /// succeed: nothing is undone, and a retry settles to its outcome.
    pub fn in_progress(step: Step, e: &CallError) -> Self {
        let after = match e {
            CallError::Status {
                retry_after: Some(after),
                ..
            } => after.as_secs().max(1),
            _ => 1,
        };
        Self {
            retriable: true,
            retry_after: Some(after),
            ..Self::new(
                StatusCode::CONFLICT,
                SagaCode::SagaInProgress,
                "another request with this idempotency_key is running this saga; retry to get its outcome",
                step,
            )
        }
    }

    /// Confirm failed and the order was canceled: final, and the same for
    /// every replay of the key, whatever made confirm fail (the log line,
    /// under the same correlation id, says what).
    pub fn compensated(order_id: OrderId) -> Self {
        Self {
            retriable: false,
            compensation: Some(Compensation::Done),
            ..Self::new(
                StatusCode::BAD_GATEWAY,
                SagaCode::ConfirmFailedOrderCanceled,
                format!(
                    "order {order_id} could not be confirmed and was canceled; its stock is back"
                ),
                Step::ConfirmOrder,
            )
        }
    }

    /// Confirm failed and the order could not be canceled (yet): retriable,
    /// the reservation sweeper releases its stock meanwhile.
    pub fn confirm_unsettled(order_id: OrderId, e: &CallError) -> Self {
        let failure = match e {
            CallError::Status { status, code, .. } if status.is_client_error() => Self::new(
                StatusCode::BAD_GATEWAY,
                SagaCode::ConfirmRejected,
                format!(
                    "orders-api refused to confirm order {order_id} ({})",
                    code.as_deref().unwrap_or("-")
                ),
                Step::ConfirmOrder,
            ),
            _ => unavailable(Step::ConfirmOrder, "orders-api", e),
        };
        Self {
            retriable: true,
            compensation: Some(Compensation::Pending),
            ..failure
        }
    }

    /// The order this request confirmed has been canceled since.
    pub fn canceled_since(order_id: OrderId) -> Self {
        Self::new(
            StatusCode::CONFLICT,
            SagaCode::OrderCanceled,
            format!("order {order_id} was canceled after this request first confirmed it"),
            Step::FetchOrder,
        )
    }
}

/// A downstream failure, as answered: what failed, never how (the log line,
/// under the same correlation id, has the details).
pub fn unavailable(step: Step, service: &str, e: &CallError) -> Failure {
    tracing::error!(step = ?step, service, error = %e, "downstream failure ends the saga");
    match e {
        CallError::Deadline => Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            SagaCode::DeadlineExceeded,
            format!("{service} did not answer before the deadline"),
            step,
        ),
        e if e.timed_out() => Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            SagaCode::DownstreamTimeout,
            format!("{service} did not answer in time"),
            step,
        ),
        _ => Failure::new(
            StatusCode::BAD_GATEWAY,
            SagaCode::ServiceUnavailable,
            format!("{service} could not be reached or failed"),
            step,
        ),
    }
}

/// customers-api's answer to the customer lookup, as a failure.
pub fn lookup_failure(customer_id: CustomerId, e: &CallError) -> Failure {
    match e.status() {
        Some(StatusCode::NOT_FOUND) => Failure::new(
            StatusCode::NOT_FOUND,
            Code::CustomerNotFound.into(),
            format!("no customer with id {customer_id}"),
            Step::ValidateCustomer,
        ),
        _ => unavailable(Step::ValidateCustomer, "customers-api", e),
    }
}

/// orders-api refused the caller's own token (relayed): 401 or 403, as it said.
pub fn refused_caller(status: StatusCode, step: Step, e: &CallError) -> Failure {
    let code = if status == StatusCode::FORBIDDEN {
        SagaCode::Forbidden
    } else {
        SagaCode::Unauthorized
    };
    Failure::new(
        status,
        code,
        e.detail_or("orders-api refused the caller's token"),
        step,
    )
}

/// orders-api's refusal of the order, as a failure: its own code for what
/// the caller can fix, 409 `saga_in_progress` for a twin, else unavailable
/// (with the sweeper pending when an order may exist).
pub fn create_failure(e: &CallError) -> Failure {
    let step = Step::CreateOrder;
    let refused = |status, code: Code, fallback: &str| {
        Failure::new(status, code.into(), e.detail_or(fallback), step)
    };
    match (e.status(), e.code()) {
        (Some(StatusCode::CONFLICT), Some(Code::InsufficientStock)) => refused(
            StatusCode::CONFLICT,
            Code::InsufficientStock,
            "not enough stock",
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some(Code::ProductNotFound)) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::ProductNotFound,
            "a product does not exist",
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some(Code::IdempotencyKeyReused)) => Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::IdempotencyKeyReused.into(),
            "this idempotency_key was already used with a different request",
            step,
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some(Code::OrderLimitExceeded)) => refused(
            StatusCode::UNPROCESSABLE_ENTITY,
            Code::OrderLimitExceeded,
            "the order holds more than one order may",
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some(Code::CustomerNotFound)) => refused(
            StatusCode::NOT_FOUND,
            Code::CustomerNotFound,
            "the customer does not exist",
        ),
        (Some(StatusCode::CONFLICT), Some(Code::IdempotencyKeyInProgress)) => {
            Failure::in_progress(step, e)
        }
        (Some(StatusCode::BAD_REQUEST), _) => Failure::new(
            StatusCode::BAD_REQUEST,
            SagaCode::InvalidRequest,
            e.detail_or("orders-api refused the order"),
            step,
        ),
        // orders-api checks the caller's own token again.
        (Some(status @ (StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN)), _) => {
            refused_caller(status, step, e)
        }
        _ => {
            let mut failure = unavailable(step, "orders-api", e);
            // An order may exist that nobody will confirm: the reservation
            // sweeper releases its stock when its TTL runs out.
            if e.outcome_unknown() {
                failure.compensation = Some(Compensation::Pending);
            }
            failure
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn refusal(status: u16, code: Code) -> CallError {
        CallError::Status {
            status: StatusCode::from_u16(status).unwrap_or(StatusCode::IM_A_TEAPOT),
            code: Some(code.as_str().to_owned()),
            detail: Some("why".into()),
            retry_after: None,
        }
    }

    #[test]
    fn create_refusals_keep_their_code_and_outages_their_doubt() {
        let f = create_failure(&refusal(409, Code::InsufficientStock));
        assert_eq!(
            (f.status, f.code, f.message.as_str()),
            (StatusCode::CONFLICT, SagaCode::InsufficientStock, "why")
        );
        let f = create_failure(&refusal(422, Code::CustomerNotFound));
        assert_eq!(
            (f.status, f.code),
            (StatusCode::NOT_FOUND, SagaCode::CustomerNotFound)
        );
        let f = create_failure(&refusal(409, Code::IdempotencyKeyInProgress));
        assert_eq!(
            (f.code, f.retriable, f.compensation),
            (SagaCode::SagaInProgress, true, None)
        );
        let lost = CallError::Transport {
            sent: true,
            timed_out: false,
            message: String::new(),
        };
        let f = create_failure(&lost);
        assert_eq!(
            (f.status, f.compensation),
            (StatusCode::BAD_GATEWAY, Some(Compensation::Pending))
        );
        let refused = CallError::Transport {
            sent: false,
            timed_out: false,
            message: String::new(),
        };
        assert_eq!(create_failure(&refused).compensation, None);
    }

    #[test]
    fn a_compensated_confirm_is_final_and_an_unsettled_one_is_not() {
        let f = Failure::compensated(OrderId(8));
        assert_eq!(
            (f.retriable, f.compensation),
            (false, Some(Compensation::Done))
        );
        let f = Failure::confirm_unsettled(OrderId(8), &refusal(409, Code::InsufficientStock));
        assert_eq!(
            (f.code, f.retriable, f.compensation),
            (SagaCode::ConfirmRejected, true, Some(Compensation::Pending))
        );
        assert!(f.message.contains("insufficient_stock"), "{}", f.message);
    }

    #[test]
    fn codes_are_written_as_they_are_named() {
        for code in SagaCode::ALL {
            let json = serde_json::to_value(code).expect("serialises");
            assert_eq!(json, code.as_str());
        }
        assert_eq!(
            SagaCode::from(Code::IdempotencyKeyInProgress),
            SagaCode::SagaInProgress
        );
        for &code in Code::ALL {
            if code != Code::IdempotencyKeyInProgress {
                assert_eq!(SagaCode::from(code).as_str(), code.as_str());
            }
        }
    }
}
