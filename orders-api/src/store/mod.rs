//! Persistence: products and orders, and the transaction helper that
//! retries deadlocks. Every query of orders-api is here, but for the
//! idempotency keys' own table (`idempotency::store`).

pub mod orders;
pub mod products;

use std::time::Duration;

use crate::{
    domain::{OrderError, ProductError},
    idempotency::key::KeyConflict,
};
use sqlx::{MySql, MySqlPool, Transaction};

pub type Tx = Transaction<'static, MySql>;

/// What can go wrong in a store function: the database (maybe a deadlock,
/// worth another try), or a rule of orders, products or idempotency keys.
#[derive(Debug)]
pub enum TxError {
    Db(sqlx::Error),
    Order(OrderError),
    Product(ProductError),
    Key(KeyConflict),
}

impl From<ProductError> for TxError {
    fn from(e: ProductError) -> Self {
        Self::Product(e)
    }
}

impl From<OrderError> for TxError {
    fn from(e: OrderError) -> Self {
        Self::Order(e)
    }
}

impl From<sqlx::Error> for TxError {
    fn from(e: sqlx::Error) -> Self {
        Self::Db(e)
    }
}

impl From<KeyConflict> for TxError {
    fn from(e: KeyConflict) -> Self {
        Self::Key(e)
    }
}

/// Errors that say whether the transaction they ended can simply run again.
pub trait Retryable {
    fn is_retryable(&self) -> bool;
}

impl Retryable for TxError {
    /// Deadlock (1213) or lock wait timeout (1205): the transaction was rolled
    /// back by the server and can simply run again.
    fn is_retryable(&self) -> bool {
        matches!(self, Self::Db(e) if is_lock_conflict(e))
    }
}

/// MySQL's and MariaDB's error number for a deadlock.
const DEADLOCK: u16 = 1213;
/// ... and for a lock wait past `innodb_lock_wait_timeout`.
pub const LOCK_WAIT_TIMEOUT: u16 = 1205;

/// The server's error number, for errors the server reported.
pub fn error_number(e: &sqlx::Error) -> Option<u16> {
    let sqlx::Error::Database(db) = e else {
        return None;
    };
    db.try_downcast_ref::<sqlx::mysql::MySqlDatabaseError>()
        .map(|e| e.number())
}

/// Deadlock or lock wait timeout: another transaction held what this one needed.
pub fn is_lock_conflict(e: &sqlx::Error) -> bool {
    matches!(error_number(e), Some(DEADLOCK | LOCK_WAIT_TIMEOUT))
}

/// Attempts at a transaction that keeps deadlocking.
const TX_ATTEMPTS: u32 = 5;

/// Runs `work` in a new transaction, again from the start when the server
/// reports a deadlock or lock timeout. Returns the open transaction with the
/// result: the caller commits (after writing its idempotency record into it).
/// A failed attempt is rolled back before anything else runs, so that its
/// locks (an idempotency claim among them) are gone when the next begins.
pub async fn in_transaction<T, E>(
    pool: &MySqlPool,
    mut work: impl AsyncFnMut(&mut Tx) -> Result<T, E>,
) -> Result<(Tx, T), E>
where
    E: Retryable + From<sqlx::Error>,
{
    let mut attempt = 1;
    loop {
        let mut tx = pool.begin().await?;
        match work(&mut tx).await {
            Ok(value) => return Ok((tx, value)),
            Err(e) => {
                if let Err(rollback) = tx.rollback().await {
                    // The connection is gone, and its transaction with it.
                    tracing::warn!(error = %rollback, "could not roll back");
                }
                if !(e.is_retryable() && attempt < TX_ATTEMPTS) {
                    return Err(e);
                }
                tracing::warn!(attempt, "transaction deadlocked; running it again");
                tokio::time::sleep(Duration::from_millis(5 * u64::from(attempt))).await;
                attempt += 1;
            }
        }
    }
}

pub use kit_server::db::now;
