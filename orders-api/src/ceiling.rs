//! The database ceiling of `make bench`: one saga's create and confirm
//! without HTTP, through the very commands the handlers of `/orders` run
//! ([`crate::commands`]), so the ceiling cannot drift from what it measures.
//! The benchmark compares the full stack with it.

use std::sync::LazyLock;

use anyhow::anyhow;
use kit_server::ops::Metrics;
use sqlx::MySqlPool;

use crate::{
    commands::{Caller, Ended, Orders},
    domain::{CustomerId, OrderError, OrderId, OrderInput, OrderLimits},
    idempotency::IdempotencyKey,
    metrics::OrderCounters,
};

/// The counters the commands keep, in a registry of the ceiling's own.
static COUNTERS: LazyLock<Option<OrderCounters>> = LazyLock::new(|| {
    Metrics::new("ceiling")
        .and_then(|m| OrderCounters::register(&m))
        .ok()
});

fn orders(pool: &MySqlPool) -> anyhow::Result<Orders<'_>> {
    static LIMITS: LazyLock<OrderLimits> = LazyLock::new(OrderLimits::default);
    let counters = COUNTERS
        .as_ref()
        .ok_or_else(|| anyhow!("the ceiling's counters could not be registered"))?;
    Ok(Orders {
        pool,
        limits: &LIMITS,
        counters,
    })
}

/// Creates an order for `subject` as `POST /orders` does, with
/// `customer_exists` in place of the call to customers-api. Returns the
/// order's id; a replay or a refusal is an error.
pub async fn create_order(
    pool: &MySqlPool,
    subject: &str,
    input: OrderInput,
    key: &str,
    customer_exists: impl AsyncFn(CustomerId) -> anyhow::Result<bool>,
) -> anyhow::Result<OrderId> {
    let key = parse_key(key)?;
    let caller = Caller {
        actor: subject,
        key: Some(&key),
    };
    let customer = async |id| match customer_exists(id).await {
        Ok(true) => Ok(None),
        Ok(false) => Ok(Some(OrderError::CustomerNotFound { id })),
        Err(e) => Err(kit_server::problem::ApiError::internal(e)),
    };
    match orders(pool)?.create(caller, input, customer).await {
        Ok(Ended::Done(order, _)) => Ok(order.id),
        Ok(other) => Err(anyhow!("the create did not run: {other:?}")),
        Err(e) => Err(anyhow!("create failed: {e}")),
    }
}

/// Confirms order `id` as `POST /orders/{id}/confirm` does.
pub async fn confirm_order(
    pool: &MySqlPool,
    subject: &str,
    id: OrderId,
    key: &str,
) -> anyhow::Result<()> {
    let key = parse_key(key)?;
    let caller = Caller {
        actor: subject,
        key: Some(&key),
    };
    match orders(pool)?.confirm(caller, id).await {
        Ok(Ended::Done(..)) => Ok(()),
        Ok(other) => Err(anyhow!("the confirm did not run: {other:?}")),
        Err(e) => Err(anyhow!("confirm failed: {e}")),
    }
}

fn parse_key(key: &str) -> anyhow::Result<IdempotencyKey> {
    IdempotencyKey::parse(key).ok_or_else(|| anyhow!("invalid idempotency key {key:?}"))
}
