//! Orders: creation with stock reservation, confirmation, cancellation with
//! stock restored, listing, and the expired reservations the sweeper releases.
//!
//! Locking order, everywhere: an order row before product rows, product rows
//! in ascending id. Creation locks only products (its order row is new).

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use contracts::EventKind;
use kit_identity::scope::Scope;
use kit_server::conditional::IfMatch;
use kit_server::events::{self, Changes, EventLog, Record, Stamp};
use sqlx::{MySql, MySqlConnection, MySqlPool, QueryBuilder};

use super::{Tx, TxError};
use crate::domain::{
    CustomerId, NewOrder, OrderError, OrderId, OrderLimits, OrderLine, OrderStatus, ProductId,
    Right, StockLevel,
};

pub use crate::domain::{Order, OrderItem};

#[derive(sqlx::FromRow)]
struct OrderRow {
    id: u64,
    customer_id: u64,
    status: String,
    total_cents: u64,
    created_by: String,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
    confirmed_at: Option<DateTime<Utc>>,
    canceled_at: Option<DateTime<Utc>>,
}

impl OrderRow {
    fn into_order(self, items: Vec<OrderItem>) -> Result<Order, sqlx::Error> {
        let status = OrderStatus::parse(&self.status).ok_or_else(|| {
            sqlx::Error::Decode(format!("unknown order status {:?}", self.status).into())
        })?;
        Ok(Order {
            id: OrderId(self.id),
            customer_id: CustomerId(self.customer_id),
            status,
            total_cents: self.total_cents,
            items,
            created_by: self.created_by,
            created_at: self.created_at,
            updated_at: self.updated_at,
            confirmed_at: self.confirmed_at,
            canceled_at: self.canceled_at,
        })
    }
}

/// Reserves stock and writes the order as CREATED, priced at current prices.
#[tracing::instrument(skip_all, fields(customer_id = new.customer_id.get()))]
pub async fn create(
    tx: &mut Tx,
    new: &NewOrder,
    stamp: &Stamp<'_>,
    limits: &OrderLimits,
) -> Result<Order, TxError> {
    let found = lock_products(tx, &new.items).await?;
    let (items, total) = crate::domain::price(&new.items, &found, limits)?;
    reserve(tx, &items).await?;
    let order = Order {
        id: OrderId(0),
        customer_id: new.customer_id,
        status: OrderStatus::Created,
        total_cents: total,
        items,
        created_by: stamp.actor.to_owned(),
        created_at: stamp.at,
        updated_at: stamp.at,
        confirmed_at: None,
        canceled_at: None,
    };
    let id = insert(tx, &order).await?;
    let order = Order { id, ..order };
    let created = Changes::new()
        .set("status", order.status.as_str())
        .set("customer_id", order.customer_id.get())
        .set("total_cents", order.total_cents)
        .set(
            "items",
            serde_json::to_value(&order.items).unwrap_or_default(),
        );
    events::append(
        tx,
        ORDER_EVENTS,
        stamp,
        &[record(id, EventKind::OrderCreated, created)],
    )
    .await?;
    let taken: Vec<Record> = order
        .items
        .iter()
        .filter_map(|i| {
            let before = found.get(&i.product_id)?.stock;
            Some(stock_record(
                i.product_id,
                before,
                before.saturating_sub(i.qty),
            ))
        })
        .collect();
    events::append(tx, PRODUCT_EVENTS, stamp, &taken).await?;
    Ok(order)
}

/// Whether order `id` exists.
pub async fn exists(pool: &MySqlPool, id: OrderId) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!("SELECT 1 AS one FROM orders WHERE id = ?", id.get())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// Where orders keep their events.
pub const ORDER_EVENTS: EventLog = EventLog {
    table: "order_events",
    subject: "order_id",
};

/// Where products keep their events (their stock moves with orders too).
pub const PRODUCT_EVENTS: EventLog = EventLog {
    table: "product_events",
    subject: "product_id",
};

fn record(id: OrderId, kind: EventKind, changes: Changes) -> Record {
    Record {
        subject: id.get(),
        kind,
        changes,
    }
}

/// A product's stock moved from `before` to `after`.
pub fn stock_record(id: ProductId, before: u32, after: u32) -> Record {
    Record {
        subject: id.get(),
        kind: EventKind::ProductUpdated,
        changes: Changes::new().changed("stock", before, after),
    }
}

/// The status change of `order` to `to`, as an event of `kind`.
fn status_record(order: &Order, to: OrderStatus, kind: EventKind) -> Record {
    record(
        order.id,
        kind,
        Changes::new().changed("status", order.status.as_str(), to.as_str()),
    )
}

/// Locks every product of `items`, in id order: each one's price and stock.
async fn lock_products(
    tx: &mut Tx,
    items: &[OrderLine],
) -> Result<HashMap<ProductId, StockLevel>, sqlx::Error> {
    let mut q: QueryBuilder<MySql> =
        QueryBuilder::new("SELECT id, price_cents, stock FROM products WHERE id IN (");
    let mut ids = q.separated(", ");
    for line in items {
        ids.push_bind(line.product_id.get());
    }
    q.push(") ORDER BY id FOR UPDATE");
    let rows: Vec<(u64, u64, u32)> = q.build_query_as().fetch_all(&mut **tx).await?;
    Ok(rows
        .into_iter()
        .map(|(id, price_cents, stock)| (ProductId(id), StockLevel { price_cents, stock }))
        .collect())
}

/// Takes each item's quantity from its product's stock.
async fn reserve(tx: &mut Tx, items: &[OrderItem]) -> Result<(), TxError> {
    for item in items {
        // Conditional, though the row is locked and checked: stock can never
        // go below zero, whatever happens above.
        let done = sqlx::query!(
            "UPDATE products SET stock = stock - ?, version = version + 1 WHERE id = ? AND stock >= ?",
            item.qty,
            item.product_id.get(),
            item.qty
        )
        .execute(&mut **tx)
        .await?;
        if done.rows_affected() != 1 {
            return Err(OrderError::InsufficientStock {
                product_id: item.product_id,
                available: 0,
                wanted: item.qty,
            }
            .into());
        }
    }
    Ok(())
}

/// Writes `order` and its items; returns the order's new id.
async fn insert(tx: &mut Tx, order: &Order) -> Result<OrderId, sqlx::Error> {
    let status = order.status.as_str();
    let order_id = sqlx::query!(
        "INSERT INTO orders (customer_id, status, total_cents, created_by, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        order.customer_id.get(),
        status,
        order.total_cents,
        order.created_by,
        order.created_at,
        order.updated_at
    )
    .execute(&mut **tx)
    .await?
    .last_insert_id();
    let mut q: QueryBuilder<MySql> = QueryBuilder::new(
        "INSERT INTO order_items (order_id, product_id, qty, unit_price_cents, subtotal_cents) ",
    );
    q.push_values(&order.items, |mut row, item| {
        row.push_bind(order_id)
            .push_bind(item.product_id.get())
            .push_bind(item.qty)
            .push_bind(item.unit_price_cents)
            .push_bind(item.subtotal_cents);
    });
    q.build().execute(&mut **tx).await?;
    Ok(OrderId(order_id))
}

/// An item's row.
struct ItemRow {
    product_id: u64,
    qty: u32,
    unit_price_cents: u64,
    subtotal_cents: u64,
}

impl From<ItemRow> for OrderItem {
    fn from(row: ItemRow) -> Self {
        Self {
            product_id: ProductId(row.product_id),
            qty: row.qty,
            unit_price_cents: row.unit_price_cents,
            subtotal_cents: row.subtotal_cents,
        }
    }
}

/// An order's row joined with one of its items: `load` reads an order and
/// its items in one statement.
#[derive(sqlx::FromRow)]
struct JoinedRow {
    #[sqlx(flatten)]
    order: OrderRow,
    product_id: Option<u64>,
    qty: Option<u32>,
    unit_price_cents: Option<u64>,
    subtotal_cents: Option<u64>,
}

impl JoinedRow {
    fn item(&self) -> Option<OrderItem> {
        Some(OrderItem {
            product_id: ProductId(self.product_id?),
            qty: self.qty?,
            unit_price_cents: self.unit_price_cents?,
            subtotal_cents: self.subtotal_cents?,
        })
    }
}

/// The order that the joined rows of one order describe (none: no rows).
fn joined_order(rows: Vec<JoinedRow>) -> Result<Option<Order>, sqlx::Error> {
    let items = rows.iter().filter_map(JoinedRow::item).collect();
    match rows.into_iter().next() {
        Some(first) => first.order.into_order(items).map(Some),
        None => Ok(None),
    }
}

/// One order with its items. Unlocked, in one statement. With `lock`, the
/// order row is taken for update first and the items are read plainly: a
/// locking read of `order_items` would also lock the gap after the newest
/// order's items, and so every create's insert of its items.
#[tracing::instrument(skip(conn))]
pub async fn load(
    conn: &mut MySqlConnection,
    id: OrderId,
    lock: bool,
) -> Result<Option<Order>, sqlx::Error> {
    if lock {
        let row = sqlx::query_as!(
            OrderRow,
            r#"SELECT id, customer_id, status, total_cents, created_by,
                      created_at AS "created_at: DateTime<Utc>", updated_at AS "updated_at: DateTime<Utc>",
                      confirmed_at AS "confirmed_at: DateTime<Utc>", canceled_at AS "canceled_at: DateTime<Utc>"
               FROM orders WHERE id = ? FOR UPDATE"#,
            id.get()
        )
        .fetch_optional(&mut *conn)
        .await?;
        let Some(row) = row else { return Ok(None) };
        let items = sqlx::query_as!(
            ItemRow,
            "SELECT product_id, qty, unit_price_cents, subtotal_cents FROM order_items WHERE order_id = ? ORDER BY product_id",
            id.get()
        )
        .fetch_all(&mut *conn)
        .await?;
        let items = items.into_iter().map(OrderItem::from).collect();
        return row.into_order(items).map(Some);
    }
    let rows: Vec<JoinedRow> = sqlx::query_as(
        "SELECT o.id, o.customer_id, o.status, o.total_cents, o.created_by, o.created_at, \
                o.updated_at, o.confirmed_at, o.canceled_at, \
                i.product_id, i.qty, i.unit_price_cents, i.subtotal_cents \
         FROM orders o LEFT JOIN order_items i ON i.order_id = o.id \
         WHERE o.id = ? ORDER BY i.product_id",
    )
    .bind(id.get())
    .fetch_all(&mut *conn)
    .await?;
    joined_order(rows)
}

/// CREATED → CONFIRMED; CONFIRMED stays as it is; CANCELED is a 409.
#[tracing::instrument(skip(tx, stamp))]
pub async fn confirm(
    tx: &mut Tx,
    id: OrderId,
    stamp: &Stamp<'_>,
) -> Result<(Order, bool), TxError> {
    let at = stamp.at;
    let mut order = load(tx, id, true)
        .await?
        .ok_or(OrderError::NotFound { id })?;
    if !crate::domain::confirm_changes(&order)? {
        return Ok((order, false));
    }
    let confirmed = status_record(&order, OrderStatus::Confirmed, EventKind::OrderConfirmed);
    events::append(tx, ORDER_EVENTS, stamp, &[confirmed]).await?;
    let status = OrderStatus::Confirmed.as_str();
    sqlx::query!(
        "UPDATE orders SET status = ?, confirmed_at = ?, updated_at = ? WHERE id = ?",
        status,
        at,
        at,
        id.get()
    )
    .execute(&mut **tx)
    .await?;
    order.status = OrderStatus::Confirmed;
    order.confirmed_at = Some(at);
    order.updated_at = at;
    Ok((order, true))
}

/// Puts an order's reserved units back on the shelf (products in id order);
/// the stock events of the move.
async fn restore_stock(tx: &mut Tx, order: &Order) -> Result<Vec<Record>, sqlx::Error> {
    let mut moved = Vec::with_capacity(order.items.len());
    for item in &order.items {
        sqlx::query!(
            "UPDATE products SET stock = stock + ?, version = version + 1 WHERE id = ?",
            item.qty,
            item.product_id.get()
        )
        .execute(&mut **tx)
        .await?;
        // The row is ours until the commit: what we wrote.
        let after: u32 = sqlx::query_scalar!(
            "SELECT stock FROM products WHERE id = ?",
            item.product_id.get()
        )
        .fetch_one(&mut **tx)
        .await?;
        moved.push(stock_record(
            item.product_id,
            after.saturating_sub(item.qty),
            after,
        ));
    }
    Ok(moved)
}

/// Cancels `order` (stock restored), with its events: `kind` is
/// `order.canceled` or, for the sweeper, `order.expired`.
async fn mark_canceled(
    tx: &mut Tx,
    order: &mut Order,
    stamp: &Stamp<'_>,
    kind: EventKind,
) -> Result<(), sqlx::Error> {
    let at = stamp.at;
    let restored = restore_stock(tx, order).await?;
    events::append(tx, PRODUCT_EVENTS, stamp, &restored).await?;
    let canceled = status_record(order, OrderStatus::Canceled, kind);
    events::append(tx, ORDER_EVENTS, stamp, &[canceled]).await?;
    let status = OrderStatus::Canceled.as_str();
    sqlx::query!(
        "UPDATE orders SET status = ?, canceled_at = ?, updated_at = ? WHERE id = ?",
        status,
        at,
        at,
        order.id.get()
    )
    .execute(&mut **tx)
    .await?;
    order.status = OrderStatus::Canceled;
    order.canceled_at = Some(at);
    order.updated_at = at;
    Ok(())
}

/// CREATED → CANCELED; CONFIRMED → CANCELED within `window` of confirmation;
/// CANCELED stays as it is. Stock is restored on every transition. With
/// `if_match`, only an order whose entity tag matches is touched (412
/// otherwise): `If-Match: "CREATED"` cancels an order only if nobody has
/// confirmed it. `right` is checked first, on the locked row (403
/// otherwise). Returns the order and whether it changed.
#[tracing::instrument(skip(tx, stamp, window, right))]
pub async fn cancel(
    tx: &mut Tx,
    id: OrderId,
    stamp: &Stamp<'_>,
    window: Duration,
    if_match: Option<&IfMatch>,
    right: Right<'_>,
) -> Result<(Order, bool), TxError> {
    let at = stamp.at;
    let mut order = load(tx, id, true)
        .await?
        .ok_or_else(|| right.missing(id, Scope::OrdersCancel))?;
    // Checked on the locked row: a creator's withdrawal cannot race a confirm.
    right.cancel(&order, Scope::OrdersCancel)?;
    if let Some(condition) = if_match {
        if !condition.matches(&order.etag()) {
            return Err(OrderError::PreconditionFailed {
                id,
                status: order.status.as_str(),
                etag: order.etag(),
            }
            .into());
        }
    }
    if !crate::domain::cancel_changes(&order, at, window)? {
        return Ok((order, false));
    }
    mark_canceled(tx, &mut order, stamp, EventKind::OrderCanceled).await?;
    Ok((order, true))
}

/// The query that picks expired reservations: oldest first along the
/// `(status, created_at)` index (whose entries end with the id), skipping
/// rows another transaction holds. Public so that a test can check its plan.
pub const EXPIRED_SQL: &str = "SELECT id FROM orders WHERE status = 'CREATED' AND created_at < ? \
     ORDER BY created_at, id LIMIT ? FOR UPDATE SKIP LOCKED";

/// In one transaction, locks up to `limit` CREATED orders older than
/// `cutoff`, skipping those another transaction (a request, or another
/// replica's sweeper) holds, and cancels them with their stock restored.
/// Returns the released orders.
pub async fn release_expired(
    pool: &MySqlPool,
    cutoff: DateTime<Utc>,
    at: DateTime<Utc>,
    limit: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let ids: Vec<u64> = sqlx::query_scalar(EXPIRED_SQL)
        .bind(cutoff)
        .bind(limit)
        .fetch_all(&mut *tx)
        .await?;
    let mut released = Vec::with_capacity(ids.len());
    let stamp = Stamp::new(events::SWEEPER, at);
    for id in ids {
        if let Some(mut order) = load(&mut tx, OrderId(id), false).await? {
            mark_canceled(&mut tx, &mut order, &stamp, EventKind::OrderExpired).await?;
            released.push(order);
        }
    }
    tx.commit().await?;
    Ok(released)
}

/// How many CREATED orders are older than `cutoff`.
pub async fn count_expired(pool: &MySqlPool, cutoff: DateTime<Utc>) -> Result<i64, sqlx::Error> {
    sqlx::query_scalar("SELECT COUNT(*) FROM orders WHERE status = 'CREATED' AND created_at < ?")
        .bind(cutoff)
        .fetch_one(pool)
        .await
}

/// Filters of `GET /orders`.
#[derive(Debug, Clone, Default)]
pub struct OrderFilter {
    pub status: Option<OrderStatus>,
    pub customer_id: Option<CustomerId>,
    pub from: Option<DateTime<Utc>>,
    pub to: Option<DateTime<Utc>>,
}

/// The listing query: newest first, only the filters given (so that the
/// plan follows `(customer_id, id)` with a customer, `(status, id)` with a
/// status, the primary key without).
/// `prefix` is `""`, or `"EXPLAIN "` for a test of the plan.
pub fn list_query<'a>(
    prefix: &str,
    filter: &'a OrderFilter,
    before_id: u64,
    fetch: i64,
) -> QueryBuilder<'a, MySql> {
    let mut q: QueryBuilder<MySql> = QueryBuilder::new(prefix);
    q.push(
        "SELECT id, customer_id, status, total_cents, created_by, created_at, updated_at, \
         confirmed_at, canceled_at FROM orders WHERE id < ",
    );
    q.push_bind(before_id);
    if let Some(status) = filter.status {
        q.push(" AND status = ").push_bind(status.as_str());
    }
    if let Some(customer) = filter.customer_id {
        q.push(" AND customer_id = ").push_bind(customer.get());
    }
    if let Some(from) = filter.from {
        q.push(" AND created_at >= ").push_bind(from);
    }
    if let Some(to) = filter.to {
        q.push(" AND created_at < ").push_bind(to);
    }
    q.push(" ORDER BY id DESC LIMIT ").push_bind(fetch);
    q
}

/// Newest first: orders with an id below `before_id`, matching the filter.
#[tracing::instrument(skip(pool))]
pub async fn list(
    pool: &MySqlPool,
    filter: &OrderFilter,
    before_id: u64,
    fetch: i64,
) -> Result<Vec<Order>, sqlx::Error> {
    let rows: Vec<OrderRow> = list_query("", filter, before_id, fetch)
        .build_query_as()
        .fetch_all(pool)
        .await?;
    if rows.is_empty() {
        return Ok(Vec::new());
    }
    // All their items in one query, not one per order.
    let mut q: QueryBuilder<MySql> = QueryBuilder::new(
        "SELECT order_id, product_id, qty, unit_price_cents, subtotal_cents FROM order_items WHERE order_id IN (",
    );
    let mut ids = q.separated(", ");
    for row in &rows {
        ids.push_bind(row.id);
    }
    q.push(") ORDER BY order_id, product_id");
    let item_rows: Vec<(u64, u64, u32, u64, u64)> = q.build_query_as().fetch_all(pool).await?;
    let mut items: HashMap<u64, Vec<OrderItem>> = HashMap::new();
    for (order_id, product_id, qty, unit_price_cents, subtotal_cents) in item_rows {
        items.entry(order_id).or_default().push(OrderItem {
            product_id: ProductId(product_id),
            qty,
            unit_price_cents,
            subtotal_cents,
        });
    }
    rows.into_iter()
        .map(|row| {
            let its = items.remove(&row.id).unwrap_or_default();
            row.into_order(its)
        })
        .collect()
}
