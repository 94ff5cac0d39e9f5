//! The database ceiling: the SQL of one saga, run straight against MySQL with
//! no HTTP, through the services' own functions, in the order the saga runs
//! them:
//!
//! 1. the orchestrator's customer check (customers-api: one SELECT);
//! 2. the create: a stored answer for the key looked up, orders-api's own
//!    customer check (customers-api: one SELECT) with no transaction open,
//!    then one transaction: the key claimed, products locked in id order,
//!    stock reserved, order and items written, the answer stored, COMMIT;
//! 3. the confirm transaction: the key claimed, the order locked and
//!    confirmed, the answer stored, COMMIT.
//!
//! The saga reads the order back only when confirm's answer is a replay,
//! which a unique key never is.

use actix_web::http::StatusCode;
use anyhow::anyhow;
use orders_api::{
    domain::{NewOrder, OrderInput, OrderItemInput},
    idempotency::{self, Idem, Outcome, Reply},
    store::{self, orders, Tx, TxError},
};
use service_kit::problem::ApiError;
use sqlx::MySqlPool;

async fn customer_exists(pool: &MySqlPool, customer_id: u64) -> Result<(), TxError> {
    customers_api::store::find(pool, customer_id)
        .await?
        .map(|_| ())
        .ok_or_else(|| ApiError::internal(anyhow!("customer {customer_id} is missing")).into())
}

/// One saga's worth of SQL. `key` must be unique per call.
pub async fn saga_sql(
    pool: &MySqlPool,
    customer_id: u64,
    items: &[(u64, u32)],
    key: &str,
) -> anyhow::Result<()> {
    customer_exists(pool, customer_id)
        .await
        .map_err(|e| api(e.into()))?;

    let input = OrderInput {
        customer_id,
        items: items
            .iter()
            .map(|&(product_id, qty)| OrderItemInput { product_id, qty })
            .collect(),
    };
    let canonical = serde_json::to_vec(&input)?;
    let new = NewOrder::try_from(input).map_err(|e| anyhow!("invalid order: {e:?}"))?;
    let idem = Idem::new(
        "create_order",
        "bench",
        format!("{key}-create"),
        "",
        &canonical,
    );
    // As orders-api creates: a stored answer first, then the customer with
    // no transaction open, then one transaction.
    if idempotency::stored(pool, &idem)
        .await
        .map_err(api)?
        .is_some()
    {
        return Err(anyhow!("key {key} was used before"));
    }
    customer_exists(pool, customer_id)
        .await
        .map_err(|e| api(e.into()))?;
    let at = store::now();
    let outcome = idempotency::run(pool, Some(&idem), async |tx: &mut Tx| {
        orders::create(tx, &new, "bench", at).await
    })
    .await
    .map_err(api)?;
    let Outcome::Done(tx, order) = outcome else {
        return Err(anyhow!("key {key} was used before"));
    };
    let reply = Reply::json(StatusCode::CREATED, &order)
        .map_err(api)?
        .with_location(format!("/orders/{}", order.id));
    idempotency::commit(tx, Some(&idem), &reply)
        .await
        .map_err(api)?;

    let id = order.id;
    let idem = Idem::new(
        "confirm_order",
        "bench",
        format!("{key}-confirm"),
        &id.to_string(),
        b"",
    );
    let at = store::now();
    let outcome = idempotency::run(pool, Some(&idem), async |tx: &mut Tx| {
        orders::confirm(tx, id, at).await
    })
    .await
    .map_err(api)?;
    let Outcome::Done(tx, (confirmed, _)) = outcome else {
        return Err(anyhow!("key {key} was used before"));
    };
    let reply = Reply::json(StatusCode::OK, &confirmed).map_err(api)?;
    idempotency::commit(tx, Some(&idem), &reply)
        .await
        .map_err(api)?;
    Ok(())
}

fn api(e: service_kit::problem::ApiError) -> anyhow::Error {
    anyhow!("{} {}", e.status(), e.code())
}
