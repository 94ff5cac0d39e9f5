//! Customer persistence: small functions over the pool. Each change writes
//! its event (`customer_events`) in its own transaction.

use chrono::{DateTime, Utc};
use contracts::EventKind;
use kit_server::db::now;
use kit_server::events::{self, Changes, EventLog, Record, Stamp};
use kit_server::pagination::{contains_pattern, PageRequest};
use sqlx::MySqlPool;

use crate::domain::{Customer, CustomerError, CustomerId, NewCustomer};

/// The customer `c`, as stored under `id`.
fn stored(
    id: CustomerId,
    c: &NewCustomer,
    created_at: DateTime<Utc>,
    updated_at: DateTime<Utc>,
) -> Customer {
    Customer {
        id,
        name: c.name.as_ref().to_owned(),
        email: c.email.as_ref().to_owned(),
        phone: c.phone.as_ref().map(|p| p.as_ref().to_owned()),
        created_at,
        updated_at,
    }
}

/// What can go wrong in a write: the database, or a rule of customers.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error(transparent)]
    Db(#[from] sqlx::Error),
    #[error(transparent)]
    Customer(#[from] CustomerError),
}

/// Where customers keep their events.
pub const CUSTOMER_EVENTS: EventLog = EventLog {
    table: "customer_events",
    subject: "customer_id",
};

/// A customer's fields, as events record them.
fn fields(name: &str, email: &str, phone: Option<&str>) -> [(&'static str, serde_json::Value); 3] {
    [
        ("name", name.into()),
        ("email", email.into()),
        ("phone", phone.into()),
    ]
}

/// The fields of `c` as it is written.
fn written(c: &NewCustomer) -> [(&'static str, serde_json::Value); 3] {
    let phone = c.phone.as_ref().map(|p| p.as_ref());
    fields(c.name.as_ref(), c.email.as_ref(), phone)
}

/// Whether customer `id` was ever created (deleted ones included: their
/// history stays readable).
pub async fn ever_existed(pool: &MySqlPool, id: CustomerId) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!("SELECT 1 AS one FROM customers WHERE id = ?", id.get())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

/// The unique key on active emails (see the migration).
const ACTIVE_EMAIL_KEY: &str = "uq_customers_active_email";

/// The unique key on active emails refused the write; any other error (a
/// violation of another key among them) stays what it is.
fn email_taken(e: sqlx::Error) -> StoreError {
    match kit_server::db::unique_key(&e) {
        Some(key) if key == ACTIVE_EMAIL_KEY => CustomerError::EmailTaken.into(),
        _ => e.into(),
    }
}

/// Inserts a customer; a duplicate active email (in any letter case) is a 409.
/// The unique key decides, so concurrent creates cannot both win.
#[tracing::instrument(skip_all)]
pub async fn insert(
    pool: &MySqlPool,
    c: &NewCustomer,
    actor: &str,
) -> Result<Customer, StoreError> {
    let at = now();
    let phone = c.phone.as_ref().map(AsRef::as_ref);
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "INSERT INTO customers (name, email, phone, created_at, updated_at) VALUES (?, ?, ?, ?, ?)",
        c.name.as_ref(),
        c.email.as_ref(),
        phone,
        at,
        at,
    )
    .execute(&mut *tx)
    .await
    .map_err(email_taken)?;
    let id = CustomerId(done.last_insert_id());
    let changes = written(c)
        .into_iter()
        .fold(Changes::new(), |ch, (field, v)| ch.set(field, v));
    let created = Record {
        subject: id.get(),
        kind: EventKind::CustomerCreated,
        changes,
    };
    events::append(&mut tx, CUSTOMER_EVENTS, &Stamp::new(actor, at), &[created]).await?;
    tx.commit().await?;
    Ok(stored(id, c, at, at))
}

/// An active (not deleted) customer.
#[tracing::instrument(skip(pool))]
pub async fn find(pool: &MySqlPool, id: CustomerId) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as!(
        Customer,
        r#"SELECT id, name, email, phone,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM customers WHERE id = ? AND deleted_at IS NULL"#,
        id.get()
    )
    .fetch_optional(pool)
    .await
}

/// Replaces name, email and phone of an active customer; `None` when there is none.
#[tracing::instrument(skip(pool, c))]
pub async fn replace(
    pool: &MySqlPool,
    id: CustomerId,
    c: &NewCustomer,
    actor: &str,
) -> Result<Option<Customer>, StoreError> {
    let mut tx = pool.begin().await?;
    // Lock the row first: the answer must describe the row this update wrote,
    // not one a concurrent writer changed in between.
    let Some(before) = locked(&mut tx, id).await? else {
        return Ok(None);
    };
    let created_at = before.created_at;
    let at = now();
    let phone = c.phone.as_ref().map(AsRef::as_ref);
    sqlx::query!(
        "UPDATE customers SET name = ?, email = ?, phone = ?, updated_at = ? WHERE id = ?",
        c.name.as_ref(),
        c.email.as_ref(),
        phone,
        at,
        id.get(),
    )
    .execute(&mut *tx)
    .await
    .map_err(email_taken)?;
    let was = fields(&before.name, &before.email, before.phone.as_deref());
    let changes = was
        .into_iter()
        .zip(written(c))
        .fold(Changes::new(), |ch, ((field, old), (_, new))| {
            ch.changed(field, old, new)
        });
    let replaced = Record {
        subject: id.get(),
        kind: EventKind::CustomerReplaced,
        changes,
    };
    events::append(
        &mut tx,
        CUSTOMER_EVENTS,
        &Stamp::new(actor, at),
        &[replaced],
    )
    .await?;
    tx.commit().await?;
    Ok(Some(stored(id, c, created_at, at)))
}

/// An active customer, its row locked until the transaction ends.
async fn locked(
    tx: &mut sqlx::Transaction<'static, sqlx::MySql>,
    id: CustomerId,
) -> Result<Option<Customer>, sqlx::Error> {
    sqlx::query_as!(
        Customer,
        r#"SELECT id, name, email, phone,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM customers WHERE id = ? AND deleted_at IS NULL FOR UPDATE"#,
        id.get()
    )
    .fetch_optional(&mut **tx)
    .await
}

/// Soft-deletes an active customer, which frees its email. `false` when there is none.
#[tracing::instrument(skip(pool))]
pub async fn soft_delete(
    pool: &MySqlPool,
    id: CustomerId,
    actor: &str,
) -> Result<bool, sqlx::Error> {
    let at = now();
    let mut tx = pool.begin().await?;
    let Some(before) = locked(&mut tx, id).await? else {
        return Ok(false);
    };
    sqlx::query!(
        "UPDATE customers SET deleted_at = ?, updated_at = ? WHERE id = ? AND deleted_at IS NULL",
        at,
        at,
        id.get()
    )
    .execute(&mut *tx)
    .await?;
    let deleted = Record {
        subject: id.get(),
        kind: EventKind::CustomerDeleted,
        changes: Changes::new()
            .removed("name", before.name)
            .removed("email", before.email),
    };
    events::append(&mut tx, CUSTOMER_EVENTS, &Stamp::new(actor, at), &[deleted]).await?;
    tx.commit().await?;
    Ok(true)
}

/// Active customers in id order after the cursor, optionally those whose name
/// or email contains `term` (case-insensitively). Fetches one row more than
/// the page to tell whether another page follows.
#[tracing::instrument(skip(pool, term))]
pub async fn search(
    pool: &MySqlPool,
    term: Option<&str>,
    page: PageRequest,
) -> Result<Vec<Customer>, sqlx::Error> {
    let pattern = term.map(contains_pattern);
    sqlx::query_as!(
        Customer,
        r#"SELECT id, name, email, phone,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM customers
           WHERE deleted_at IS NULL AND id > ?
             AND (? IS NULL OR name LIKE ? OR email LIKE ?)
           ORDER BY id
           LIMIT ?"#,
        page.after_id,
        pattern,
        pattern,
        pattern,
        page.fetch(),
    )
    .fetch_all(pool)
    .await
}
