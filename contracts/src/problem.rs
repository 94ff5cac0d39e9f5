//! The problem codes one service acts on when another answers them. Both
//! sides name a code through [`Code`], so the code a service sends and the
//! code its caller branches on cannot drift apart.

crate::codes! {
    /// A problem code callers branch on (the `code` of a problem document).
    pub enum Code {
        /// No such customer (customers-api 404; orders-api 422 on create).
        CustomerNotFound = "customer_not_found",
        /// An ordered product does not exist (orders-api 422).
        ProductNotFound = "product_not_found",
        /// Not enough stock for an item (orders-api 409).
        InsufficientStock = "insufficient_stock",
        /// The idempotency key was used with another request (orders-api 422).
        IdempotencyKeyReused = "idempotency_key_reused",
        /// Another request with the same idempotency key is running (orders-api
        /// 409, with `Retry-After`): transient.
        IdempotencyKeyInProgress = "idempotency_key_in_progress",
        /// The order holds more units or value than one order may (orders-api
        /// 422, naming the limit).
        OrderLimitExceeded = "order_limit_exceeded",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_parses_back_and_others_do_not() {
        for &code in Code::ALL {
            assert_eq!(Code::parse(code.as_str()), Some(code));
        }
        assert_eq!(Code::parse("invalid_state"), None);
        assert_eq!(Code::parse("Insufficient_Stock"), None);
    }
}
