//! Idempotency keys, after Stripe and the IETF Idempotency-Key draft.
//!
//! - A key is scoped to its endpoint (`scope`) and to its caller (`subject`,
//!   the token's `sub`, as Stripe scopes keys to an account): the same key
//!   from two callers is two requests. It is stored with a fingerprint
//!   of the request: its target and its body. Reusing a key with another body
//!   or target is a 422.
//! - The first request claims the key with a lease (`owner`, `locked_until`,
//!   `IDEMPOTENCY_LEASE_SECS`).
//!   While the lease runs, the same key answers 409 with `Retry-After`; once it
//!   has expired (the request crashed), the next request takes it over.
//! - The final answer (status, media type, `Location`, body bytes) is written
//!   in the same transaction as the work, and only by the lease's owner: a
//!   request whose lease was taken over rolls its work back.
//! - Replays answer the stored bytes with `Idempotent-Replayed: true`.
//! - Validation failures and failures of ours are not stored: the key is
//!   released, and the caller may fix the request and retry.

use std::time::Duration;

use actix_web::{
    http::{
        header::{self, HeaderMap, HeaderName, HeaderValue},
        StatusCode,
    },
    HttpResponse,
};
use serde::Serialize;
use service_kit::problem::{self, ApiError};
use sha2::{Digest, Sha256};
use sqlx::MySqlPool;

use crate::store::{now, Tx};

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
            "invalid_idempotency_key",
            "Idempotency-Key and X-Idempotency-Key differ; send one",
        )),
        (a, b) => Ok(a.or(b)),
    }
}

fn invalid_key() -> ApiError {
    ApiError::bad_request(
        "invalid_idempotency_key",
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

/// The right to do the work of a key, until `locked_until`.
#[derive(Debug, Clone)]
pub struct Lease {
    scope: &'static str,
    subject: String,
    key: String,
    owner: String,
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

pub enum Claim {
    /// Do the work, then settle with the lease.
    Proceed(Lease),
    /// The key has an answer already: send it again.
    Replay(Reply),
}

fn in_progress(retry_after_secs: u32) -> ApiError {
    let secs = retry_after_secs.clamp(1, 60);
    ApiError::conflict(
        "idempotency_key_in_progress",
        "a request with this idempotency key is still being processed; retry later",
    )
    .with_header(header::RETRY_AFTER, HeaderValue::from(secs))
}

fn reused() -> ApiError {
    ApiError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        "idempotency_key_reused",
        "this idempotency key was used with a different request (body or target)",
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

/// Claims `idem` for this request, or says why not (replay, 409, 422).
#[tracing::instrument(skip_all, fields(scope = idem.scope))]
pub async fn claim(pool: &MySqlPool, idem: &Idem, lease: Duration) -> Result<Claim, ApiError> {
    let lease = chrono::Duration::from_std(lease)
        .map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
    for _ in 0..3 {
        let owner = uuid::Uuid::new_v4().to_string();
        let at = now();
        let until = at
            .checked_add_signed(lease)
            .ok_or_else(|| ApiError::internal(anyhow::anyhow!("lease end overflows")))?;
        let inserted = sqlx::query!(
            "INSERT INTO idempotency_keys (scope, subject, idem_key, fingerprint, owner, locked_until, created_at)
             VALUES (?, ?, ?, ?, ?, ?, ?)",
            idem.scope,
            idem.subject,
            idem.key,
            &idem.fingerprint[..],
            owner,
            until,
            at
        )
        .execute(pool)
        .await;
        match inserted {
            Ok(_) => {
                return Ok(Claim::Proceed(Lease {
                    scope: idem.scope,
                    subject: idem.subject.clone(),
                    key: idem.key.clone(),
                    owner,
                }))
            }
            Err(sqlx::Error::Database(db)) if db.is_unique_violation() => {}
            Err(e) => return Err(e.into()),
        }
        let mut tx = pool.begin().await?;
        let row = sqlx::query_as!(
            Row,
            r#"SELECT fingerprint, locked_until AS "locked_until: chrono::DateTime<chrono::Utc>",
                      response_status, content_type, location, response_body
               FROM idempotency_keys WHERE scope = ? AND subject = ? AND idem_key = ? FOR UPDATE"#,
            idem.scope,
            idem.subject,
            idem.key
        )
        .fetch_optional(&mut *tx)
        .await?;
        let Some(row) = row else {
            // Released or purged in between: try to insert again.
            continue;
        };
        if row.fingerprint != idem.fingerprint {
            return Err(reused());
        }
        if let (Some(status), Some(content_type), Some(body)) =
            (row.response_status, row.content_type, row.response_body)
        {
            let status = StatusCode::from_u16(status)
                .map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
            return Ok(Claim::Replay(Reply {
                status,
                content_type,
                location: row.location,
                body,
            }));
        }
        if let Some(until) = row.locked_until {
            if until > at {
                return Err(in_progress(1));
            }
        }
        // The lease expired: the request that held it died. Take it over.
        sqlx::query!(
            "UPDATE idempotency_keys SET owner = ?, locked_until = ? WHERE scope = ? AND subject = ? AND idem_key = ?",
            owner,
            until,
            idem.scope,
            idem.subject,
            idem.key
        )
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        tracing::warn!("took over an expired idempotency lease");
        return Ok(Claim::Proceed(Lease {
            scope: idem.scope,
            subject: idem.subject.clone(),
            key: idem.key.clone(),
            owner,
        }));
    }
    Err(in_progress(1))
}

/// Writes the final answer, if this request still owns the key. `false`
/// means the lease was taken over: the caller must roll its work back.
async fn store<'e>(
    db: impl sqlx::MySqlExecutor<'e>,
    lease: &Lease,
    reply: &Reply,
) -> Result<bool, sqlx::Error> {
    let done = sqlx::query!(
        "UPDATE idempotency_keys
         SET response_status = ?, content_type = ?, location = ?, response_body = ?, owner = NULL, locked_until = NULL
         WHERE scope = ? AND subject = ? AND idem_key = ? AND owner = ?",
        reply.status.as_u16(),
        reply.content_type,
        reply.location,
        reply.body,
        lease.scope,
        lease.subject,
        lease.key,
        lease.owner
    )
    .execute(db)
    .await?;
    Ok(done.rows_affected() == 1)
}

/// Gives the key up: nothing was done that a retry must not do again.
async fn release(pool: &MySqlPool, lease: &Lease) {
    let done = sqlx::query!(
        "DELETE FROM idempotency_keys WHERE scope = ? AND subject = ? AND idem_key = ? AND owner = ?",
        lease.scope,
        lease.subject,
        lease.key,
        lease.owner
    )
    .execute(pool)
    .await;
    if let Err(e) = done {
        // The lease will expire on its own.
        tracing::warn!(error = %e, "could not release an idempotency key");
    }
}

/// Commits a successful piece of work together with its stored answer.
pub async fn settle_ok(
    mut tx: Tx,
    lease: Option<&Lease>,
    reply: Reply,
) -> Result<HttpResponse, ApiError> {
    if let Some(lease) = lease {
        if !store(&mut *tx, lease, &reply).await? {
            tx.rollback().await?;
            return Err(in_progress(1));
        }
    }
    tx.commit().await?;
    Ok(reply.into_response(false))
}

/// Whether a failure is a final answer worth replaying: the request was valid
/// and ran, and the state of things said no (stock, state, unknown entities).
fn is_final(e: &ApiError) -> bool {
    matches!(
        e.status(),
        StatusCode::CONFLICT | StatusCode::UNPROCESSABLE_ENTITY
    ) && !e.code().starts_with("idempotency_key_")
}

/// Answers a failure: stored for replay when it is final, else the key is released.
pub async fn settle_err(
    pool: &MySqlPool,
    lease: Option<&Lease>,
    e: ApiError,
) -> Result<HttpResponse, ApiError> {
    let Some(lease) = lease else { return Err(e) };
    if !is_final(&e) {
        release(pool, lease).await;
        return Err(e);
    }
    let reply = Reply::problem(&e)?;
    if store(pool, lease, &reply).await? {
        Ok(reply.into_response(false))
    } else {
        Err(in_progress(1))
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
