//! The create-and-confirm saga: validate the customer → create the order →
//! confirm it → answer with the order as it stands. Both writes carry
//! idempotency keys derived from the caller's key, so the whole saga can be
//! sent again (concurrently, or an hour later) without a second order. Keys
//! belong to their caller: the same key from two callers is two sagas. When
//! confirm fails for good or its outcome stays unknown, the order is
//! canceled (compensation), unless someone confirmed it meanwhile.
//!
//! Each step is one method of [`Saga`]: its request, and what its failure
//! means ([`failure`]). Adding a step is adding a method and a line to
//! [`run`].

pub mod failure;
pub mod request;

use contracts::{Customer, Order, OrderId, OrderInput, OrderStatus};
use kit_client::{Answer, CallError, Client, Request};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

use self::failure::{create_failure, lookup_failure};
pub use self::{
    failure::{Compensation, Failure, SagaCode, Step},
    request::{Keys, SagaRequest},
};
use crate::{config::Config, endpoint::Endpoint};

/// What a saga needs, built once per cold start: the client, where the
/// two APIs are, its own credential for customers-api, and the share of
/// its budget kept for compensation. Nothing of the function's HTTP edge
/// (the callers' verifier, the console) is here.
pub struct Deps {
    pub client: Client,
    pub customers: Endpoint,
    pub orders: Endpoint,
    /// The orchestrator's own token for customers-api's `/internal/*`.
    pub service_token: String,
    /// Kept for compensation out of each saga's budget.
    pub compensation_reserve: std::time::Duration,
}

impl Deps {
    /// From the settings, with the ECS client service discovery uses (when
    /// an API is found through ECS).
    pub fn new(config: &Config, ecs: Option<aws_sdk_ecs::Client>) -> anyhow::Result<Self> {
        Ok(Self {
            client: Client::new(config.retry)?,
            customers: Endpoint::new(config.customers.clone(), ecs.clone()),
            orders: Endpoint::new(config.orders.clone(), ecs),
            service_token: config.service_token.clone(),
            compensation_reserve: config.compensation_reserve,
        })
    }
}

/// What a saga that succeeded ends with: the customer, as customers-api
/// knows it, and the order, confirmed, as it stands.
#[derive(Debug)]
pub struct Completed {
    pub customer: Customer,
    pub order: Order,
    /// The order was made by an earlier run of this saga (same caller,
    /// same key): this run ordered nothing.
    pub replayed: bool,
}

/// Who runs a saga: the verified token's `sub`, and the token itself,
/// relayed to orders-api so that its checks and `created_by` are the
/// caller's own.
pub struct Caller {
    pub subject: String,
    pub token: String,
}

impl std::fmt::Debug for Caller {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Caller")
            .field("subject", &self.subject)
            .field("token", &"<redacted>")
            .finish()
    }
}

/// Runs the saga for `caller`. `deadline` is when the invocation must have
/// answered.
pub async fn run(
    deps: &Deps,
    caller: &Caller,
    req: &SagaRequest,
    deadline: Instant,
) -> Result<Completed, Failure> {
    let saga = Saga::new(deps, caller, req, deadline);
    let customer = saga.validate_customer().await?;
    let created = saga.create_order().await?;
    let (order_id, replayed) = (created.body.id, created.replayed);
    let confirmed = match saga.confirm_order(order_id).await {
        Ok(confirmed) => confirmed,
        Err(e) => saga.compensate(order_id, e).await?,
    };
    let order = saga.current(confirmed).await?;
    tracing::debug!(order_id = order_id.get(), "saga complete");
    Ok(Completed {
        customer,
        order,
        replayed,
    })
}

/// One run of the saga: who for, with which keys, and until when.
struct Saga<'a> {
    deps: &'a Deps,
    caller: &'a Caller,
    req: &'a SagaRequest,
    keys: Keys,
    /// Forward steps end here; the rest of the budget is compensation's.
    forward: Instant,
    deadline: Instant,
}

impl<'a> Saga<'a> {
    fn new(deps: &'a Deps, caller: &'a Caller, req: &'a SagaRequest, deadline: Instant) -> Self {
        let now = Instant::now();
        let budget = deadline.saturating_duration_since(now);
        let reserve = deps.compensation_reserve.min(budget / 3);
        Self {
            deps,
            caller,
            req,
            keys: Keys::derive(&caller.subject, &req.idempotency_key),
            forward: deadline.checked_sub(reserve).unwrap_or(now),
            deadline,
        }
    }

    /// A request to orders-api with the caller's own token.
    fn to_orders(&self, name: &'static str, method: Method, path: String) -> Request<'_> {
        Request::new(name, method, path, &self.caller.token)
    }

    /// Step 1: the customer exists (the one call with the orchestrator's own
    /// service token: no user may call `/internal/*`).
    async fn validate_customer(&self) -> Result<Customer, Failure> {
        let id = self.req.customer_id;
        let req = Request::new(
            "customers.get",
            Method::GET,
            format!("/internal/customers/{id}"),
            &self.deps.service_token,
        );
        let customer = self
            .deps
            .client
            .send(&self.deps.customers, &req, self.forward)
            .await;
        let customer = customer.map_err(|e| lookup_failure(id, &e))?.body;
        tracing::debug!(
            step = "validate_customer",
            customer_id = id.get(),
            "saga step done"
        );
        Ok(customer)
    }

    /// Step 2: the order, its stock reserved.
    async fn create_order(&self) -> Result<Answer<Order>, Failure> {
        let body = OrderInput {
            customer_id: self.req.customer_id,
            items: self.req.items.clone(),
        };
        let req = self
            .to_orders("orders.create", Method::POST, "/orders".into())
            .idempotency_key(&self.keys.create)
            .json(&body);
        let created = self
            .deps
            .client
            .send(&self.deps.orders, &req, self.forward)
            .await;
        let created: Answer<Order> = created.map_err(|e| create_failure(&e))?;
        tracing::debug!(
            step = "create_order",
            order_id = created.body.id.get(),
            replayed = created.replayed,
            "saga step done"
        );
        Ok(created)
    }

    /// Step 3: the order confirmed.
    async fn confirm_order(&self, order_id: OrderId) -> Result<Answer<Order>, CallError> {
        let path = format!("/orders/{order_id}/confirm");
        let req = self
            .to_orders("orders.confirm", Method::POST, path)
            .idempotency_key(&self.keys.confirm);
        let confirmed = self
            .deps
            .client
            .send(&self.deps.orders, &req, self.forward)
            .await?;
        tracing::debug!(
            step = "confirm_order",
            order_id = order_id.get(),
            "saga step done"
        );
        Ok(confirmed)
    }

    /// Step 3 failed (`cause`): cancel the order, unless a twin owns the
    /// confirm (it may yet succeed) or the order was confirmed after all
    /// (then the saga goes on with it).
    async fn compensate(
        &self,
        order_id: OrderId,
        cause: CallError,
    ) -> Result<Answer<Order>, Failure> {
        if cause.code() == Some(contracts::Code::IdempotencyKeyInProgress) {
            tracing::info!(
                step = "confirm_order",
                order_id = order_id.get(),
                "confirm is in progress elsewhere; not compensating"
            );
            return Err(Failure::in_progress(Step::ConfirmOrder, &cause));
        }
        tracing::warn!(step = "confirm_order", order_id = order_id.get(), error = %cause, "confirm failed; compensating");
        match self.cancel(order_id).await {
            Settled::Canceled => Err(Failure::compensated(order_id)),
            Settled::Unknown => Err(Failure::confirm_unsettled(order_id, &cause)),
            Settled::Confirmed(order) => {
                // Our lost attempt, or a twin: the order stands, and so does the answer.
                tracing::info!(
                    step = "compensate",
                    order_id = order_id.get(),
                    "the order was confirmed meanwhile; not canceled"
                );
                Ok(Answer {
                    body: *order,
                    replayed: false,
                })
            }
        }
    }

    /// Cancels the order only while nobody has confirmed it (`If-Match:
    /// "CREATED"`), idempotently, with retries, until the deadline. A
    /// confirmed order is never canceled by a saga: some request may have
    /// answered 201 for it.
    async fn cancel(&self, order_id: OrderId) -> Settled {
        let path = format!("/orders/{order_id}/cancel");
        let req = self
            .to_orders("orders.cancel", Method::POST, path)
            .if_match("\"CREATED\"")
            .idempotency_key(&self.keys.cancel);
        let order = match self
            .deps
            .client
            .send(&self.deps.orders, &req, self.deadline)
            .await
        {
            Ok(answer) => answer.body,
            // No longer CREATED: see what it is.
            Err(e) if e.status() == Some(StatusCode::PRECONDITION_FAILED) => {
                match self.get_order(order_id).await {
                    Ok(order) => order,
                    Err(e) => {
                        tracing::error!(step = "compensate", order_id = order_id.get(), error = %e, "could not read the order back; the reservation sweeper will release it if it is still held");
                        return Settled::Unknown;
                    }
                }
            }
            Err(e) => {
                tracing::error!(step = "compensate", order_id = order_id.get(), error = %e, "compensation failed; the reservation sweeper will release the stock");
                return Settled::Unknown;
            }
        };
        Settled::of(order)
    }

    /// Step 4: the confirmed order as it stands now, confirm's own answer
    /// when fresh, else (a replay, stored earlier) the order read back.
    async fn current(&self, confirmed: Answer<Order>) -> Result<Order, Failure> {
        let order_id = confirmed.body.id;
        let order = if !confirmed.replayed {
            confirmed.body
        } else {
            match self.get_order(order_id).await {
                Ok(order) => order,
                Err(e) => {
                    // The confirmation's own answer is the order, confirmed.
                    tracing::warn!(step = "fetch_order", order_id = order_id.get(), error = %e, "read-back failed; answering from the confirmation");
                    confirmed.body
                }
            }
        };
        if order.status != OrderStatus::Confirmed {
            return Err(Failure::canceled_since(order_id));
        }
        Ok(order)
    }

    /// `GET /orders/{id}`, for the caller.
    async fn get_order(&self, order_id: OrderId) -> Result<Order, CallError> {
        let req = self.to_orders("orders.get", Method::GET, format!("/orders/{order_id}"));
        Ok(self
            .deps
            .client
            .send(&self.deps.orders, &req, self.deadline)
            .await?
            .body)
    }
}

/// Where compensation left the order.
enum Settled {
    /// Canceled; its stock is back.
    Canceled,
    /// Unknown: the reservation sweeper releases the stock later.
    Unknown,
    /// Confirmed (by a twin, or by an attempt of ours whose answer was
    /// lost): it is left as it is.
    Confirmed(Box<Order>),
}

impl Settled {
    fn of(order: Order) -> Self {
        let id = order.id;
        match order.status {
            OrderStatus::Confirmed => Self::Confirmed(Box::new(order)),
            OrderStatus::Canceled => {
                tracing::info!(
                    step = "compensate",
                    order_id = id.get(),
                    "order canceled; stock restored"
                );
                Self::Canceled
            }
            OrderStatus::Created => {
                tracing::error!(
                    step = "compensate",
                    order_id = id.get(),
                    "the order is neither canceled nor confirmed"
                );
                Self::Unknown
            }
        }
    }
}
