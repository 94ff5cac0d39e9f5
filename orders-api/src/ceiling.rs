//! The database ceiling of `make bench`: one saga's create and confirm as
//! the handlers of `/orders` run them (the same functions, in the same
//! order), without HTTP. The benchmark compares the full stack with it.

use anyhow::anyhow;
use service_kit::events::Stamp;
use sqlx::MySqlPool;

use crate::{
    domain::{CustomerId, IdempotencyKey, NewOrder, OrderId, OrderInput, OrderLimits},
    idempotency::{self, Idem, Outcome},
    routes::idempotent,
    store::{self, orders, Tx, TxError},
};

/// Creates an order for `subject` as `POST /orders` does: a stored answer
/// for `key` looked up, `customer_exists` asked with no transaction open,
/// then one transaction (the key claimed, products locked in id order, stock
/// reserved, order and items written, the answer stored). Returns the
/// order's id; a key used before is an error.
pub async fn create_order(
    pool: &MySqlPool,
    subject: &str,
    input: OrderInput,
    key: &str,
    customer_exists: impl AsyncFn(CustomerId) -> anyhow::Result<bool>,
) -> anyhow::Result<OrderId> {
    let customer_id = input.customer_id;
    let canonical = serde_json::to_vec(&input)?;
    let new = NewOrder::try_from(input).map_err(|e| anyhow!("invalid order: {e:?}"))?;
    let idem = Idem::new("create_order", subject, parse_key(key)?, "", &canonical);
    if idempotency::stored(pool, &idem)
        .await
        .map_err(tx)?
        .is_some()
    {
        return Err(anyhow!("key {key} was used before"));
    }
    if !customer_exists(customer_id).await? {
        return Err(anyhow!("customer {customer_id} is missing"));
    }
    let at = store::now();
    let outcome = idempotency::run(pool, Some(&idem), async |t: &mut Tx| {
        let stamp = Stamp {
            actor: subject,
            idempotency_key: Some(key),
            at,
        };
        orders::create(t, &new, &stamp, &OrderLimits::default()).await
    })
    .await
    .map_err(|e| anyhow!("create failed: {e:?}"))?;
    let Outcome::Done(t, order) = outcome else {
        return Err(anyhow!("key {key} was used before"));
    };
    let answer = idempotent::json(actix_web::http::StatusCode::CREATED, &order)
        .map_err(|e| anyhow!("{e}"))?
        .with_location(format!("/orders/{}", order.id));
    idempotency::commit(t, Some(&idem), &answer).await?;
    Ok(order.id)
}

/// Confirms order `id` as `POST /orders/{id}/confirm` does: one transaction
/// (the key claimed, the order locked and confirmed, the answer stored).
pub async fn confirm_order(
    pool: &MySqlPool,
    subject: &str,
    id: OrderId,
    key: &str,
) -> anyhow::Result<()> {
    let idem = Idem::new(
        "confirm_order",
        subject,
        parse_key(key)?,
        &id.to_string(),
        b"",
    );
    let stamp = Stamp {
        actor: subject,
        idempotency_key: Some(key),
        at: store::now(),
    };
    let outcome = idempotency::run(pool, Some(&idem), async |t: &mut Tx| {
        orders::confirm(t, id, &stamp).await
    })
    .await
    .map_err(|e| anyhow!("confirm failed: {e:?}"))?;
    let Outcome::Done(t, (confirmed, _)) = outcome else {
        return Err(anyhow!("key {key} was used before"));
    };
    let answer = idempotent::json(actix_web::http::StatusCode::OK, &confirmed)
        .map_err(|e| anyhow!("{e}"))?;
    idempotency::commit(t, Some(&idem), &answer).await?;
    Ok(())
}

fn parse_key(key: &str) -> anyhow::Result<IdempotencyKey> {
    IdempotencyKey::parse(key).ok_or_else(|| anyhow!("invalid idempotency key {key:?}"))
}

fn tx(e: TxError) -> anyhow::Error {
    anyhow!("{e:?}")
}
