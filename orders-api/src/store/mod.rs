//! Persistence: products, orders, and the transaction helper that retries
//! deadlocks.

pub mod orders;
pub mod products;

use std::time::Duration;

use chrono::{DateTime, Utc};
use service_kit::problem::ApiError;
use sqlx::{MySql, MySqlPool, Transaction};

pub type Tx = Transaction<'static, MySql>;

/// What can go wrong inside a transaction: the database (maybe a deadlock,
/// worth another try) or the request (an answer for the caller).
#[derive(Debug)]
pub enum TxError {
    Db(sqlx::Error),
    Api(ApiError),
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl From<ApiError> for TxError {
    fn from(e: ApiError) -> Self {
        Self::Api(e)
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        match e {
            TxError::Db(e) => e.into(),
            TxError::Api(e) => e,
        }
    }
}

impl TxError {
    /// Deadlock (1213) or lock wait timeout (1205): the transaction was rolled
    /// back by the server and can simply run again.
    pub fn is_retryable(&self) -> bool {
        let Self::Db(sqlx::Error::Database(db)) = self else {
            return false;
        };
        db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
            .is_some_and(|e| matches!(e.number(), 1213 | 1205))
    }
}

/// Attempts at a transaction that keeps deadlocking.
const TX_ATTEMPTS: u32 = 5;

/// Runs `work` in a new transaction, again from the start when the server
/// reports a deadlock or lock timeout. Returns the open transaction with the
/// result: the caller commits (after writing its idempotency record into it).
pub async fn in_transaction<T>(
    pool: &MySqlPool,
    mut work: impl AsyncFnMut(&mut Tx) -> Result<T, TxError>,
) -> Result<(Tx, T), TxError> {
    let mut attempt = 1;
    loop {
        let mut tx = pool.begin().await?;
        match work(&mut tx).await {
            Ok(value) => return Ok((tx, value)),
            Err(e) if e.is_retryable() && attempt < TX_ATTEMPTS => {
                drop(tx);
                tracing::warn!(attempt, "transaction deadlocked; running it again");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    }
}

/// Now, at the columns' precision (microseconds).
pub fn now() -> DateTime<Utc> {
    let now = Utc::now();
    DateTime::from_timestamp_micros(now.timestamp_micros()).unwrap_or(now)
}
