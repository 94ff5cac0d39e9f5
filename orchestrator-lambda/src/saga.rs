//! The create-and-confirm saga: validate the customer → create the order →
//! confirm it → read it back. Both writes carry idempotency keys derived from
//! the caller's key, so the whole saga can be sent again (concurrently, or an
//! hour later) without a second order. Keys belong to their caller: the
//! same key from two callers is two sagas. When confirm fails for good or its
//! outcome stays unknown, the order is canceled (compensation).

use std::time::Duration;

use reqwest::{Method, StatusCode};
use serde::{Deserialize, Serialize};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};
use tokio::time::Instant;

use crate::{
    config::Config,
    downstream::{send, send_answer, Answer, Call, CallError},
    endpoint::Endpoint,
};

/// Body of `POST /orchestrator/create-and-confirm-order`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaRequest {
    pub customer_id: u64,
    pub items: Vec<SagaItem>,
    pub idempotency_key: String,
    #[serde(default)]
    pub correlation_id: Option<String>,
}

#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SagaItem {
    pub product_id: u64,
    pub qty: u32,
}

impl SagaRequest {
    /// What is wrong with the request, if anything.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let key_len = self.idempotency_key.chars().count();
        if !(1..=128).contains(&key_len) {
            problems.push("idempotency_key must be 1 to 128 characters".to_owned());
        }
        if self.customer_id == 0 {
            problems.push("customer_id must be a positive id".to_owned());
        }
        if self.items.is_empty() || self.items.len() > 100 {
            problems.push("items must hold 1 to 100 items".to_owned());
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.product_id == 0 {
                problems.push(format!("items[{i}].product_id must be a positive id"));
            }
            if !(1..=1_000_000).contains(&item.qty) {
                problems.push(format!("items[{i}].qty must be between 1 and 1000000"));
            }
        }
        problems
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    ValidateCustomer,
    CreateOrder,
    ConfirmOrder,
    FetchOrder,
    Compensate,
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
    pub code: &'static str,
    pub message: String,
    pub step: Option<Step>,
    pub retriable: bool,
    pub compensation: Option<Compensation>,
    /// Seconds to wait before retrying (`Retry-After`), when known.
    pub retry_after: Option<u64>,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>, step: Step) -> Self {
        Self {
            status,
            code,
            message: message.into(),
            step: Some(step),
            retriable: status.is_server_error(),
            compensation: None,
            retry_after: None,
        }
    }

    /// Another request with the same saga key owns this step and may still
    /// succeed: nothing is undone, and a retry settles to its outcome.
    fn in_progress(step: Step, e: &CallError) -> Self {
        let after = match e {
            CallError::Status {
                retry_after: Some(after),
                ..
            } => after.as_secs().max(1),
            _ => 1,
        };
        Self {
            status: StatusCode::CONFLICT,
            code: "saga_in_progress",
            message: "another request with this idempotency_key is running this saga; retry to get its outcome".into(),
            step: Some(step),
            retriable: true,
            compensation: None,
            retry_after: Some(after),
        }
    }
}

fn owned_elsewhere(e: &CallError) -> bool {
    e.code() == Some("idempotency_key_in_progress")
}

/// What a saga needs, built once per cold start.
pub struct Deps {
    pub config: Config,
    pub http: reqwest::Client,
    pub customers: Endpoint,
    pub orders: Endpoint,
}

impl Deps {
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        use crate::endpoint::EndpointSpec;
        let needs_ecs = matches!(config.customers, EndpointSpec::Ecs { .. })
            || matches!(config.orders, EndpointSpec::Ecs { .. });
        let ecs = if needs_ecs {
            let aws = match &config.aws {
                Some(aws) => aws.clone(),
                None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
            };
            Some(aws_sdk_ecs::Client::new(&aws))
        } else {
            None
        };
        Self::with_ecs(config, ecs)
    }

    pub fn with_ecs(config: Config, ecs: Option<aws_sdk_ecs::Client>) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self {
            customers: Endpoint::new(config.customers.clone(), ecs.clone()),
            orders: Endpoint::new(config.orders.clone(), ecs),
            config,
            http,
        })
    }
}

/// The orders-api keys of one saga: derived from the caller's subject and
/// key (hashed, so any characters are fine), one per write.
pub struct Keys {
    pub create: String,
    pub confirm: String,
    pub cancel: String,
}

impl Keys {
    pub fn derive(subject: &str, key: &str) -> Self {
        let mut h = Sha256::new();
        h.update(subject.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        let digest = hex::encode(h.finalize());
        let stem = &digest[..32];
        Self {
            create: format!("saga-{stem}-create"),
            confirm: format!("saga-{stem}-confirm"),
            cancel: format!("saga-{stem}-cancel"),
        }
    }
}

/// A downstream failure, as answered: what failed, never how (the log line,
/// under the same correlation id, has the details).
fn unavailable(step: Step, service: &str, e: &CallError) -> Failure {
    tracing::error!(step = ?step, service, error = %e, "downstream failure ends the saga");
    match e {
        CallError::Deadline => Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            "deadline_exceeded",
            format!("{service} did not answer before the deadline"),
            step,
        ),
        e if e.timed_out() => Failure::new(
            StatusCode::GATEWAY_TIMEOUT,
            "downstream_timeout",
            format!("{service} did not answer in time"),
            step,
        ),
        _ => Failure::new(
            StatusCode::BAD_GATEWAY,
            "service_unavailable",
            format!("{service} could not be reached or failed"),
            step,
        ),
    }
}

/// Runs the saga for the caller `subject` (the verified token's `sub`).
/// `deadline` is when the invocation must have answered.
pub async fn run(
    deps: &Deps,
    subject: &str,
    req: &SagaRequest,
    deadline: Instant,
) -> Result<Value, Failure> {
    let config = &deps.config;
    let now = Instant::now();
    let budget = deadline.saturating_duration_since(now);
    // Keep part of the budget for compensation.
    let forward = deadline
        .checked_sub(config.compensation_reserve.min(budget / 3))
        .unwrap_or(now);
    let keys = Keys::derive(subject, &req.idempotency_key);
    // orders-api calls: the service credential, acting for the caller.

    // 1. The customer exists.
    let customer = send(
        &deps.http,
        config,
        Call::new(
            "customers.get",
            &deps.customers,
            Method::GET,
            format!("/internal/customers/{}", req.customer_id),
            &config.service_token,
        ),
        forward,
    )
    .await
    .map_err(|e| match e.status() {
        Some(StatusCode::NOT_FOUND) => Failure::new(
            StatusCode::NOT_FOUND,
            "customer_not_found",
            format!("no customer with id {}", req.customer_id),
            Step::ValidateCustomer,
        ),
        _ => unavailable(Step::ValidateCustomer, "customers-api", &e),
    })?;
    tracing::debug!(
        step = "validate_customer",
        customer_id = req.customer_id,
        "saga step done"
    );

    // 2. The order, stock reserved.
    let body = json!({"customer_id": req.customer_id, "items": req.items});
    let created = send(
        &deps.http,
        config,
        Call::orders(
            "orders.create",
            deps,
            Method::POST,
            "/orders".into(),
            subject,
        )
        .idempotency_key(&keys.create)
        .body(&body),
        forward,
    )
    .await
    .map_err(|e| create_failure(&e))?;
    let order_id = created["id"].as_u64().ok_or_else(|| {
        Failure::new(
            StatusCode::BAD_GATEWAY,
            "service_unavailable",
            "orders-api answered without an order id",
            Step::CreateOrder,
        )
    })?;
    tracing::debug!(step = "create_order", order_id, "saga step done");

    // 3. Confirmed; on failure or doubt, canceled.
    let confirmed = send_answer(
        &deps.http,
        config,
        Call::orders(
            "orders.confirm",
            deps,
            Method::POST,
            format!("/orders/{order_id}/confirm"),
            subject,
        )
        .idempotency_key(&keys.confirm),
        forward,
    )
    .await;
    let confirmed = match confirmed {
        Ok(order) => order,
        Err(e) if owned_elsewhere(&e) => {
            // A twin (or an earlier attempt of ours still running on the
            // server) owns the confirm: it may yet succeed, so nothing is
            // canceled here.
            tracing::info!(
                step = "confirm_order",
                order_id,
                "confirm is in progress elsewhere; not compensating"
            );
            return Err(Failure::in_progress(Step::ConfirmOrder, &e));
        }
        Err(e) => {
            tracing::warn!(step = "confirm_order", order_id, error = %e, "confirm failed; compensating");
            let compensation = match compensate(deps, subject, order_id, &keys, deadline).await {
                Compensated::Confirmed(order) => {
                    // Confirmed after all (our lost attempt, or a twin): the
                    // order stands, and so does the answer.
                    tracing::info!(
                        step = "compensate",
                        order_id,
                        "the order was confirmed meanwhile; not cancelled"
                    );
                    let fresh = Answer {
                        body: order,
                        replayed: false,
                    };
                    return finish(deps, subject, &customer, order_id, fresh, deadline).await;
                }
                Compensated::Done => Compensation::Done,
                Compensated::Pending => Compensation::Pending,
            };
            if compensation == Compensation::Done {
                // Final, and the same for every replay of this key: the
                // order is canceled whatever made confirm fail (the log
                // line above, under the same correlation id, says what).
                return Err(Failure {
                    status: StatusCode::BAD_GATEWAY,
                    code: "order_cancelled",
                    message: format!(
                        "order {order_id} could not be confirmed and was cancelled; its stock is back"
                    ),
                    step: Some(Step::ConfirmOrder),
                    retriable: false,
                    compensation: Some(compensation),
                    retry_after: None,
                });
            }
            let mut failure = match &e {
                CallError::Status { status, code, .. } if status.is_client_error() => Failure::new(
                    StatusCode::BAD_GATEWAY,
                    "confirm_rejected",
                    format!(
                        "orders-api refused to confirm order {order_id} ({})",
                        code.as_deref().unwrap_or("-")
                    ),
                    Step::ConfirmOrder,
                ),
                _ => unavailable(Step::ConfirmOrder, "orders-api", &e),
            };
            failure.retriable = true;
            failure.compensation = Some(compensation);
            return Err(failure);
        }
    };
    tracing::debug!(step = "confirm_order", order_id, "saga step done");
    finish(deps, subject, &customer, order_id, confirmed, deadline).await
}

/// Answers with the confirmed order as it stands now: confirm's own answer
/// when it is fresh, else (a replay, stored earlier) the order read back.
async fn finish(
    deps: &Deps,
    subject: &str,
    customer: &Value,
    order_id: u64,
    confirmed: Answer,
    deadline: Instant,
) -> Result<Value, Failure> {
    let order = if !confirmed.replayed {
        confirmed.body
    } else {
        match get_order(deps, subject, order_id, deadline).await {
            Ok(order) => order,
            Err(e) => {
                // The confirmation's own answer is the order, confirmed.
                tracing::warn!(step = "fetch_order", order_id, error = %e, "read-back failed; answering from the confirmation");
                confirmed.body
            }
        }
    };
    if order["status"] != "CONFIRMED" {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "order_canceled",
            format!("order {order_id} was cancelled after this request first confirmed it"),
            Step::FetchOrder,
        ));
    }
    tracing::debug!(step = "fetch_order", order_id, "saga complete");
    Ok(json!({
        "customer": {
            "id": customer["id"], "name": customer["name"], "email": customer["email"], "phone": customer["phone"],
        },
        "order": {
            "id": order["id"], "customer_id": order["customer_id"], "status": order["status"],
            "total_cents": order["total_cents"], "items": order["items"],
            "created_by": order["created_by"],
        },
    }))
}

/// `GET /orders/{id}`, for the caller.
async fn get_order(
    deps: &Deps,
    subject: &str,
    order_id: u64,
    deadline: Instant,
) -> Result<Value, CallError> {
    send(
        &deps.http,
        &deps.config,
        Call::orders(
            "orders.get",
            deps,
            Method::GET,
            format!("/orders/{order_id}"),
            subject,
        ),
        deadline,
    )
    .await
}

fn create_failure(e: &CallError) -> Failure {
    let detail = |fallback: &str| match e {
        CallError::Status {
            detail: Some(d), ..
        } => d.clone(),
        _ => fallback.to_owned(),
    };
    match (e.status(), e.code()) {
        (Some(StatusCode::CONFLICT), Some("insufficient_stock")) => Failure::new(
            StatusCode::CONFLICT,
            "insufficient_stock",
            detail("not enough stock"),
            Step::CreateOrder,
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some("product_not_found")) => Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "product_not_found",
            detail("a product does not exist"),
            Step::CreateOrder,
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some("idempotency_key_reused")) => Failure::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            "idempotency_key_reused",
            "this idempotency_key was already used with a different request",
            Step::CreateOrder,
        ),
        (Some(StatusCode::UNPROCESSABLE_ENTITY), Some("customer_not_found")) => Failure::new(
            StatusCode::NOT_FOUND,
            "customer_not_found",
            detail("the customer does not exist"),
            Step::CreateOrder,
        ),
        (Some(StatusCode::CONFLICT), Some("idempotency_key_in_progress")) => {
            Failure::in_progress(Step::CreateOrder, e)
        }
        (Some(StatusCode::BAD_REQUEST), _) => Failure::new(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            detail("orders-api refused the order"),
            Step::CreateOrder,
        ),
        _ => {
            let mut failure = unavailable(Step::CreateOrder, "orders-api", e);
            // An order may exist that nobody will confirm: the reservation
            // sweeper releases its stock when its TTL runs out.
            if e.outcome_unknown() {
                failure.compensation = Some(Compensation::Pending);
            }
            failure
        }
    }
}

/// What compensation found.
enum Compensated {
    /// The order is canceled; its stock is back.
    Done,
    /// Unknown: the reservation sweeper releases the stock later.
    Pending,
    /// The order had been confirmed (by a twin, or by an attempt of ours
    /// whose answer was lost): it is left as it is.
    Confirmed(Value),
}

/// Cancels the order only while nobody has confirmed it (`If-Match:
/// "CREATED"`), idempotently, with retries, until `deadline`. A confirmed
/// order is never canceled by a saga: some request may have answered 201
/// for it.
async fn compensate(
    deps: &Deps,
    subject: &str,
    order_id: u64,
    keys: &Keys,
    deadline: Instant,
) -> Compensated {
    let cancelled = send(
        &deps.http,
        &deps.config,
        Call::orders(
            "orders.cancel",
            deps,
            Method::POST,
            format!("/orders/{order_id}/cancel"),
            subject,
        )
        .if_match("\"CREATED\"")
        .idempotency_key(&keys.cancel),
        deadline,
    )
    .await;
    let order = match cancelled {
        Ok(order) => order,
        Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => {
            // No longer CREATED: see what it is.
            match get_order(deps, subject, order_id, deadline).await {
                Ok(order) => order,
                Err(e) => {
                    tracing::error!(step = "compensate", order_id, error = %e, "could not read the order back; the reservation sweeper will release it if it is still held");
                    return Compensated::Pending;
                }
            }
        }
        Err(e) => {
            tracing::error!(step = "compensate", order_id, error = %e, "compensation failed; the reservation sweeper will release the stock");
            return Compensated::Pending;
        }
    };
    match order["status"].as_str() {
        Some("CANCELED") => {
            tracing::info!(
                step = "compensate",
                order_id,
                "order cancelled; stock restored"
            );
            Compensated::Done
        }
        Some("CONFIRMED") => Compensated::Confirmed(order),
        _ => {
            tracing::error!(step = "compensate", order_id, status = %order["status"], "the order is neither cancelled nor confirmed");
            Compensated::Pending
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_distinct_and_safe_for_any_input() {
        let a = Keys::derive("alice", "abc-124");
        let b = Keys::derive("alice", "abc-124");
        assert_eq!(a.create, b.create);
        assert_ne!(a.create, Keys::derive("alice", "abc-125").create);
        assert_ne!(a.create, Keys::derive("bob", "abc-124").create);
        // No ambiguity between the subject and the key.
        assert_ne!(
            Keys::derive("ab", "c").create,
            Keys::derive("a", "bc").create
        );
        assert_ne!(a.create, a.confirm);
        let odd = Keys::derive("alice", "ключ with spaces ✓");
        assert!(odd.cancel.bytes().all(|b| b.is_ascii_graphic()));
        assert!(odd.cancel.len() <= 255);
    }

    #[test]
    fn request_problems_are_listed() {
        let req = SagaRequest {
            customer_id: 0,
            items: vec![SagaItem {
                product_id: 0,
                qty: 0,
            }],
            idempotency_key: "x".repeat(129),
            correlation_id: None,
        };
        assert_eq!(req.problems().len(), 4);
        let ok = SagaRequest {
            customer_id: 1,
            items: vec![SagaItem {
                product_id: 2,
                qty: 3,
            }],
            idempotency_key: "é".repeat(128),
            correlation_id: None,
        };
        assert!(ok.problems().is_empty());
    }
}
