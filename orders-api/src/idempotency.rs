//! Idempotency keys, after Stripe and the IETF Idempotency-Key draft.
//!
//! - A key is scoped to its endpoint (`scope`) and to its caller (`subject`,
//!   the token's `sub`, as Stripe scopes keys to an account): the same key
//!   from two callers is two requests. It is stored with a fingerprint
//!   of the request: its target and its body. Reusing a key with another body
//!   or target is a 422.
//! - One commit per write: the key's row is the first thing the work's own
//!   transaction writes, and the final answer (status, media type,
//!   `Location`, body bytes) the last. A crash rolls the claim back with the
//!   work, so no claim outlives its request.
//! - A second request with the same key inserts the same row and so waits on
//!   the first one's lock, bounded by the session's `innodb_lock_wait_timeout`
//!   (`IDEMPOTENCY_WAIT_SECS`). When the first commits, the second replays its
//!   answer; when it rolls back, the second does the work; past the bound, it
//!   answers 409 `idempotency_key_in_progress` with `Retry-After`.
//! - Replays answer the stored bytes with `Idempotent-Replayed: true`.
//! - Final refusals (409, 422: the request was valid and the state of things
//!   said no) are stored once the work is rolled back. Validation failures
//!   and failures of ours are not: the key stays free, and the caller may fix
//!   the request and retry.
//! - Rows written by earlier versions of this service may hold a lease
//!   (`owner`, `locked_until`) and no answer: while the lease runs the key
//!   answers 409; once it has expired the row is deleted and the key is free.

use std::time::Duration;

use actix_web::{
    http::{
        header::{self, HeaderMap, HeaderName, HeaderValue},
        StatusCode,
    },
    HttpResponse,
};
use contracts::Code;
use serde::Serialize;
use service_kit::problem::{self, ApiError};
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;

use crate::{
    codes::OrdersCode,
    store::{self, now, Tx, TxError},
};

pub const HEADER: &str = "idempotency-key";
pub const X_HEADER: &str = "x-idempotency-key";
pub const REPLAYED: HeaderName = HeaderName::from_static("idempotent-replayed");

/// The key of a request, from `Idempotency-Key` or `X-Idempotency-Key`.
pub fn key_of(headers: &HeaderMap) -> Result<Option<String>, ApiError> {
    let read = |name: &str| -> Result<Option<String>, ApiError> {
        let Some(value) = headers.get(name) else {
            return Ok(None);
        };
        let key = value.to_str().map_err(|_| invalid_key())?.trim().to_owned();
        let ok = !key.is_empty() && key.len() <= 255 && key.bytes().all(|b| b.is_ascii_graphic());
        if ok {
            Ok(Some(key))
        } else {
            Err(invalid_key())
        }
    };
    match (read(HEADER)?, read(X_HEADER)?) {
        (Some(a), Some(b)) if a != b => Err(ApiError::bad_request(
            OrdersCode::InvalidIdempotencyKey,
            "Idempotency-Key and X-Idempotency-Key differ; send one",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

fn invalid_key() -> ApiError {
    ApiError::bad_request(
        OrdersCode::InvalidIdempotencyKey,
        "the idempotency key must be 1..=255 visible ASCII characters",
    )
}

/// A request's claim on a key.
#[derive(Debug, Clone)]
pub struct Idem {
    pub scope: &'static str,
    pub subject: String,
    pub key: String,
    pub fingerprint: [u8; 32],
}

impl Idem {
    /// `subject` is the caller; `target` names what the request acts on (an
    /// order id, or nothing); `body` is the request's canonical form.
    pub fn new(scope: &'static str, subject: &str, key: String, target: &str, body: &[u8]) -> Self {
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

/// An answer, as sent and as stored.
#[derive(Debug, Clone)]
pub struct Reply {
    pub status: StatusCode,
    pub content_type: String,
    pub location: Option<String>,
    pub body: Vec<u8>,
}

impl Reply {
    pub fn json<T: Serialize>(status: StatusCode, value: &T) -> Result<Self, ApiError> {
        Ok(Self {
            status,
            content_type: "application/json".into(),
            location: None,
            body: serde_json::to_vec(value)
                .map_err(|e| ApiError::internal(anyhow::Error::from(e)))?,
        })
    }

    pub fn problem(e: &ApiError) -> Result<Self, ApiError> {
        let mut reply = Self::json(e.status(), &e.problem())?;
        reply.content_type = problem::CONTENT_TYPE.into();
        Ok(reply)
    }

    pub fn with_location(mut self, location: String) -> Self {
        self.location = Some(location);
        self
    }

    pub fn into_response(self, replayed: bool) -> HttpResponse {
        let mut res = HttpResponse::build(self.status);
        res.insert_header((header::CONTENT_TYPE, self.content_type));
        if let Some(location) = self.location {
            res.insert_header((header::LOCATION, location));
        }
        if replayed {
            res.insert_header((REPLAYED, HeaderValue::from_static("true")));
        }
        res.body(self.body)
    }
}

/// How a write ended, short of an error that is not stored.
pub enum Outcome<T> {
    /// The work is done in `Tx`, which holds the key's claim: answer with
    /// [`commit`].
    Done(Tx, T),
    /// The key has an answer already: send it again.
    Replay(Reply),
    /// The work was refused for good (409, 422); the refusal is stored.
    Refused(Reply),
}

/// Runs `work` in one transaction that first claims `idem`, when there is a
/// key. Deadlocks run it all again. Final refusals are stored for replay;
/// other errors leave the key free.
pub async fn run<T>(
    pool: &MySqlPool,
    idem: Option<&Idem>,
    mut work: impl AsyncFnMut(&mut Tx) -> Result<T, TxError>,
) -> Result<Outcome<T>, ApiError> {
    let ran = store::in_transaction(pool, async |tx: &mut Tx| {
        if let Some(idem) = idem {
            if let Some(reply) = claim(tx, idem, None).await.map_err(Step::Key)? {
                return Ok(Err(reply));
            }
        }
        work(tx).await.map(Ok).map_err(Step::Work)
    })
    .await;
    match ran {
        Ok((tx, Ok(value))) => Ok(Outcome::Done(tx, value)),
        Ok((tx, Err(reply))) => {
            tx.rollback().await?;
            Ok(Outcome::Replay(reply))
        }
        Err(Step::Key(e)) => Err(e.into()),
        Err(Step::Work(e)) => {
            let e = ApiError::from(e);
            match idem {
                Some(idem) if is_final(&e) => refuse(pool, idem, &e).await,
                _ => Err(e),
            }
        }
    }
}

/// Where a failure inside [`run`]'s transaction came from: the key (never
/// stored) or the work (stored when final).
enum Step {
    Key(TxError),
    Work(TxError),
}

impl store::Retryable for Step {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Key(e) | Self::Work(e) => e.is_retryable(),
        }
    }
}

impl From<sqlx::Error> for Step {
    fn from(e: sqlx::Error) -> Self {
        Self::Work(e.into())
    }
}

/// The answer already stored for `idem`, read without a transaction or a
/// lock: a replay is answered before any other work (a customer check, say)
/// and stays a replay whatever changed since. `None` when the key has no
/// committed answer (unused, or a twin's work still in flight: [`run`] then
/// waits on its claim).
pub async fn stored(pool: &MySqlPool, idem: &Idem) -> Result<Option<Reply>, ApiError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT fingerprint, locked_until AS "locked_until: chrono::DateTime<chrono::Utc>",
                  response_status, content_type, location, response_body
           FROM idempotency_keys WHERE scope = ? AND subject = ? AND idem_key = ?"#,
        idem.scope,
        idem.subject,
        idem.key
    )
    .fetch_optional(pool)
    .await?;
    let Some(row) = row else {
        return Ok(None);
    };
    if row.fingerprint != idem.fingerprint {
        return Err(reused());
    }
    answer_of(row)
}

/// The stored answer of a row, if it has one.
fn answer_of(row: Row) -> Result<Option<Reply>, ApiError> {
    let (Some(status), Some(content_type), Some(body)) =
        (row.response_status, row.content_type, row.response_body)
    else {
        return Ok(None);
    };
    let status =
        StatusCode::from_u16(status).map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
    Ok(Some(Reply {
        status,
        content_type,
        location: row.location,
        body,
    }))
}

/// Stores the answer of the work done in `tx` and commits both.
pub async fn commit(mut tx: Tx, idem: Option<&Idem>, reply: &Reply) -> Result<(), ApiError> {
    if let Some(idem) = idem {
        sqlx::query!(
            "UPDATE idempotency_keys
             SET response_status = ?, content_type = ?, location = ?, response_body = ?
             WHERE scope = ? AND subject = ? AND idem_key = ?",
            reply.status.as_u16(),
            reply.content_type,
            reply.location,
            reply.body,
            idem.scope,
            idem.subject,
            idem.key
        )
        .execute(&mut *tx)
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

fn in_progress(retry_after_secs: i64) -> ApiError {
    let secs = retry_after_secs.clamp(1, 60);
    ApiError::conflict(
        Code::IdempotencyKeyInProgress,
        "a request with this idempotency key is still being processed; retry later",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        Code::IdempotencyKeyReused,
        "this idempotency key was used with a different request (body or target)",
    )
}

/// Whether a failure is a final answer worth replaying: the request was valid
/// and ran, and the state of things said no (stock, state, unknown entities).
fn is_final(e: &ApiError) -> bool {
    matches!(
        e.status(),
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
    )
}

struct Row {
    fingerprint: Vec<u8>,
    locked_until: Option<chrono::DateTime<chrono::Utc>>,
    response_status: Option<u16>,
    content_type: Option<String>,
    location: Option<String>,
    response_body: Option<Vec<u8>>,
}

/// What a committed row of the key says.
enum Found {
    Answer(Reply),
    /// Purged in between: the key is free.
    Gone,
    /// An earlier version's lease that expired without an answer.
    Abandoned,
}

/// Reads the key's committed row with a shared lock: the latest version
/// whatever the transaction read before, and no deadlock between twins that
/// all read it at once (each holds a shared lock from its failed insert).
async fn find(tx: &mut Tx, idem: &Idem) -> Result<Found, TxError> {
    let row = sqlx::query_as!(
        Row,
        r#"SELECT fingerprint, locked_until AS "locked_until: chrono::DateTime<chrono::Utc>",
                  response_status, content_type, location, response_body
           FROM idempotency_keys WHERE scope = ? AND subject = ? AND idem_key = ? LOCK IN SHARE MODE"#,
        idem.scope,
        idem.subject,
        idem.key
    )
    .fetch_optional(&mut **tx)
    .await
    .map_err(waited)?;
    let Some(row) = row else {
        return Ok(Found::Gone);
    };
    if row.fingerprint != idem.fingerprint {
        return Err(reused().into());
    }
    let locked_until = row.locked_until;
    if let Some(reply) = answer_of(row)? {
        return Ok(Found::Answer(reply));
    }
    match locked_until {
        Some(until) if until > now() => Err(in_progress((until - now()).num_seconds() + 1).into()),
        _ => Ok(Found::Abandoned),
    }
}

/// A lock wait past `IDEMPOTENCY_WAIT_SECS` means another request holds the
/// key: 409 in progress, not a deadlock to run again.
fn waited(e: sqlx::Error) -> TxError {
    if store::error_number(&e) == Some(store::LOCK_WAIT_TIMEOUT) {
        in_progress(1).into()
    } else {
        e.into()
    }
}

/// Inserts the key's row in `tx`, answer or not. `Ok(false)`: the key has a
/// committed row already.
async fn insert(tx: &mut Tx, idem: &Idem, answer: Option<&Reply>) -> Result<bool, TxError> {
    let inserted = sqlx::query!(
        "INSERT INTO idempotency_keys
             (scope, subject, idem_key, fingerprint, response_status, content_type, location, response_body, created_at)
         VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
        idem.scope,
        idem.subject,
        idem.key,
        &idem.fingerprint[..],
        answer.map(|r| r.status.as_u16()),
        answer.map(|r| r.content_type.as_str()),
        answer.and_then(|r| r.location.as_deref()),
        answer.map(|r| r.body.as_slice()),
        now()
    )
    .execute(&mut **tx)
    .await;
    match inserted {
        Ok(_) => Ok(true),
        Err(sqlx::Error::Database(db)) if db.is_unique_violation() => Ok(false),
        Err(e) => Err(waited(e)),
    }
}

/// Claims `idem` in `tx` (waiting, bounded, on a request that holds it), or
/// returns the answer it already has. With `answer`, the claim is written
/// with it (a refusal stored after its work was rolled back).
async fn claim(tx: &mut Tx, idem: &Idem, answer: Option<&Reply>) -> Result<Option<Reply>, TxError> {
    for _ in 0..3 {
        if insert(tx, idem, answer).await? {
            return Ok(None);
        }
        match find(tx, idem).await? {
            Found::Answer(reply) => return Ok(Some(reply)),
            Found::Gone => {}
            Found::Abandoned => {
                sqlx::query!(
                    "DELETE FROM idempotency_keys
                     WHERE scope = ? AND subject = ? AND idem_key = ? AND response_status IS NULL",
                    idem.scope,
                    idem.subject,
                    idem.key
                )
                .execute(&mut **tx)
                .await?;
                tracing::warn!("freed an idempotency key whose lease had expired");
            }
        }
    }
    Err(in_progress(1).into())
}

/// Stores a final refusal, the work being rolled back. Should another
/// request with the key have answered in between, its answer is the one.
async fn refuse<T>(pool: &MySqlPool, idem: &Idem, e: &ApiError) -> Result<Outcome<T>, ApiError> {
    let reply = Reply::problem(e)?;
    let mut tx = pool.begin().await?;
    let earlier = claim(&mut tx, idem, Some(&reply))
        .await
        .map_err(ApiError::from)?;
    match earlier {
        None => {
            tx.commit().await?;
            Ok(Outcome::Refused(reply))
        }
        Some(answer) => {
            tx.rollback().await?;
            Ok(Outcome::Replay(answer))
        }
    }
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
    use actix_web::http::header::HeaderMap;

    #[test]
    fn fingerprints_cover_scope_target_and_body() {
        let a = Idem::new("confirm", "u", "k".into(), "1", b"");
        assert_eq!(
            a.fingerprint,
            Idem::new("confirm", "u", "k".into(), "1", b"").fingerprint
        );
        assert_ne!(
            a.fingerprint,
            Idem::new("confirm", "u", "k".into(), "2", b"").fingerprint
        );
        assert_ne!(
            a.fingerprint,
            Idem::new("cancel", "u", "k".into(), "1", b"").fingerprint
        );
        assert_ne!(
            a.fingerprint,
            Idem::new("confirm", "u", "k".into(), "1", b"{}").fingerprint
        );
        // No ambiguity between target and body.
        assert_ne!(
            Idem::new("s", "u", "k".into(), "1", b"2").fingerprint,
            Idem::new("s", "u", "k".into(), "12", b"").fingerprint
        );
    }

    #[test]
    fn keys_come_from_either_header_and_must_agree() {
        let mut h = HeaderMap::new();
        assert_eq!(key_of(&h).ok().flatten(), None);
        h.insert(
            HeaderName::from_static(X_HEADER),
            HeaderValue::from_static("abc-1"),
        );
        assert_eq!(key_of(&h).ok().flatten().as_deref(), Some("abc-1"));
        h.insert(
            HeaderName::from_static(HEADER),
            HeaderValue::from_static("abc-1"),
        );
        assert!(key_of(&h).is_ok());
        h.insert(
            HeaderName::from_static(HEADER),
            HeaderValue::from_static("abc-2"),
        );
        assert!(key_of(&h).is_err());
        let mut h = HeaderMap::new();
        h.insert(
            HeaderName::from_static(HEADER),
            HeaderValue::from_static("has space"),
        );
        assert!(key_of(&h).is_err());
    }
}
