//! The problem codes orders-api answers: its own, the ones its callers act
//! on (`contracts::Code`), and the kit's.

use contracts::Code;
use kit_server::problem::{every_code, DocumentedCodes};

contracts::codes! {
    /// orders-api's own problem codes.
    pub enum OrdersCode {
        /// No such order (404).
        OrderNotFound = "order_not_found",
        /// A canceled order cannot be confirmed (409).
        InvalidState = "invalid_state",
        /// A confirmed order is past its cancel window (409).
        CancelWindowExpired = "cancel_window_expired",
        /// Another product has this SKU (409).
        SkuTaken = "sku_taken",
        /// A stock change would leave the stock out of range (409).
        StockOutOfRange = "stock_out_of_range",
        /// The rows a request needs stayed locked by others (503).
        DatabaseBusy = "database_busy",
        /// customers-api could not tell whether the customer exists (503).
        CustomersUnavailable = "customers_unavailable",
        /// The idempotency key is malformed, or its two headers differ (400).
        InvalidIdempotencyKey = "invalid_idempotency_key",
        /// The endpoint needs an idempotency key (400).
        IdempotencyKeyMissing = "idempotency_key_missing",
    }
}

/// The OpenAPI document's modifier that lists [`every`] code.
pub const PROBLEM_CODES: DocumentedCodes = DocumentedCodes(every);

/// Every code orders-api can answer, as its OpenAPI document lists them:
/// its own, every `contracts::Code`, the kit's.
pub fn every() -> Vec<&'static str> {
    every_code(OrdersCode::ALL.iter().map(|c| c.as_str()), Code::ALL)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_once() {
        let doc = <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi();
        kit_testing::assert_codes_documented(OrdersCode::ALL, &every(), &doc);
    }
}
