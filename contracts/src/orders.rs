//! orders-api's orders: the body of `POST /orders` and the order it answers.

use std::ops::RangeInclusive;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::{CustomerId, OrderId, ProductId};

/// Body of `POST /products`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct ProductInput {
    /// Unique (case-insensitively); 1..=64 of letters, digits, `-`, `_`, `.`.
    #[cfg_attr(feature = "schema", schema(example = "SKU001"))]
    pub sku: String,
    #[cfg_attr(feature = "schema", schema(example = "Laptop"))]
    pub name: String,
    /// Price in cents, 1..=10000000000.
    #[cfg_attr(feature = "schema", schema(example = 129900, minimum = 1))]
    pub price_cents: u64,
    /// Units available, 0..=1000000000.
    #[cfg_attr(feature = "schema", schema(example = 10, minimum = 0))]
    pub stock: u32,
}

/// A product, as every endpoint answers it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Product {
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 1))]
    pub id: ProductId,
    #[cfg_attr(feature = "schema", schema(example = "SKU001"))]
    pub sku: String,
    #[cfg_attr(feature = "schema", schema(example = "Laptop"))]
    pub name: String,
    #[cfg_attr(feature = "schema", schema(example = 129900))]
    pub price_cents: u64,
    #[cfg_attr(feature = "schema", schema(example = 10))]
    pub stock: u32,
    /// Bumped by every change (a sale, a release, a patch); the `ETag` is
    /// this number, quoted.
    #[cfg_attr(feature = "schema", schema(example = 1))]
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// The product's entity tag: its version, quoted.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

/// One line of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderItemInput {
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 2))]
    pub product_id: ProductId,
    /// 1..=1000000.
    #[cfg_attr(feature = "schema", schema(example = 3, minimum = 1))]
    pub qty: u32,
}

impl OrderItemInput {
    /// The quantity of one product in one order (also of the lines of one
    /// product summed).
    pub const QTY: RangeInclusive<u32> = 1..=1_000_000;
}

/// Body of `POST /orders`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(deny_unknown_fields)]
pub struct OrderInput {
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 1))]
    pub customer_id: CustomerId,
    /// 1..=100 items; repeated product ids are summed.
    pub items: Vec<OrderItemInput>,
}

impl OrderInput {
    /// How many lines an order holds.
    pub const ITEMS: RangeInclusive<usize> = 1..=100;
}

/// Order status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
#[serde(rename_all = "UPPERCASE")]
pub enum OrderStatus {
    Created,
    Confirmed,
    Canceled,
}

impl OrderStatus {
    pub const ALL: [Self; 3] = [Self::Created, Self::Confirmed, Self::Canceled];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Created => "CREATED",
            Self::Confirmed => "CONFIRMED",
            Self::Canceled => "CANCELED",
        }
    }

    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|s| s.as_str() == raw)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct OrderItem {
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 2))]
    pub product_id: ProductId,
    #[cfg_attr(feature = "schema", schema(example = 3))]
    pub qty: u32,
    #[cfg_attr(feature = "schema", schema(example = 2990))]
    pub unit_price_cents: u64,
    #[cfg_attr(feature = "schema", schema(example = 8970))]
    pub subtotal_cents: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[cfg_attr(feature = "schema", derive(utoipa::ToSchema))]
pub struct Order {
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 8))]
    pub id: OrderId,
    #[cfg_attr(feature = "schema", schema(value_type = u64, example = 1))]
    pub customer_id: CustomerId,
    pub status: OrderStatus,
    #[cfg_attr(feature = "schema", schema(example = 8970))]
    pub total_cents: u64,
    pub items: Vec<OrderItem>,
    /// The `sub` of the user the order was made for.
    #[cfg_attr(feature = "schema", schema(example = "ops@acme"))]
    pub created_by: String,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    pub confirmed_at: Option<DateTime<Utc>>,
    pub canceled_at: Option<DateTime<Utc>>,
}

impl Order {
    /// The order's entity tag: its status, quoted (`"CREATED"`, ...). An
    /// order changes only by changing status, so the status is a strong
    /// validator.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.status.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_read_back_as_they_are_written() {
        for status in OrderStatus::ALL {
            let json = serde_json::to_value(status).expect("serialises");
            assert_eq!(json, status.as_str());
            assert_eq!(OrderStatus::parse(status.as_str()), Some(status));
        }
        assert_eq!(OrderStatus::parse("created"), None);
    }

    #[test]
    fn an_order_reads_back_as_it_was_sent() {
        let at = DateTime::parse_from_rfc3339("2026-11-28T00:00:00Z")
            .expect("a date")
            .with_timezone(&Utc);
        let order = Order {
            id: OrderId(8),
            customer_id: CustomerId(1),
            status: OrderStatus::Confirmed,
            total_cents: 8970,
            items: vec![OrderItem {
                product_id: ProductId(2),
                qty: 3,
                unit_price_cents: 2990,
                subtotal_cents: 8970,
            }],
            created_by: "ops@acme".into(),
            created_at: at,
            updated_at: at,
            confirmed_at: Some(at),
            canceled_at: None,
        };
        let json = serde_json::to_string(&order).expect("serialises");
        let back: Order = serde_json::from_str(&json).expect("deserialises");
        assert_eq!(back, order);
        assert_eq!(order.etag(), "\"CONFIRMED\"");
    }
}
