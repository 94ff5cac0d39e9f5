//! The database ceiling: the SQL of one saga, run straight against MySQL with
//! no HTTP, through the services' own functions, in the order the saga runs
//! them:
//!
//! 1. the orchestrator's customer check (customers-api: one SELECT);
//! 2. the create (`orders_api::ceiling::create_order`): a stored answer for
//!    the key looked up, orders-api's own customer check (customers-api: one
//!    SELECT) with no transaction open, then one transaction: the key
//!    claimed, products locked in id order, stock reserved, order and items
//!    written, the answer stored, COMMIT;
//! 3. the confirm (`orders_api::ceiling::confirm_order`): the key claimed,
//!    the order locked and confirmed, the answer stored, COMMIT.
//!
//! The saga reads the order back only when confirm's answer is a replay,
//! which a unique key never is.

use anyhow::anyhow;
use contracts::{CustomerId, OrderInput, OrderItemInput, ProductId};
use orders_api::ceiling::{confirm_order, create_order};
use sqlx::MySqlPool;

/// Whether customers-api's store has the customer.
async fn customer_exists(pool: &MySqlPool, customer_id: CustomerId) -> anyhow::Result<bool> {
    Ok(customers_api::store::find(pool, customer_id)
        .await?
        .is_some())
}

/// One saga's worth of SQL: one unit of `product_id`. `key` must be unique
/// per call.
pub async fn saga_sql(
    pool: &MySqlPool,
    customer_id: CustomerId,
    product_id: ProductId,
    key: &str,
) -> anyhow::Result<()> {
    if !customer_exists(pool, customer_id).await? {
        return Err(anyhow!("customer {customer_id} is missing"));
    }
    let input = OrderInput {
        customer_id,
        items: vec![OrderItemInput { product_id, qty: 1 }],
    };
    let lookup = async |id: CustomerId| customer_exists(pool, id).await;
    let id = create_order(pool, "bench", input, &format!("{key}-create"), lookup).await?;
    confirm_order(pool, "bench", id, &format!("{key}-confirm")).await
}
