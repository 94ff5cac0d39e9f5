//! The saga's request: the body of `POST /orchestrator/create-and-confirm-order`,
//! with its limits.

use std::ops::RangeInclusive;

use serde::{Deserialize, Serialize};

use crate::{CustomerId, OrderInput, OrderItemInput};

/// Body of `POST /orchestrator/create-and-confirm-order`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct SagaRequest {
    pub customer_id: CustomerId,
    pub items: Vec<OrderItemInput>,
    pub idempotency_key: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub correlation_id: Option<String>,
}

impl SagaRequest {
    /// Largest accepted body, in bytes.
    pub const BODY_BYTES: usize = 64 * 1024;
    /// Length of `idempotency_key`, in characters.
    pub const KEY_CHARS: RangeInclusive<usize> = 1..=128;

    /// What is wrong with the request, if anything. The items obey the
    /// limits of orders-api's [`OrderInput`], declared there.
    pub fn problems(&self) -> Vec<String> {
        let mut problems = Vec::new();
        let (key, lines, qty) = (Self::KEY_CHARS, OrderInput::ITEMS, OrderItemInput::QTY);
        if !key.contains(&self.idempotency_key.chars().count()) {
            problems.push(format!(
                "idempotency_key must be {} to {} characters",
                key.start(),
                key.end()
            ));
        }
        if self.customer_id.get() == 0 {
            problems.push("customer_id must be a positive id".to_owned());
        }
        if !lines.contains(&self.items.len()) {
            problems.push(format!(
                "items must hold {} to {} items",
                lines.start(),
                lines.end()
            ));
        }
        for (i, item) in self.items.iter().enumerate() {
            if item.product_id.get() == 0 {
                problems.push(format!("items[{i}].product_id must be a positive id"));
            }
            if !qty.contains(&item.qty) {
                problems.push(format!(
                    "items[{i}].qty must be between {} and {}",
                    qty.start(),
                    qty.end()
                ));
            }
        }
        problems
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ProductId;

    #[test]
    fn request_problems_are_listed() {
        let req = SagaRequest {
            customer_id: CustomerId(0),
            items: vec![OrderItemInput {
                product_id: ProductId(0),
                qty: 0,
            }],
            idempotency_key: "x".repeat(129),
            correlation_id: None,
        };
        assert_eq!(req.problems().len(), 4);
        let ok = SagaRequest {
            customer_id: CustomerId(1),
            items: vec![OrderItemInput {
                product_id: ProductId(2),
                qty: 3,
            }],
            idempotency_key: "é".repeat(128),
            correlation_id: None,
        };
        assert!(ok.problems().is_empty());
    }
}
