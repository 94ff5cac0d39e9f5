//! Idempotency keys, after Stripe and the IETF Idempotency-Key draft, in
//! one module: the key ([`key`]), the protocol (here, free of HTTP), its
//! table ([`store`]) and its HTTP side ([`http`]: the key from the headers,
//! [`Outcome`]s as responses, refusals as problems).
//!
//! - A key is scoped to its endpoint (`scope`) and to its caller (`subject`,
//!   the token's `sub`, as Stripe scopes keys to an account): the same key
//!   from two callers is two requests. It is stored with a fingerprint
//!   of the request: its target and its body. Reusing a key with another body
//!   or target is refused ([`KeyConflict::Reused`]).
//! - One commit per write: the key's row is the first thing the work's own
//!   transaction writes, and the final answer (status, media type,
//!   `Location`, body bytes) the last. A crash rolls the claim back with the
//!   work, so no claim outlives its request.
//! - A second request with the same key inserts the same row and so waits on
//!   the first one's lock, bounded by the session's `innodb_lock_wait_timeout`
//!   (`IDEMPOTENCY_WAIT_SECS`). When the first commits, the second replays its
//!   answer; when it rolls back, the second does the work; past the bound, it
//!   is [`KeyConflict::InProgress`].
//! - Final refusals (the request was valid and the state of things said no)
//!   are stored once the work is rolled back ([`refuse`]). Validation
//!   failures and failures of ours are not: the key stays free, and the
//!   caller may fix the request and retry.
//! - Rows written by earlier versions of this service may hold a lease
//!   (`owner`, `locked_until`) and no answer: while the lease runs the key
//!   is in progress; once it has expired the row is deleted and the key is
//!   free.

use sqlx::MySqlPool;

pub mod http;
pub mod key;
pub mod store;

use self::store::{self as table, Found};
pub use self::{
    key::{IdempotencyKey, KeyConflict},
    store::{Answer, Idem},
};
use crate::store::{self as db, Tx, TxError};

/// What a claim on a key found.
pub enum Claim {
    /// The key is ours, in the transaction that claimed it.
    Claimed,
    /// The key has an answer already.
    Answered(Answer),
}

/// How a write ended, short of an error.
pub enum Outcome<T> {
    /// The work is done in `Tx`, which holds the key's claim: answer with
    /// [`commit`].
    Done(Tx, T),
    /// The key has an answer already: send it again.
    Replay(Answer),
    /// The work was refused for good; the refusal is stored ([`refuse`]).
    Refused(Answer),
}

/// Where a failure of [`run`] came from.
#[derive(Debug)]
pub enum Failed {
    /// The key (in progress elsewhere, reused, the database): never stored.
    Key(TxError),
    /// The work: the caller decides whether it is final, and [`refuse`]s.
    Work(TxError),
}

impl db::Retryable for Failed {
    fn is_retryable(&self) -> bool {
        match self {
            Self::Key(e) | Self::Work(e) => e.is_retryable(),
        }
    }
}

impl From<sqlx::Error> for Failed {
    fn from(e: sqlx::Error) -> Self {
        Self::Work(e.into())
    }
}

/// The answer already stored for `idem`, read without a transaction or a
/// lock: a replay is answered before any other work (a customer check, say)
/// and stays a replay whatever changed since. `None` when the key has no
/// committed answer (unused, or a twin's work still in flight: [`run`] then
/// waits on its claim).
pub async fn stored(pool: &MySqlPool, idem: &Idem) -> Result<Option<Answer>, TxError> {
    table::stored(pool, idem).await
}

/// Runs `work` in one transaction that first claims `idem`, when there is a
/// key. Deadlocks run it all again.
pub async fn run<T>(
    pool: &MySqlPool,
    idem: Option<&Idem>,
    mut work: impl AsyncFnMut(&mut Tx) -> Result<T, TxError>,
) -> Result<Outcome<T>, Failed> {
    let ran = db::in_transaction(pool, async |tx: &mut Tx| {
        if let Some(idem) = idem {
            if let Claim::Answered(answer) = claim(tx, idem, None).await.map_err(Failed::Key)? {
                return Ok(Err(answer));
            }
        }
        work(tx).await.map(Ok).map_err(Failed::Work)
    })
    .await?;
    match ran {
        (tx, Ok(value)) => Ok(Outcome::Done(tx, value)),
        (tx, Err(answer)) => {
            tx.rollback().await.map_err(|e| Failed::Key(e.into()))?;
            Ok(Outcome::Replay(answer))
        }
    }
}

/// Stores the answer of the work done in `tx` and commits both.
pub async fn commit(mut tx: Tx, idem: Option<&Idem>, answer: &Answer) -> Result<(), sqlx::Error> {
    if let Some(idem) = idem {
        table::save_answer(&mut tx, idem, answer).await?;
    }
    tx.commit().await
}

/// Claims `idem` in `tx` (waiting, bounded, on a request that holds it), or
/// returns the answer it already has. With `answer`, the claim is written
/// with it (a refusal stored after its work was rolled back).
async fn claim(tx: &mut Tx, idem: &Idem, answer: Option<&Answer>) -> Result<Claim, TxError> {
    for _ in 0..3 {
        if table::insert(tx, idem, answer).await? {
            return Ok(Claim::Claimed);
        }
        match table::find(tx, idem).await? {
            Found::Answer(answer) => return Ok(Claim::Answered(answer)),
            Found::Gone => {}
            Found::Abandoned => {
                table::delete_abandoned(tx, idem).await?;
                tracing::warn!("freed an idempotency key whose lease had expired");
            }
        }
    }
    Err(KeyConflict::InProgress {
        retry_after_secs: 1,
    }
    .into())
}

/// Stores `refusal`, a final answer to work that was rolled back. Should
/// another request with the key have answered in between, its answer is
/// the one.
pub async fn refuse<T>(
    pool: &MySqlPool,
    idem: &Idem,
    refusal: Answer,
) -> Result<Outcome<T>, TxError> {
    let mut tx = pool.begin().await?;
    match claim(&mut tx, idem, Some(&refusal)).await? {
        Claim::Claimed => {
            tx.commit().await?;
            Ok(Outcome::Refused(refusal))
        }
        Claim::Answered(earlier) => {
            tx.rollback().await?;
            Ok(Outcome::Replay(earlier))
        }
    }
}
