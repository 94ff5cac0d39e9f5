//! The problem codes customers-api answers: its own, the one its callers
//! act on (`customer_not_found`, a `contracts::Code`), and the kit's.

use contracts::Code;
use kit_server::problem::{every_code, DocumentedCodes};

contracts::codes! {
    /// customers-api's own problem codes.
    pub enum CustomersCode {
        /// Another customer has this email (409).
        EmailTaken = "email_taken",
    }
}

/// The codes of `contracts::Code` that customers-api answers.
pub const SHARED: &[Code] = &[Code::CustomerNotFound];

/// The OpenAPI document's modifier that lists [`every`] code.
pub const PROBLEM_CODES: DocumentedCodes = DocumentedCodes(every);

/// Every code customers-api can answer, as its OpenAPI document lists them:
/// its own, `customer_not_found`, the kit's.
pub fn every() -> Vec<&'static str> {
    every_code(CustomersCode::ALL.iter().map(|c| c.as_str()), SHARED)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_code_is_documented_once() {
        let doc = <crate::openapi::ApiDoc as utoipa::OpenApi>::openapi();
        kit_testing::assert_codes_documented(CustomersCode::ALL, &every(), &doc);
    }
}
