//! What happened to an order, a product or a customer, and who did it: the
//! events `GET /<resource>/{id}/events` pages through, oldest first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

crate::names! {
    /// What kind of change an event records (its `type`).
    pub enum EventKind {
        /// An order was created (stock reserved).
        OrderCreated = "order.created",
        /// An order was confirmed.
        OrderConfirmed = "order.confirmed",
        /// An order was canceled (its stock released).
        OrderCanceled = "order.canceled",
        /// The sweeper released an unconfirmed order's stock.
        OrderExpired = "order.expired",
        /// A product was created.
        ProductCreated = "product.created",
        /// A product's name, price or stock changed.
        ProductUpdated = "product.updated",
        /// A customer was created.
        CustomerCreated = "customer.created",
        /// A customer's details were replaced.
        CustomerReplaced = "customer.replaced",
        /// A customer was deleted.
        CustomerDeleted = "customer.deleted",
    }
}

/// One change, written in the change's own transaction.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Event {
    /// Increases with every event of the resource's kind: the order of events.
    #[cfg_attr(feature = "schema", schema(example = 41))]
    pub seq: u64,
    /// `order.created|confirmed|canceled|expired`, `product.created|updated`,
    /// `customer.created|replaced|deleted`.
    #[serde(rename = "type")]
    #[cfg_attr(feature = "schema", schema(example = "order.confirmed"))]
    pub kind: String,
    pub at: DateTime<Utc>,
    /// Who: the user's `sub`, `service:<name>`, or `system:sweeper`.
    #[cfg_attr(feature = "schema", schema(example = "ops-user"))]
    pub actor: String,
    /// The request's correlation id (none for the sweeper's).
    pub correlation_id: Option<String>,
    /// The idempotency key the change was made under, if any.
    pub idempotency_key: Option<String>,
    /// Field by field, `{"before": ..., "after": ...}` (no `before` for a
    /// creation, no `after` for a deletion).
    #[cfg_attr(feature = "schema", schema(value_type = Object, example = json!({"status": {"before": "CREATED", "after": "CONFIRMED"}})))]
    pub changes: serde_json::Value,
}

/// A page of events, oldest first.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct EventPage {
    pub data: Vec<Event>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}
