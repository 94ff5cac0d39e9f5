//! RFC 9457 problem documents, the one error type every handler returns, and
//! extractors whose failures are problem documents too (never actix's plain
//! text, never a 5xx for bad input).

use std::{borrow::Cow, fmt, future::Future, pin::Pin};

use actix_web::{
    dev::Payload,
    error::{PathError, PayloadError, QueryPayloadError},
    http::{
        header::{self, HeaderName, HeaderValue},
        StatusCode,
    },
    web, FromRequest, HttpRequest, HttpResponse, ResponseError,
};
use serde::{de::DeserializeOwned, Serialize};
use utoipa::ToSchema;

use crate::correlation;

/// Media type of problem documents.
pub const CONTENT_TYPE: &str = "application/problem+json";

pub use contracts::codes::ProblemCode;

contracts::codes! {
    /// The codes every service answers alike: bad requests, credentials,
    /// preconditions, deadlines and failures of ours.
    pub enum KitCode {
        /// One or more fields are invalid (`errors` lists them).
        ValidationFailed = "validation_failed",
        /// The body is not JSON.
        UnsupportedMediaType = "unsupported_media_type",
        /// The body is larger than the endpoint accepts.
        PayloadTooLarge = "payload_too_large",
        /// The body could not be read.
        UnreadableBody = "unreadable_body",
        /// The body is empty.
        EmptyBody = "empty_body",
        /// The body is not valid JSON.
        MalformedJson = "malformed_json",
        /// A path parameter is invalid (an id that is no positive integer).
        InvalidPath = "invalid_path",
        /// The query string is invalid.
        InvalidQuery = "invalid_query",
        /// A list's cursor is not one this API issued.
        InvalidCursor = "invalid_cursor",
        /// No such route.
        RouteNotFound = "route_not_found",
        /// The route exists, not with this method.
        MethodNotAllowed = "method_not_allowed",
        /// No credential, or a malformed one.
        Unauthorized = "unauthorized",
        /// The credential is invalid or expired.
        InvalidToken = "invalid_token",
        /// The token is valid but does not grant the scope the route needs
        /// (the detail and `WWW-Authenticate` name it).
        Forbidden = "forbidden",
        /// `If-Match` is malformed.
        InvalidIfMatch = "invalid_if_match",
        /// `If-Match` does not match the current entity tag.
        PreconditionFailed = "precondition_failed",
        /// The write needs `If-Match`.
        PreconditionRequired = "precondition_required",
        /// `X-Request-Timeout-Ms` is no whole number of milliseconds.
        InvalidRequestTimeout = "invalid_request_timeout",
        /// The request's deadline ran out.
        DeadlineExceeded = "deadline_exceeded",
        /// The service cannot serve yet (readiness).
        NotReady = "not_ready",
        /// The database is unavailable; retry later.
        DatabaseUnavailable = "database_unavailable",
        /// A failure of ours; the cause is logged, never sent.
        InternalError = "internal_error",
    }
}

/// One invalid field of a request.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, ToSchema)]
pub struct FieldError {
    /// Where the value is: a JSON path into the body (`items[2].qty`) or a parameter name.
    pub field: String,
    /// What is wrong with it.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// An RFC 9457 problem document, as sent.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URI naming the kind of problem (`urn:problem:<code>`).
    #[serde(rename = "type")]
    #[schema(example = "urn:problem:email_taken")]
    pub kind: String,
    /// A short summary of the kind of problem.
    #[schema(example = "Email taken")]
    pub title: String,
    /// The HTTP status code.
    #[schema(example = 409)]
    pub status: u16,
    /// What went wrong with this request.
    pub detail: String,
    /// Stable snake_case code to branch on.
    #[schema(example = "email_taken")]
    pub code: String,
    /// The request's correlation id (also in `X-Correlation-Id`).
    pub correlation_id: Option<String>,
    /// The invalid fields, for validation failures.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub errors: Vec<FieldError>,
}

/// A modifier of a service's OpenAPI document: the `code` of `Problem`
/// becomes an `enum` of every code the service answers (`codes()`, the
/// service's own first).
pub struct DocumentedCodes(pub fn() -> Vec<&'static str>);

impl utoipa::Modify for DocumentedCodes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::{schema::Schema, RefOr};
        let problem = openapi
            .components
            .as_mut()
            .and_then(|c| c.schemas.get_mut("Problem"));
        let Some(RefOr::T(Schema::Object(problem))) = problem else {
            return;
        };
        if let Some(RefOr::T(Schema::Object(code))) = problem.properties.get_mut("code") {
            let codes: Vec<_> = (self.0)()
                .into_iter()
                .map(serde_json::Value::from)
                .collect();
            // The example is one of the service's own codes (listed first).
            #[allow(deprecated)]
            {
                code.example = codes.first().cloned();
            }
            code.enum_values = Some(codes);
        }
    }
}

/// Every code a service answers, as its OpenAPI document lists them: its
/// own (`own`), the `contracts::Code`s it sends (`shared`), the kit's.
pub fn every_code(
    own: impl IntoIterator<Item = &'static str>,
    shared: &[contracts::Code],
) -> Vec<&'static str> {
    let shared = shared.iter().map(|c| c.as_str());
    let kit = KitCode::ALL.iter().map(|c| c.as_str());
    own.into_iter().chain(shared).chain(kit).collect()
}

/// Whether `code` is written as codes are: snake_case ASCII, starting with
/// a letter.
pub fn is_snake_case(code: &str) -> bool {
    code.starts_with(|c: char| c.is_ascii_lowercase())
        && code
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
        && !code.contains("__")
        && !code.ends_with('_')
}

/// The error of every handler: either the caller's fault (a 4xx with a code and
/// a detail meant for them) or ours (a 5xx whose cause goes to the log only).
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    detail: Cow<'static, str>,
    errors: Vec<FieldError>,
    headers: Vec<(HeaderName, HeaderValue)>,
    source: Option<anyhow::Error>,
}

impl ApiError {
    pub fn new(
        status: StatusCode,
        code: impl ProblemCode,
        detail: impl Into<Cow<'static, str>>,
    ) -> Self {
        Self {
            status,
            code: code.as_str(),
            detail: detail.into(),
            errors: Vec::new(),
            headers: Vec::new(),
            source: None,
        }
    }

    pub fn bad_request(code: impl ProblemCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::BAD_REQUEST, code, detail)
    }

    /// 400 `validation_failed` listing every invalid field.
    pub fn validation(errors: Vec<FieldError>) -> Self {
        let detail = match errors.as_slice() {
            [one] => format!("{}: {}", one.field, one.message),
            _ => format!("{} fields are invalid", errors.len()),
        };
        let mut e = Self::bad_request(KitCode::ValidationFailed, detail);
        e.errors = errors;
        e
    }

    pub fn not_found(code: impl ProblemCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::NOT_FOUND, code, detail)
    }

    pub fn conflict(code: impl ProblemCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::CONFLICT, code, detail)
    }

    /// 401 with `WWW-Authenticate: Bearer`.
    pub fn unauthorized(code: KitCode, detail: impl Into<Cow<'static, str>>) -> Self {
        Self::new(StatusCode::UNAUTHORIZED, code, detail).with_header(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"order-back-office\""),
        )
    }

    /// A failure of ours: the body says only that something went wrong; the
    /// cause is logged with the request's correlation id.
    pub fn internal(source: impl Into<anyhow::Error>) -> Self {
        let mut e = Self::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            KitCode::InternalError,
            "the request could not be completed; it is safe to retry",
        );
        e.source = Some(source.into());
        e
    }

    /// A dependency (database, another service) is unavailable.
    pub fn unavailable(
        code: impl ProblemCode,
        detail: &'static str,
        source: impl Into<anyhow::Error>,
    ) -> Self {
        let mut e = Self::new(StatusCode::SERVICE_UNAVAILABLE, code, detail);
        e.source = Some(source.into());
        e
    }

    pub fn with_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        self.headers.push((name, value));
        self
    }

    pub fn with_errors(mut self, errors: Vec<FieldError>) -> Self {
        self.errors = errors;
        self
    }

    pub fn code(&self) -> &'static str {
        self.code
    }

    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The document this error is sent as.
    pub fn problem(&self) -> Problem {
        Problem {
            kind: format!("urn:problem:{}", self.code),
            title: title_of(self.code),
            status: self.status.as_u16(),
            detail: self.detail.to_string(),
            code: self.code.to_string(),
            correlation_id: correlation::current().map(|c| c.to_string()),
            errors: self.errors.clone(),
        }
    }
}

/// `email_taken` → `Email taken`: one title per kind of problem.
fn title_of(code: &str) -> String {
    let mut title = code.replace('_', " ");
    if let Some(first) = title.get_mut(0..1) {
        first.make_ascii_uppercase();
    }
    title
}

impl fmt::Debug for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}: {}", self.status.as_u16(), self.code, self.detail)?;
        if let Some(source) = &self.source {
            write!(f, ": {source:?}")?;
        }
        Ok(())
    }
}

impl fmt::Display for ApiError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.code, self.detail)
    }
}

impl std::error::Error for ApiError {}

/// The invalid fields of an input, as a 400 `validation_failed` listing
/// them.
impl From<Vec<contracts::invalid::Invalid>> for ApiError {
    fn from(invalid: Vec<contracts::invalid::Invalid>) -> Self {
        Self::validation(
            invalid
                .into_iter()
                .map(|i| FieldError::new(i.field, i.message))
                .collect(),
        )
    }
}

impl From<sqlx::Error> for ApiError {
    fn from(e: sqlx::Error) -> Self {
        match &e {
            sqlx::Error::PoolTimedOut | sqlx::Error::Io(_) => Self::unavailable(
                KitCode::DatabaseUnavailable,
                "the database is unavailable; retry later",
                e,
            )
            .with_header(header::RETRY_AFTER, HeaderValue::from_static("1")),
            _ => Self::internal(e),
        }
    }
}

impl From<anyhow::Error> for ApiError {
    fn from(e: anyhow::Error) -> Self {
        Self::internal(e)
    }
}

impl ResponseError for ApiError {
    fn status_code(&self) -> StatusCode {
        self.status
    }

    fn error_response(&self) -> HttpResponse {
        if let Some(source) = &self.source {
            tracing::error!(code = %self.code, error = ?source, "request failed");
        }
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, CONTENT_TYPE));
        for (name, value) in &self.headers {
            res.insert_header((name.clone(), value.clone()));
        }
        res.json(self.problem())
    }
}

/// JSON body extractor: checks the media type, honours the app's
/// `web::PayloadConfig` limit, and reports where the body is wrong
/// (`items[1].qty: invalid type ...`) as a problem document.
pub struct Json<T>(pub T);

impl<T> Json<T> {
    pub fn into_inner(self) -> T {
        self.0
    }
}

impl<T: DeserializeOwned + 'static> FromRequest for Json<T> {
    type Error = ApiError;
    type Future = Pin<Box<dyn Future<Output = Result<Self, ApiError>>>>;

    fn from_request(req: &HttpRequest, payload: &mut Payload) -> Self::Future {
        let json_media_type = is_json(req);
        let body = web::Bytes::from_request(req, payload);
        Box::pin(async move {
            if !json_media_type {
                return Err(ApiError::new(
                    StatusCode::UNSUPPORTED_MEDIA_TYPE,
                    KitCode::UnsupportedMediaType,
                    "the request body must be JSON (Content-Type: application/json)",
                ));
            }
            let body = body.await.map_err(payload_error)?;
            parse_json(&body).map(Json)
        })
    }
}

fn is_json(req: &HttpRequest) -> bool {
    let Some(value) = req.headers().get(header::CONTENT_TYPE) else {
        return false;
    };
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

fn payload_error(e: actix_web::Error) -> ApiError {
    match e.as_error::<PayloadError>() {
        Some(PayloadError::Overflow) => ApiError::new(
            StatusCode::PAYLOAD_TOO_LARGE,
            KitCode::PayloadTooLarge,
            "the request body is larger than this endpoint accepts",
        ),
        _ => ApiError::bad_request(
            KitCode::UnreadableBody,
            "the request body could not be read",
        ),
    }
}

/// Parses a JSON document, naming the offending field on failure.
pub fn parse_json<T: DeserializeOwned>(body: &[u8]) -> Result<T, ApiError> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(ApiError::bad_request(
            KitCode::EmptyBody,
            "the request body is empty; a JSON document is required",
        ));
    }
    let mut de = serde_json::Deserializer::from_slice(body);
    let value = serde_path_to_error::deserialize(&mut de).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner();
        json_error(&path, &inner)
    })?;
    de.end().map_err(|e| json_error(".", &e))?;
    Ok(value)
}

fn json_error(path: &str, e: &serde_json::Error) -> ApiError {
    use serde_json::error::Category;
    match e.classify() {
        Category::Syntax | Category::Eof | Category::Io => ApiError::bad_request(
            KitCode::MalformedJson,
            format!("the request body is not valid JSON ({e})"),
        ),
        Category::Data => {
            let message = strip_position(&e.to_string());
            // serde reports a missing field at the path of the object that lacks it.
            let field = match missing_field(&message) {
                Some(name) if path == "." => name.to_owned(),
                Some(name) => format!("{path}.{name}"),
                None if path == "." => "body".to_owned(),
                None => path.to_owned(),
            };
            ApiError::validation(vec![FieldError::new(field, message)])
        }
    }
}

fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_owned(),
        None => message.to_owned(),
    }
}

fn missing_field(message: &str) -> Option<&str> {
    message
        .strip_prefix("missing field `")
        .and_then(|rest| rest.split('`').next())
}

/// `web::PathConfig` whose failures (`/customers/abc`, `/customers/-1`, ids
/// that overflow) are 400 problem documents.
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|e: PathError, _req| {
        let PathError::Deserialize(inner) = &e else {
            return ApiError::bad_request(KitCode::InvalidPath, "the path is invalid").into();
        };
        ApiError::bad_request(
            KitCode::InvalidPath,
            format!("invalid path parameter: {inner}"),
        )
        .with_errors(vec![FieldError::new("path", inner.to_string())])
        .into()
    })
}

/// `web::QueryConfig` whose failures are 400 problem documents.
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|e: QueryPayloadError, _req| {
        let message = match &e {
            QueryPayloadError::Deserialize(inner) => inner.to_string(),
            other => other.to_string(),
        };
        ApiError::bad_request(
            KitCode::InvalidQuery,
            format!("invalid query string: {message}"),
        )
        .into()
    })
}

/// `web::JsonConfig` for any handler using actix's own `web::Json`.
pub fn json_config(limit: usize) -> web::JsonConfig {
    web::JsonConfig::default()
        .limit(limit)
        .error_handler(|e, _req| match e {
            actix_web::error::JsonPayloadError::OverflowKnownLength { .. }
            | actix_web::error::JsonPayloadError::Overflow { .. } => ApiError::new(
                StatusCode::PAYLOAD_TOO_LARGE,
                KitCode::PayloadTooLarge,
                "the request body is larger than this endpoint accepts",
            )
            .into(),
            actix_web::error::JsonPayloadError::ContentType => ApiError::new(
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                KitCode::UnsupportedMediaType,
                "the request body must be JSON (Content-Type: application/json)",
            )
            .into(),
            other => ApiError::bad_request(KitCode::MalformedJson, other.to_string()).into(),
        })
}

/// The app's default service: unknown paths are 404 problem documents.
pub async fn not_found() -> HttpResponse {
    ApiError::not_found(KitCode::RouteNotFound, "no such route").error_response()
}

/// A resource's default service: a known path with an unsupported method is
/// a 405 problem document with the `Allow` header (RFC 9110) listing `allow`.
pub fn method_not_allowed(allow: &'static str) -> actix_web::Route {
    actix_web::web::to(move || async move {
        let mut res = ApiError::new(
            StatusCode::METHOD_NOT_ALLOWED,
            KitCode::MethodNotAllowed,
            format!("this route supports {allow}"),
        )
        .error_response();
        res.headers_mut().insert(
            actix_web::http::header::ALLOW,
            actix_web::http::header::HeaderValue::from_static(allow),
        );
        res
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Item {
        product_id: u64,
        qty: u32,
    }

    #[derive(Debug, serde::Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Body {
        name: String,
        items: Vec<Item>,
    }

    fn field_of(e: &ApiError) -> &str {
        &e.errors[0].field
    }

    #[test]
    fn names_the_field_of_a_wrong_type() {
        let e = parse_json::<Body>(br#"{"name":"a","items":[{"product_id":1,"qty":"x"}]}"#)
            .expect_err("must fail");
        assert_eq!(e.code(), "validation_failed");
        assert_eq!(field_of(&e), "items[0].qty");
    }

    #[test]
    fn names_a_missing_field() {
        let e = parse_json::<Body>(br#"{"items":[]}"#).expect_err("must fail");
        assert_eq!(field_of(&e), "name");
        let e = parse_json::<Body>(br#"{"name":"a","items":[{"qty":1}]}"#).expect_err("must fail");
        assert_eq!(field_of(&e), "items[0].product_id");
    }

    #[test]
    fn tells_malformed_from_empty_and_trailing_garbage() {
        let e = parse_json::<Body>(b"{").expect_err("must fail");
        assert_eq!(e.code(), "malformed_json");
        let e = parse_json::<Body>(b"  ").expect_err("must fail");
        assert_eq!(e.code(), "empty_body");
        let e = parse_json::<Body>(br#"{"name":"a","items":[]} x"#).expect_err("must fail");
        assert_eq!(e.code(), "malformed_json");
    }

    #[test]
    fn overflowing_numbers_are_validation_errors() {
        let e = parse_json::<Body>(
            br#"{"name":"a","items":[{"product_id":99999999999999999999,"qty":1}]}"#,
        )
        .expect_err("must fail");
        assert_eq!(e.status(), StatusCode::BAD_REQUEST);
        assert_eq!(field_of(&e), "items[0].product_id");
    }

    #[test]
    fn internal_errors_keep_their_cause_out_of_the_document() {
        let e = ApiError::internal(anyhow::anyhow!("secret table name"));
        let doc = serde_json::to_string(&e.problem()).expect("serializes");
        assert!(!doc.contains("secret"));
        assert_eq!(e.status(), StatusCode::INTERNAL_SERVER_ERROR);
    }

    #[test]
    fn kit_codes_are_snake_case_and_distinct() {
        let mut seen = std::collections::HashSet::new();
        for code in KitCode::ALL {
            assert!(is_snake_case(code.as_str()), "{code}");
            assert!(seen.insert(code.as_str()), "{code} twice");
            let json = serde_json::to_value(code).expect("serialises");
            assert_eq!(json, code.as_str());
        }
        assert!(!is_snake_case("Email_taken"));
        assert!(!is_snake_case("email-taken"));
        assert!(!is_snake_case("email_"));
    }

    #[test]
    fn titles_come_from_codes() {
        assert_eq!(title_of("email_taken"), "Email taken");
        assert_eq!(title_of(""), "");
    }
}

/// Declares a problem answer for `responses(...)` of `#[utoipa::path]`:
/// `problem_response!(/// doc, Name, 404, "description")`.
#[macro_export]
macro_rules! problem_response {
    ($(#[$meta:meta])* $vis:vis $name:ident, $status:tt, $description:tt) => {
        $(#[$meta])*
        #[derive(utoipa::IntoResponses)]
        #[response(status = $status, description = $description, content_type = "application/problem+json")]
        $vis struct $name(#[allow(dead_code)] $crate::problem::Problem);
    };
}

/// The problem answers every endpoint documents alike.
pub mod responses {
    use utoipa::IntoResponses;

    use super::Problem;

    /// 401: no valid user token; 403 `forbidden`: the token lacks the scope
    /// the operation's `security` names.
    #[derive(IntoResponses)]
    pub enum Unauthorized {
        #[response(
            status = 401,
            description = "Missing or bad token",
            content_type = "application/problem+json"
        )]
        Missing(#[allow(dead_code)] Problem),
        #[response(
            status = 403,
            description = "`forbidden`: the token does not grant the scope this operation needs",
            content_type = "application/problem+json"
        )]
        Forbidden(#[allow(dead_code)] Problem),
    }

    crate::problem_response!(
        /// 400: the id in the path is no positive integer.
        pub MalformedId, 400, "Malformed id"
    );

    crate::problem_response!(
        /// 400: a list's `search`, `limit` or `cursor` is invalid.
        pub BadSearch, 400, "Bad limit, cursor or search"
    );

    /// 413 and 415: a body too large, or not JSON.
    #[derive(IntoResponses)]
    pub enum BodyRefused {
        #[response(
            status = 413,
            description = "Body too large",
            content_type = "application/problem+json"
        )]
        TooLarge(#[allow(dead_code)] Problem),
        #[response(
            status = 415,
            description = "Body is not JSON",
            content_type = "application/problem+json"
        )]
        NotJson(#[allow(dead_code)] Problem),
    }
}
