//! A new order, parsed, and which state changes an order allows.

use std::{collections::BTreeMap, time::Duration};

use chrono::{DateTime, Utc};
use contracts::invalid::Invalid;

use super::{
    CustomerId, Order, OrderError, OrderInput, OrderItemInput, OrderLine, OrderStatus, ProductId,
};

/// A checked order request: items summed per product, in product id order
/// (the order in which rows are locked, so concurrent orders cannot deadlock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer_id: CustomerId,
    /// Ascending product ids, each once.
    pub items: Vec<OrderLine>,
}

impl TryFrom<OrderInput> for NewOrder {
    type Error = Vec<Invalid>;

    fn try_from(input: OrderInput) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        if input.customer_id.get() == 0 {
            errors.push(Invalid::new("customer_id", "must be a positive id"));
        }
        let (lines, qty) = (OrderInput::ITEMS, OrderItemInput::QTY);
        if !lines.contains(&input.items.len()) {
            errors.push(Invalid::new(
                "items",
                format!("must hold {} to {} items", lines.start(), lines.end()),
            ));
        }
        let mut summed: BTreeMap<ProductId, u64> = BTreeMap::new();
        for (i, item) in input.items.iter().enumerate() {
            if item.product_id.get() == 0 {
                errors.push(Invalid::new(
                    format!("items[{i}].product_id"),
                    "must be a positive id",
                ));
            }
            if !qty.contains(&item.qty) {
                errors.push(Invalid::new(
                    format!("items[{i}].qty"),
                    format!("must be between {} and {}", qty.start(), qty.end()),
                ));
            }
            *summed.entry(item.product_id).or_default() += u64::from(item.qty);
        }
        if errors.is_empty() {
            for (product_id, qty) in &summed {
                if *qty > u64::from(*OrderItemInput::QTY.end()) {
                    errors.push(Invalid::new(
                        "items",
                        format!(
                            "the quantities of product {product_id} add up to more than {}",
                            OrderItemInput::QTY.end()
                        ),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            customer_id: input.customer_id,
            items: summed
                .into_iter()
                .map(|(product_id, qty)| OrderLine {
                    product_id,
                    qty: qty as u32,
                })
                .collect(),
        })
    }
}

/// Whether confirming changes `order`: CREATED → CONFIRMED (true);
/// CONFIRMED stays as it is (false); CANCELED cannot be confirmed.
pub fn confirm_changes(order: &Order) -> Result<bool, OrderError> {
    match order.status {
        OrderStatus::Created => Ok(true),
        OrderStatus::Confirmed => Ok(false),
        OrderStatus::Canceled => Err(OrderError::ConfirmCanceled { id: order.id }),
    }
}

/// Whether canceling at `at` changes `order`: CREATED at any time and
/// CONFIRMED within `window` of its confirmation (true); CANCELED stays
/// as it is (false); a CONFIRMED order past the window cannot be.
pub fn cancel_changes(
    order: &Order,
    at: DateTime<Utc>,
    window: Duration,
) -> Result<bool, OrderError> {
    match order.status {
        OrderStatus::Canceled => Ok(false),
        OrderStatus::Created => Ok(true),
        OrderStatus::Confirmed => {
            let confirmed_at = order.confirmed_at.unwrap_or(order.updated_at);
            // A window past the end of the calendar never closes.
            let closes = chrono::Duration::from_std(window)
                .ok()
                .and_then(|w| confirmed_at.checked_add_signed(w));
            if closes.is_some_and(|closes| at > closes) {
                Err(OrderError::CancelWindowExpired {
                    id: order.id,
                    window_secs: window.as_secs(),
                })
            } else {
                Ok(true)
            }
        }
    }
}
