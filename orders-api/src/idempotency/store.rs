//! The `idempotency_keys` table: a key's row (its claim, and once the work
//! is done, its answer), read, written and purged. The protocol that uses
//! it is `crate::idempotency`.

use std::time::Duration;

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;

use super::key::{IdempotencyKey, KeyConflict};
use crate::store::{error_number, now, Tx, TxError, LOCK_WAIT_TIMEOUT};

/// The key of a request as stored: scoped to its endpoint (`scope`) and its
/// caller (`subject`), with a fingerprint of the request (its target and
/// body).
#[derive(Debug, Clone)]
pub struct Idem {
    pub scope: &'static str,
    pub subject: String,
    pub key: IdempotencyKey,
    pub fingerprint: [u8; 32],
}

impl Idem {
    /// `subject` is the caller; `target` names what the request acts on (an
    /// order id, or nothing); `body` is the request's canonical form.
    pub fn new(
        scope: &'static str,
        subject: &str,
        key: IdempotencyKey,
        target: &str,
        body: &[u8],
    ) -> Self {
        let mut h = Sha256::new();
        h.update(scope.as_bytes());
        h.update([0]);
        h.update(target.as_bytes());
        h.update([0]);
        h.update(body);
        Self {
            scope,
            subject: subject.to_owned(),
            key,
            fingerprint: h.finalize().into(),
        }
    }
}

/// An answer as stored: status, media type, `Location`, body bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    pub status: u16,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Answer {
    /// `value` as a JSON answer with `status`.
    pub fn json<T: serde::Serialize>(status: u16, value: &T) -> Result<Self, serde_json::Error> {
        Ok(Self {
            status,
            content_type: "application/json".into(),
            location: None,
            body: serde_json::to_vec(value)?,
        })
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }
}

struct Row {
    fingerprint: Vec<u8>,
    locked_until: Option<DateTime<Utc>>,
    response_status: Option<u16>,
    content_type: Option<String>,
    location: Option<String>,
    response_body: Option<Vec<u8>>,
}

impl Row {
    /// The row's answer, if it has one.
    fn answer(self) -> Option<Answer> {
        let (Some(status), Some(content_type), Some(body)) =
            (self.response_status, self.content_type, self.response_body)
        else {
            return None;
        };
        Some(Answer {
            status,
            content_type,
            location: self.location,
            body,
        })
    }
}

/// What a committed row of the key says.
pub enum Found {
    Answer(Answer),
    /// Purged in between: the key is free.
    Gone,
    /// An earlier version's lease that expired without an answer.
    Abandoned,
}

/// The answer already stored for `idem`, read without a transaction or a
/// lock. `None` when the key has no committed answer.
pub async fn stored(pool: &MySqlPool, idem: &Idem) -> Result<Option<Answer>, TxError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT fingerprint, locked_until AS "locked_until: chrono::DateTime<chrono::Utc>",
                  response_status, content_type, location, response_body
           FROM idempotency_keys WHERE scope = ? AND subject = ? AND idem_key = ?"#,
        idem.scope,
        idem.subject,
        idem.key.as_str()
    )
    .fetch_optional(pool)
    .await?;
    match row {
        Some(row) if row.fingerprint != idem.fingerprint => Err(KeyConflict::Reused.into()),
        Some(row) => Ok(row.answer()),
        None => Ok(None),
    }
}

/// Reads the key's committed row with a shared lock: the latest version
/// whatever the transaction read before, and no deadlock between twins that
/// all read it at once (each holds a shared lock from its failed insert).
pub async fn find(tx: &mut Tx, idem: &Idem) -> Result<Found, TxError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT fingerprint, locked_until AS "locked_until: chrono::DateTime<chrono::Utc>",
                  response_status, content_type, location, response_body
           FROM idempotency_keys WHERE scope = ? AND subject = ? AND idem_key = ? LOCK IN SHARE MODE"#,
        idem.scope,
        idem.subject,
        idem.key.as_str()
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(waited)?;
    let Some(row) = row else {
        return Ok(Found::Gone);
    };
    if row.fingerprint != idem.fingerprint {
        return Err(KeyConflict::Reused.into());
    }
    let locked_until = row.locked_until;
    if let Some(answer) = row.answer() {
        return Ok(Found::Answer(answer));
    }
    match locked_until {
        Some(until) if until > now() => Err(KeyConflict::InProgress {
            retry_after_secs: (until - now()).num_seconds() + 1,
        }
        .into()),
        _ => Ok(Found::Abandoned),
    }
}

/// A lock wait past `IDEMPOTENCY_WAIT_SECS` means another request holds the
/// key: in progress, not a deadlock to run again.
fn waited(e: sqlx::Error) -> TxError {
    if error_number(&e) == Some(LOCK_WAIT_TIMEOUT) {
        KeyConflict::InProgress {
            retry_after_secs: 1,
        }
        .into()
    } else {
        e.into()
    }
}

/// The key of `idempotency_keys` whose violation means "the key has a row".
const KEY: &str = "PRIMARY";

/// Inserts the key's row in `tx`, answer or not. `Ok(false)`: the key has a
/// committed row already.
pub async fn insert(tx: &mut Tx, idem: &Idem, answer: Option<&Answer>) -> Result<bool, TxError> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys
             (scope, subject, idem_key, fingerprint, response_status, content_type, location, response_body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        idem.scope,
        idem.subject,
        idem.key.as_str(),
        &idem.fingerprint[..],
        answer.map(|a| a.status),
        answer.map(|a| a.content_type.as_str()),
        answer.and_then(|a| a.location.as_deref()),
        answer.map(|a| a.body.as_slice()),
        now()
    )
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(e) if kit_server::db::unique_key(&e).as_deref() == Some(KEY) => Ok(false),
        Err(e) => Err(waited(e)),
    }
}

/// Deletes the key's row when it has no answer (an abandoned lease).
pub async fn delete_abandoned(tx: &mut Tx, idem: &Idem) -> Result<(), TxError> {
    sqlx::query!(
        "DELETE FROM idempotency_keys
         WHERE scope = ? AND subject = ? AND idem_key = ? AND response_status IS NULL",
        idem.scope,
        idem.subject,
        idem.key.as_str()
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Writes the answer onto the key's row, claimed in `tx`.
pub async fn save_answer(tx: &mut Tx, idem: &Idem, answer: &Answer) -> Result<(), sqlx::Error> {
    sqlx::query!(
        "UPDATE idempotency_keys
         SET response_status = ?, content_type = ?, location = ?, response_body = ?
         WHERE scope = ? AND subject = ? AND idem_key = ?",
        answer.status,
        answer.content_type,
        answer.location,
        answer.body,
        idem.scope,
        idem.subject,
        idem.key.as_str()
    )
    .execute(&mut **tx)
    .await?;
    Ok(())
}

/// Deletes records older than `ttl`, in batches. Returns how many went.
pub async fn purge(pool: &MySqlPool, ttl: Duration) -> Result<u64, sqlx::Error> {
    let Some(cutoff) = chrono::Duration::from_std(ttl)
        .ok()
        .and_then(|ttl| now().checked_sub_signed(ttl))
    else {
        // A TTL reaching before the calendar begins: nothing is old enough.
        return Ok(0);
    };
    let mut total = 0;
    loop {
        let done = sqlx::query!(
            "DELETE FROM idempotency_keys WHERE created_at < ? LIMIT 1000",
            cutoff
        )
        .execute(pool)
        .await?;
        total += done.rows_affected();
        if done.rows_affected() < 1000 {
            return Ok(total);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(raw: &str) -> IdempotencyKey {
        IdempotencyKey::parse(raw).expect("a valid key")
    }

    #[test]
    fn fingerprints_cover_scope_target_and_body() {
        let a = Idem::new("confirm", "u", key("k"), "1", b"");
        assert_eq!(
            a.fingerprint,
            Idem::new("confirm", "u", key("k"), "1", b"").fingerprint
        );
        assert_ne!(
            a.fingerprint,
            Idem::new("confirm", "u", key("k"), "2", b"").fingerprint
        );
        assert_ne!(
            a.fingerprint,
            Idem::new("cancel", "u", key("k"), "1", b"").fingerprint
        );
        assert_ne!(
            a.fingerprint,
            Idem::new("confirm", "u", key("k"), "1", b"{}").fingerprint
        );
        // No ambiguity between target and body.
        assert_ne!(
            Idem::new("s", "u", key("k"), "1", b"2").fingerprint,
            Idem::new("s", "u", key("k"), "12", b"").fingerprint
        );
    }
}
