//! The saga's request (a contract: `contracts::SagaRequest`, with its
//! limits) and the orders-api keys derived from it.

pub use contracts::SagaRequest;
use sha2::{Digest, Sha256};

/// The orders-api keys of one saga: derived from the caller's subject and
/// key (hashed, so any characters are fine), one per write.
pub struct Keys {
    pub create: String,
    pub confirm: String,
    pub cancel: String,
}

impl Keys {
    pub fn derive(subject: &str, key: &str) -> Self {
        let mut h = Sha256::new();
        h.update(subject.as_bytes());
        h.update([0]);
        h.update(key.as_bytes());
        let digest = hex::encode(h.finalize());
        let stem = &digest[..32];
        Self {
            create: format!("saga-{stem}-create"),
            confirm: format!("saga-{stem}-confirm"),
            cancel: format!("saga-{stem}-cancel"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_stable_distinct_and_safe_for_any_input() {
        let a = Keys::derive("alice", "abc-124");
        let b = Keys::derive("alice", "abc-124");
        assert_eq!(a.create, b.create);
        assert_ne!(a.create, Keys::derive("alice", "abc-125").create);
        assert_ne!(a.create, Keys::derive("bob", "abc-124").create);
        // No ambiguity between the subject and the key.
        assert_ne!(
            Keys::derive("ab", "c").create,
            Keys::derive("a", "bc").create
        );
        assert_ne!(a.create, a.confirm);
        let odd = Keys::derive("alice", "ключ with spaces ✓");
        assert!(odd.cancel.bytes().all(|b| b.is_ascii_graphic()));
        assert!(odd.cancel.len() <= 255);
    }
}
