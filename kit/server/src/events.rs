//! Each change leaves a record: events appended in the change's own
//! transaction (so there is never one without the other), and read back a
//! page at a time, oldest first. One table per kind of resource, owned by
//! the service that owns the resource (`order_events`, `product_events`,
//! `customer_events`): `seq` (AUTO_INCREMENT), the resource's id, `type`,
//! `at`, `actor`, `correlation_id`, `idempotency_key`, `changes` (JSON text).

use chrono::{DateTime, Utc};
use contracts::{Event, EventKind};
use serde_json::{json, Map, Value};
use sqlx::{MySql, MySqlConnection, MySqlPool, QueryBuilder, Row};

use crate::pagination::{paginate, PageRequest};

/// Where one kind of resource keeps its events.
#[derive(Clone, Copy, Debug)]
pub struct EventLog {
    /// The table (a constant of the code, never input).
    pub table: &'static str,
    /// Its column naming the resource.
    pub subject: &'static str,
}

/// Who made a change, under which key, when: stamped on every event the
/// change writes. The correlation id is the request's own.
#[derive(Clone, Copy, Debug)]
pub struct Stamp<'a> {
    /// The user's `sub`, `service:<name>` or `system:sweeper`.
    pub actor: &'a str,
    pub idempotency_key: Option<&'a str>,
    pub at: DateTime<Utc>,
}

impl<'a> Stamp<'a> {
    /// A change by `actor` at `at`, under no idempotency key.
    pub fn new(actor: &'a str, at: DateTime<Utc>) -> Self {
        Self {
            actor,
            idempotency_key: None,
            at,
        }
    }
}

/// The actor of the reservation sweeper's changes.
pub const SWEEPER: &str = "system:sweeper";

/// What changed, field by field.
#[derive(Clone, Debug, Default)]
pub struct Changes(Map<String, Value>);

impl Changes {
    pub fn new() -> Self {
        Self::default()
    }

    /// `field` went from `before` to `after`; nothing when they are equal.
    pub fn changed(
        mut self,
        field: &str,
        before: impl Into<Value>,
        after: impl Into<Value>,
    ) -> Self {
        let (before, after) = (before.into(), after.into());
        if before != after {
            self.0
                .insert(field.to_owned(), json!({"before": before, "after": after}));
        }
        self
    }

    /// `field` was set to `after` (a creation).
    pub fn set(mut self, field: &str, after: impl Into<Value>) -> Self {
        self.0
            .insert(field.to_owned(), json!({"after": after.into()}));
        self
    }

    /// `field` held `before` and holds nothing now (a deletion).
    pub fn removed(mut self, field: &str, before: impl Into<Value>) -> Self {
        self.0
            .insert(field.to_owned(), json!({"before": before.into()}));
        self
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

/// One event to append: of which resource, what kind, what changed.
#[derive(Clone, Debug)]
pub struct Record {
    pub subject: u64,
    pub kind: EventKind,
    pub changes: Changes,
}

/// Appends `records` (one statement for all of them), stamped, on the
/// connection of the change's transaction.
pub async fn append(
    conn: &mut MySqlConnection,
    log: EventLog,
    stamp: &Stamp<'_>,
    records: &[Record],
) -> Result<(), sqlx::Error> {
    if records.is_empty() {
        return Ok(());
    }
    let correlation = crate::correlation::current().map(|c| c.as_str().to_owned());
    let mut q: QueryBuilder<MySql> = QueryBuilder::new(format!(
        "INSERT INTO {} ({}, type, at, actor, correlation_id, idempotency_key, changes) ",
        log.table, log.subject
    ));
    q.push_values(records, |mut row, r| {
        row.push_bind(r.subject)
            .push_bind(r.kind.as_str())
            .push_bind(stamp.at)
            .push_bind(stamp.actor)
            .push_bind(correlation.clone())
            .push_bind(stamp.idempotency_key)
            // A map of JSON values always serialises.
            .push_bind(serde_json::to_string(&r.changes.0).unwrap_or_default());
    });
    q.build().execute(conn).await?;
    Ok(())
}

/// The events of resource `subject`, oldest first, a page after the cursor.
pub async fn page(
    pool: &MySqlPool,
    log: EventLog,
    subject: u64,
    page: PageRequest,
) -> Result<(Vec<Event>, Option<String>), sqlx::Error> {
    let sql = format!(
        "SELECT seq, type, at, actor, correlation_id, idempotency_key, changes FROM {} \
         WHERE {} = ? AND seq > ? ORDER BY seq LIMIT ?",
        log.table, log.subject
    );
    let rows = sqlx::query(&sql)
        .bind(subject)
        .bind(page.after_id)
        .bind(page.fetch())
        .fetch_all(pool)
        .await?;
    let events = rows
        .iter()
        .map(|row| {
            let changes: String = row.try_get("changes")?;
            Ok(Event {
                seq: row.try_get("seq")?,
                kind: row.try_get("type")?,
                at: row.try_get("at")?,
                actor: row.try_get("actor")?,
                correlation_id: row.try_get("correlation_id")?,
                idempotency_key: row.try_get("idempotency_key")?,
                changes: serde_json::from_str(&changes)
                    .map_err(|e| sqlx::Error::Decode(Box::new(e)))?,
            })
        })
        .collect::<Result<Vec<_>, sqlx::Error>>()?;
    Ok(paginate(events, page, |e| e.seq))
}

/// `GET /<resource>/{id}/events`: a page of the resource's events, oldest
/// first; `missing` (a 404) when it has none and `exists` says it never
/// existed. Its query is [`PageParams`](crate::pagination::PageParams).
pub async fn history(
    pool: &MySqlPool,
    log: EventLog,
    subject: u64,
    params: &crate::pagination::PageParams,
    exists: impl std::future::Future<Output = Result<bool, sqlx::Error>>,
    missing: impl FnOnce() -> crate::problem::ApiError,
) -> Result<actix_web::HttpResponse, crate::problem::ApiError> {
    let request = params.parse()?;
    let (data, next_cursor) = page(pool, log, subject, request).await?;
    if data.is_empty() && request.after_id == 0 && !exists.await? {
        return Err(missing());
    }
    Ok(actix_web::HttpResponse::Ok().json(contracts::EventPage { data, next_cursor }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn changes_keep_what_changed_only() {
        let c = Changes::new()
            .changed("status", "CREATED", "CONFIRMED")
            .changed("total_cents", 10, 10)
            .set("sku", "A-1")
            .removed("email", "a@b.example");
        assert_eq!(
            Value::Object(c.0),
            json!({"status": {"before": "CREATED", "after": "CONFIRMED"},
                   "sku": {"after": "A-1"}, "email": {"before": "a@b.example"}})
        );
        assert!(Changes::new().changed("x", 1, 1).is_empty());
    }
}
