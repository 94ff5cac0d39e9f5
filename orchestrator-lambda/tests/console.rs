//! The console explains every code it can be answered with: each `code`
//! either API's OpenAPI document lists for its problems, and each code of
//! the saga's own answer, has its words in `console/codes.js`.

use std::collections::BTreeSet;

use orchestrator_lambda::saga::SagaCode;
use utoipa::OpenApi;

/// The codes a document lists as the `enum` of `Problem.code`.
fn problem_codes(doc: utoipa::openapi::OpenApi) -> BTreeSet<String> {
    let json = serde_json::to_value(doc).expect("the document serialises");
    let codes = &json["components"]["schemas"]["Problem"]["properties"]["code"]["enum"];
    let codes: BTreeSet<String> = codes
        .as_array()
        .expect("Problem.code lists its codes")
        .iter()
        .filter_map(|c| c.as_str().map(str::to_owned))
        .collect();
    assert!(codes.len() > 10, "{codes:?}");
    codes
}

/// The codes `console/codes.js` has words for (`code: "..."` lines).
fn explained() -> BTreeSet<String> {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("console/codes.js");
    let text = std::fs::read_to_string(path).expect("console/codes.js");
    text.lines()
        .filter_map(|l| {
            let (name, rest) = l.trim().split_once(": \"")?;
            (name.chars().all(|c| c.is_ascii_lowercase() || c == '_') && rest.ends_with("\","))
                .then(|| name.to_owned())
        })
        .collect()
}

#[test]
fn the_console_explains_every_code_either_api_or_the_saga_answers() {
    let mut answered = problem_codes(customers_api::openapi::ApiDoc::openapi());
    answered.extend(problem_codes(orders_api::openapi::ApiDoc::openapi()));
    answered.extend(SagaCode::ALL.iter().map(|c| c.as_str().to_owned()));
    let explained = explained();
    let missing: Vec<&String> = answered.difference(&explained).collect();
    assert!(
        missing.is_empty(),
        "console/codes.js has no words for {missing:?}"
    );
}
