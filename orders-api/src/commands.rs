//! Creating, confirming and canceling an order, each as one sequence: what
//! `POST /orders`, `POST /orders/{id}/confirm` and `POST /orders/{id}/cancel`
//! run, and what the benchmark's database ceiling runs without HTTP
//! ([`crate::ceiling`]), so the ceiling cannot drift from what it measures.
//! The handlers read the request into a command's arguments and turn what
//! it [`Ended`] with into a response.

use std::time::Duration;

use actix_web::http::StatusCode;
use kit_server::{conditional::IfMatch, deadline, events::Stamp, problem::ApiError};
use sqlx::MySqlPool;

use crate::{
    codes::OrdersCode,
    domain::{CustomerId, NewOrder, OrderError, OrderId, OrderInput, OrderLimits, Right},
    idempotency::{self, http, Answer, Idem, IdempotencyKey, Outcome},
    metrics::OrderCounters,
    store::{self, orders, orders::Order, Tx, TxError},
};

/// How a command ended; each way has the answer to send.
#[derive(Debug)]
pub enum Ended<T> {
    /// It ran: what it made, and its answer (stored under the key).
    Done(T, Answer),
    /// The key's stored answer, sent again.
    Replayed(Answer),
    /// A final refusal, stored under the key.
    Refused(Answer),
}

/// Who asks, under which idempotency key.
#[derive(Clone, Copy, Debug)]
pub struct Caller<'a> {
    pub actor: &'a str,
    pub key: Option<&'a IdempotencyKey>,
}

impl Caller<'_> {
    fn stamp(&self) -> Stamp<'_> {
        Stamp {
            actor: self.actor,
            idempotency_key: self.key.map(IdempotencyKey::as_str),
            at: store::now(),
        }
    }
}

/// What the order commands share: the limits of one order and the counters.
pub struct Orders<'a> {
    pub pool: &'a MySqlPool,
    pub limits: &'a OrderLimits,
    pub counters: &'a OrderCounters,
}

impl Orders<'_> {
    /// A stored answer, sent again.
    fn replayed<T>(&self, scope: &'static str, answer: Answer) -> Ended<T> {
        self.counters.replays.inc();
        tracing::info!(scope, "idempotent replay");
        Ended::Replayed(answer)
    }

    /// Creates an order in three phases, with no network call while a
    /// transaction is open (a slow customers-api must not hold a database
    /// connection): a stored answer for the key is replayed at once,
    /// whatever changed since; then `customer` says whether the customer
    /// exists (`Some(refusal)` if not), outside any transaction; then one
    /// short transaction claims the key (a twin waits on it, then replays),
    /// locks the products in id order, reserves the stock, writes the order
    /// as CREATED and stores the answer. An unknown customer is a final
    /// answer, stored under the key; `customer` failing is not (the key
    /// stays free for a retry).
    pub async fn create(
        &self,
        caller: Caller<'_>,
        input: OrderInput,
        customer: impl AsyncFn(CustomerId) -> Result<Option<OrderError>, ApiError>,
    ) -> Result<Ended<Order>, ApiError> {
        let canonical =
            serde_json::to_vec(&input).map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
        let new = NewOrder::try_from(input).map_err(ApiError::from)?;
        let idem = caller
            .key
            .map(|key| Idem::new("create_order", caller.actor, key.clone(), "", &canonical));
        if let Some(idem) = &idem {
            if let Some(answer) = idempotency::stored(self.pool, idem).await? {
                return Ok(self.replayed("create_order", answer));
            }
        }
        if deadline::passed() {
            return Err(deadline::expired());
        }
        let mut refusal = customer(new.customer_id).await?;
        let stamp = caller.stamp();
        let outcome = http::run(self.pool, idem.as_ref(), async |tx: &mut Tx| {
            if let Some(e) = refusal.take() {
                return Err(e.into());
            }
            let created = orders::create(tx, &new, &stamp, self.limits).await;
            if let Err(TxError::Order(OrderError::InsufficientStock { .. })) = &created {
                self.counters.stock_conflicts.inc();
            }
            created
        })
        .await?;
        match outcome {
            Outcome::Done(tx, order) => {
                let answer = http::json(StatusCode::CREATED, &order)?
                    .with_location(format!("/orders/{}", order.id));
                idempotency::commit(tx, idem.as_ref(), &answer).await?;
                self.counters.created.inc();
                tracing::debug!(
                    order_id = order.id.get(),
                    total_cents = order.total_cents,
                    "order created"
                );
                Ok(Ended::Done(order, answer))
            }
            Outcome::Replay(answer) => Ok(self.replayed("create_order", answer)),
            Outcome::Refused(answer) => Ok(Ended::Refused(answer)),
        }
    }

    /// Confirms a CREATED order in one transaction (the key claimed, the
    /// order locked and confirmed, the answer stored). Needs a key. A
    /// CONFIRMED order stays as it is; a CANCELED one is `invalid_state`.
    pub async fn confirm(&self, caller: Caller<'_>, id: OrderId) -> Result<Ended<Order>, ApiError> {
        if caller.key.is_none() {
            return Err(ApiError::bad_request(
                OrdersCode::IdempotencyKeyMissing,
                "this endpoint needs an Idempotency-Key (or X-Idempotency-Key) header",
            ));
        }
        let on_change = |counters: &OrderCounters| {
            counters.confirmed.inc();
            tracing::debug!(order_id = id.get(), "order confirmed");
        };
        self.transition(
            "confirm_order",
            caller,
            id.to_string(),
            on_change,
            async |tx, stamp| orders::confirm(tx, id, stamp).await,
        )
        .await
    }

    /// Cancels an order and restores its stock: CREATED at any time,
    /// CONFIRMED within `window` of its confirmation, if `if_match` (read
    /// from `raw_if_match`) allows; CANCELED stays as it is. `right` is the
    /// caller's over it.
    pub async fn cancel(
        &self,
        caller: Caller<'_>,
        id: OrderId,
        window: Duration,
        if_match: Option<(IfMatch, &[u8])>,
        right: Right<'_>,
    ) -> Result<Ended<Order>, ApiError> {
        // The same key with another precondition is another request.
        let target = match &if_match {
            None => id.to_string(),
            Some((_, raw)) => format!("{id}\u{0}{}", String::from_utf8_lossy(raw)),
        };
        let on_change = |counters: &OrderCounters| {
            counters.canceled.inc();
            tracing::info!(order_id = id.get(), "order canceled; stock restored");
        };
        let precondition = if_match.map(|(m, _)| m);
        self.transition(
            "cancel_order",
            caller,
            target,
            on_change,
            async |tx, stamp| {
                orders::cancel(tx, id, stamp, window, precondition.as_ref(), right).await
            },
        )
        .await
    }

    /// A state change of one order, idempotent when a key is given: `work`
    /// says what the order is now and whether it changed.
    async fn transition(
        &self,
        scope: &'static str,
        caller: Caller<'_>,
        target: String,
        on_change: impl Fn(&OrderCounters),
        mut work: impl AsyncFnMut(&mut Tx, &Stamp<'_>) -> Result<(Order, bool), TxError>,
    ) -> Result<Ended<Order>, ApiError> {
        let stamp = caller.stamp();
        let idem = caller
            .key
            .map(|key| Idem::new(scope, caller.actor, key.clone(), &target, b""));
        let outcome = http::run(self.pool, idem.as_ref(), async |tx: &mut Tx| {
            work(tx, &stamp).await
        })
        .await?;
        match outcome {
            Outcome::Done(tx, (order, changed)) => {
                let answer = http::json(StatusCode::OK, &order)?;
                idempotency::commit(tx, idem.as_ref(), &answer).await?;
                if changed {
                    on_change(self.counters);
                }
                Ok(Ended::Done(order, answer))
            }
            Outcome::Replay(answer) => Ok(self.replayed(scope, answer)),
            Outcome::Refused(answer) => Ok(Ended::Refused(answer)),
        }
    }
}
