//! What happened to an order, a product or a customer, and who did it: the
//! events `GET /<resource>/{id}/events` pages through, oldest first.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

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
