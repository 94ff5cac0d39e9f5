//! An idempotency key as orders-api accepts it, and why one cannot be used now.

/// An idempotency key as orders-api accepts it: 1..=255 visible ASCII
/// characters, surrounding spaces trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Option<Self> {
        let key = raw.trim();
        let ok = !key.is_empty()
            && key.len() <= Self::MAX_LEN
            && key.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a key cannot be used now: the rules of idempotency keys, free of
/// HTTP.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum KeyConflict {
    #[error("this idempotency key was used with a different request (body or target)")]
    Reused,
    #[error("a request with this idempotency key is still being processed; retry later")]
    InProgress { retry_after_secs: i64 },
}
