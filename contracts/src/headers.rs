//! The names of the headers this project defines, in the lowercase form
//! HTTP/2 and the `http` crate use (header names are case-insensitive).
//! Standard headers (`ETag`, `If-Match`, `Location`, `Retry-After`, ...)
//! are named by the `http` crate's own constants.

/// The id that ties together every log line and call made for one request,
/// in and out.
pub const CORRELATION_ID: &str = "x-correlation-id";
/// How many milliseconds the caller will still wait for the answer.
pub const REQUEST_TIMEOUT_MS: &str = "x-request-timeout-ms";
/// The key that makes a write safe to retry.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";
/// The same key under the name some clients still send.
pub const X_IDEMPOTENCY_KEY: &str = "x-idempotency-key";
/// `true` on an answer replayed for a retried idempotency key.
pub const IDEMPOTENT_REPLAYED: &str = "idempotent-replayed";
