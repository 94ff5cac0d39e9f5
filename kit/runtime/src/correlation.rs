//! Correlation ids: taken from `X-Correlation-Id` (or generated), echoed on the
//! response, stamped on every log line of the request (through the root span)
//! and readable anywhere in the request's task with [`current`], so problem
//! documents and downstream calls carry it too.

use std::fmt;

/// The name of the header that carries the id, in and out.
pub const HEADER_NAME: &str = contracts::headers::CORRELATION_ID;

/// Longest id accepted from a caller; longer ones are replaced.
pub const MAX_LEN: usize = 128;

tokio::task_local! {
    static CURRENT: CorrelationId;
}

/// An id that ties together every log line and call made for one request.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CorrelationId(String);

impl CorrelationId {
    /// A fresh random id.
    pub fn generate() -> Self {
        Self(uuid::Uuid::new_v4().to_string())
    }

    /// Accepts 1..=128 visible ASCII characters (no spaces): anything else could
    /// break log lines or header values, and is replaced by a generated id.
    pub fn parse(raw: &str) -> Option<Self> {
        let ok =
            !raw.is_empty() && raw.len() <= MAX_LEN && raw.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(raw.to_owned()))
    }

    /// The caller's id (the header's value, if it has one) when it is
    /// acceptable, a generated one otherwise.
    pub fn from_header(value: Option<&str>) -> Self {
        value.and_then(Self::parse).unwrap_or_else(Self::generate)
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for CorrelationId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// The correlation id of the request this task is serving, if any.
pub fn current() -> Option<CorrelationId> {
    CURRENT.try_with(Clone::clone).ok()
}

/// Runs `fut` with `id` as the current correlation id.
pub async fn scope<F: std::future::Future>(id: CorrelationId, fut: F) -> F::Output {
    CURRENT.scope(id, fut).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accepts_reasonable_ids_and_rejects_the_rest() {
        assert_eq!(
            CorrelationId::parse("req-001").map(|c| c.0),
            Some("req-001".into())
        );
        assert!(CorrelationId::parse("").is_none());
        assert!(CorrelationId::parse("has space").is_none());
        assert!(CorrelationId::parse("line\nbreak").is_none());
        assert!(CorrelationId::parse(&"x".repeat(MAX_LEN)).is_some());
        assert!(CorrelationId::parse(&"x".repeat(MAX_LEN + 1)).is_none());
    }

    #[test]
    fn bad_header_gets_a_generated_uuid() {
        let id = CorrelationId::from_header(Some("a b"));
        assert!(uuid::Uuid::parse_str(id.as_str()).is_ok());
    }

    #[tokio::test]
    async fn current_is_visible_inside_the_scope_only() {
        assert!(current().is_none());
        let id = CorrelationId::generate();
        let seen = scope(id.clone(), async { current() }).await;
        assert_eq!(seen, Some(id));
    }
}
