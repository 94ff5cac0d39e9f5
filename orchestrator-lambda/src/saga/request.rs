//! The saga's request, checked, and the orders-api keys derived from it.

use std::ops::RangeInclusive;

use contracts::{OrderInput, OrderItemInput};
use serde::Deserialize;
use sha2::{Digest, Sha256};

/// Body of `POST /orchestrator/create-and-confirm-order`.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SagaRequest {
    pub customer_id: u64,
    pub items: Vec<OrderItemInput>,
    pub idempotency_key: String,
    #[serde(default)]
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
        if self.customer_id == 0 {
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
            if item.product_id == 0 {
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

/// The orders-api keys of one saga: derived from the caller's subject and
/// key (hashed, so any characters are fine), one per write.
pub struct Keys {
    pub create: String,
    pub confirm: String,
    pub cancel: String,
}

impl Keys {
    pub fn derive(subject: &str, key: &str) -> Self {
        let mut h = Sha256::new();
        h.update(subject.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        let digest = hex::encode(h.finalize());
        let stem = &digest[..32];
        Self {
            create: format!("saga-{stem}-create"),
            confirm: format!("saga-{stem}-confirm"),
            cancel: format!("saga-{stem}-cancel"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_distinct_and_safe_for_any_input() {
        let a = Keys::derive("alice", "abc-124");
        let b = Keys::derive("alice", "abc-124");
        assert_eq!(a.create, b.create);
        assert_ne!(a.create, Keys::derive("alice", "abc-125").create);
        assert_ne!(a.create, Keys::derive("bob", "abc-124").create);
        // No ambiguity between the subject and the key.
        assert_ne!(
            Keys::derive("ab", "c").create,
            Keys::derive("a", "bc").create
        );
        assert_ne!(a.create, a.confirm);
        let odd = Keys::derive("alice", "ключ with spaces ✓");
        assert!(odd.cancel.bytes().all(|b| b.is_ascii_graphic()));
        assert!(odd.cancel.len() <= 255);
    }

    #[test]
    fn request_problems_are_listed() {
        let req = SagaRequest {
            customer_id: 0,
            items: vec![OrderItemInput {
                product_id: 0,
                qty: 0,
            }],
            idempotency_key: "x".repeat(129),
            correlation_id: None,
        };
        assert_eq!(req.problems().len(), 4);
        let ok = SagaRequest {
            customer_id: 1,
            items: vec![OrderItemInput {
                product_id: 2,
                qty: 3,
            }],
            idempotency_key: "é".repeat(128),
            correlation_id: None,
        };
        assert!(ok.problems().is_empty());
    }
}
