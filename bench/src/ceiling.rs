//! The database ceiling: the SQL of one saga, run straight against MySQL with
//! no HTTP, through the services' own store functions, in the order the saga
//! runs them:
//!
//! 1. the orchestrator's customer check (customers-api: one SELECT);
//! 2. orders-api claims the create key (INSERT);
//! 3. orders-api's own customer check (customers-api: one SELECT);
//! 4. the create transaction: products locked in id order, stock reserved,
//!    order and items written, the answer stored, COMMIT;
//! 5. the confirm key claimed, the confirm transaction with its stored answer;
//! 6. the read-back (order and items).

use actix_web::http::StatusCode;
use anyhow::{anyhow, Context};
use orders_api::{
    domain::{NewOrder, OrderInput},
    idempotency::{self, Claim, Idem, Reply},
    store::{self, orders, Tx},
};
use sqlx::MySqlPool;

/// The idempotency lease, as orders-api configures it by default.
const LEASE: std::time::Duration =
    std::time::Duration::from_secs(orders_api::config::DEFAULT_IDEMPOTENCY_LEASE_SECS);

/// One saga's worth of SQL. `key` must be unique per call.
pub async fn saga_sql(
    pool: &MySqlPool,
    customer_id: u64,
    items: &[(u64, u32)],
    key: &str,
) -> anyhow::Result<()> {
    customers_api::store::find(pool, customer_id)
        .await?
        .ok_or_else(|| anyhow!("customer {customer_id} is missing"))?;

    let input: OrderInput = serde_json::from_value(serde_json::json!({
        "customer_id": customer_id,
        "items": items.iter().map(|(p, q)| serde_json::json!({"product_id": p, "qty": q})).collect::<Vec<_>>(),
    }))?;
    let canonical = serde_json::to_vec(&input)?;
    let new = NewOrder::try_from(input).map_err(|e| anyhow!("invalid order: {e:?}"))?;
    let create_key = format!("{key}-create");
    let lease = match idempotency::claim(
        pool,
        &Idem::new("create_order", "bench", create_key, "", &canonical),
        LEASE,
    )
    .await
    .map_err(api)?
    {
        Claim::Proceed(lease) => lease,
        Claim::Replay(_) => return Err(anyhow!("key {key} was used before")),
    };
    customers_api::store::find(pool, customer_id)
        .await?
        .ok_or_else(|| anyhow!("customer {customer_id} is missing"))?;
    let at = store::now();
    let (tx, order) = store::in_transaction(pool, async |tx: &mut Tx| {
        orders::create(tx, &new, "bench", at).await
    })
    .await
    .map_err(|e| api(e.into()))?;
    let reply = Reply::json(StatusCode::CREATED, &order)
        .map_err(api)?
        .with_location(format!("/orders/{}", order.id));
    idempotency::settle_ok(tx, Some(&lease), reply)
        .await
        .map_err(api)?;

    let id = order.id;
    let confirm_key = format!("{key}-confirm");
    let lease = match idempotency::claim(
        pool,
        &Idem::new("confirm_order", "bench", confirm_key, &id.to_string(), b""),
        LEASE,
    )
    .await
    .map_err(api)?
    {
        Claim::Proceed(lease) => lease,
        Claim::Replay(_) => return Err(anyhow!("key {key} was used before")),
    };
    let at = store::now();
    let (tx, (confirmed, _)) =
        store::in_transaction(pool, async |tx: &mut Tx| orders::confirm(tx, id, at).await)
            .await
            .map_err(|e| api(e.into()))?;
    let reply = Reply::json(StatusCode::OK, &confirmed).map_err(api)?;
    idempotency::settle_ok(tx, Some(&lease), reply)
        .await
        .map_err(api)?;

    let mut conn = pool.acquire().await?;
    orders::load(&mut conn, id, false)
        .await?
        .context("the order vanished")?;
    Ok(())
}

fn api(e: service_kit::problem::ApiError) -> anyhow::Error {
    anyhow!("{} {}", e.status(), e.code())
}
