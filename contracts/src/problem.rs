//! The problem codes one service acts on when another answers them. Both
//! sides name a code through [`Code`], so the code a service sends and the
//! code its caller branches on cannot drift apart.

/// A problem code callers branch on (the `code` of a problem document).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Code {
    /// No such customer (customers-api 404; orders-api 422 on create).
    CustomerNotFound,
    /// An ordered product does not exist (orders-api 422).
    ProductNotFound,
    /// Not enough stock for an item (orders-api 409).
    InsufficientStock,
    /// The idempotency key was used with another request (orders-api 422).
    IdempotencyKeyReused,
    /// Another request with the same idempotency key is running (orders-api
    /// 409, with `Retry-After`): transient.
    IdempotencyKeyInProgress,
    /// The order holds more units or value than one order may (orders-api
    /// 422, naming the limit).
    OrderLimitExceeded,
}

impl Code {
    pub const ALL: [Self; 6] = [
        Self::CustomerNotFound,
        Self::ProductNotFound,
        Self::InsufficientStock,
        Self::IdempotencyKeyReused,
        Self::IdempotencyKeyInProgress,
        Self::OrderLimitExceeded,
    ];

    /// The code as written in problem documents.
    pub const fn as_str(self) -> &'static str {
        match self {
            Self::CustomerNotFound => "customer_not_found",
            Self::ProductNotFound => "product_not_found",
            Self::InsufficientStock => "insufficient_stock",
            Self::IdempotencyKeyReused => "idempotency_key_reused",
            Self::IdempotencyKeyInProgress => "idempotency_key_in_progress",
            Self::OrderLimitExceeded => "order_limit_exceeded",
        }
    }

    /// The code a problem document carries, if it is one of these.
    pub fn parse(raw: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == raw)
    }
}

impl std::fmt::Display for Code {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_others_do_not() {
        for code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::parse("invalid_state"), None);
        assert_eq!(Code::parse("Insufficient_Stock"), None);
    }
}
