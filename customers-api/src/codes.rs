//! The problem codes customers-api answers: its own, the one its callers
//! act on (`customer_not_found`, a `contracts::Code`), and the kit's.

use contracts::Code;
use service_kit::problem::{DocumentedCodes, KitCode};

service_kit::problem_codes! {
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

/// Every code customers-api can answer, as its OpenAPI document lists them.
pub fn every() -> Vec<&'static str> {
    let own = CustomersCode::ALL.iter().map(|c| c.as_str());
    let shared = SHARED.iter().map(|c| c.as_str());
    let kit = KitCode::ALL.iter().map(|c| c.as_str());
    own.chain(shared).chain(kit).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use service_kit::problem::is_snake_case;

    #[test]
    fn every_code_is_snake_case_and_listed_once() {
        let all = every();
        for code in &all {
            assert!(is_snake_case(code), "{code}");
            assert_eq!(all.iter().filter(|c| *c == code).count(), 1, "{code}");
        }
        for code in CustomersCode::ALL {
            let json = serde_json::to_value(code).expect("serialises");
            assert_eq!(json, code.as_str());
        }
    }

    #[test]
    fn the_openapi_document_lists_every_code() {
        let doc = serde_json::to_value(<crate::openapi::ApiDoc as utoipa::OpenApi>::openapi())
            .expect("serialises");
        let listed = &doc["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
        assert_eq!(listed, &serde_json::json!(every()));
    }
}
