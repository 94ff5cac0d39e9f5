//! Products.

use chrono::{DateTime, Utc};
use contracts::EventKind;
use kit_server::conditional::IfMatch;
use kit_server::pagination::{contains_pattern, PageRequest};
use sqlx::MySqlPool;

use kit_server::events::{self, Changes, Record, Stamp};

use super::{now, orders::PRODUCT_EVENTS, TxError};
pub use crate::domain::Product;
use crate::domain::{NewProduct, ProductError, ProductId, ProductPatch};

/// The unique key on SKUs (see the migration): only its violation is a
/// taken SKU.
const SKU_KEY: &str = "uq_products_sku";

#[tracing::instrument(skip_all, fields(sku = %p.sku))]
pub async fn insert(pool: &MySqlPool, p: &NewProduct, actor: &str) -> Result<Product, TxError> {
    let at = now();
    let mut tx = pool.begin().await?;
    let done = sqlx::query!(
        "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        p.sku,
        p.name,
        p.price_cents,
        p.stock,
        at,
        at
    )
    .execute(&mut *tx)
    .await
    .map_err(|e| match kit_server::db::unique_key(&e) {
        Some(key) if key == SKU_KEY => TxError::Product(ProductError::SkuTaken {
            sku: p.sku.clone(),
        }),
        _ => e.into(),
    })?;
    let product = Product {
        id: ProductId(done.last_insert_id()),
        sku: p.sku.clone(),
        name: p.name.clone(),
        price_cents: p.price_cents,
        stock: p.stock,
        version: 1,
        created_at: at,
        updated_at: at,
    };
    let created = Record {
        subject: product.id.get(),
        kind: EventKind::ProductCreated,
        changes: Changes::new()
            .set("sku", product.sku.as_str())
            .set("name", product.name.as_str())
            .set("price_cents", product.price_cents)
            // From nothing: a sum of the stock events is the stock.
            .changed("stock", 0, product.stock),
    };
    events::append(&mut tx, PRODUCT_EVENTS, &Stamp::new(actor, at), &[created]).await?;
    tx.commit().await?;
    Ok(product)
}

/// Whether product `id` exists.
pub async fn exists(pool: &MySqlPool, id: ProductId) -> Result<bool, sqlx::Error> {
    let found = sqlx::query_scalar!("SELECT 1 AS one FROM products WHERE id = ?", id.get())
        .fetch_optional(pool)
        .await?;
    Ok(found.is_some())
}

#[tracing::instrument(skip(pool))]
pub async fn find(pool: &MySqlPool, id: ProductId) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock, version,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM products WHERE id = ?"#,
        id.get()
    )
    .fetch_optional(pool)
    .await
}

/// Applies a patch under a row lock; `None` when there is no such product.
/// With `if_match`, only a product whose ETag matches is changed (412).
#[tracing::instrument(skip(pool, patch, if_match, actor))]
pub async fn patch(
    pool: &MySqlPool,
    id: ProductId,
    patch: &ProductPatch,
    if_match: Option<&IfMatch>,
    actor: &str,
) -> Result<Option<Product>, TxError> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock, version,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM products WHERE id = ? FOR UPDATE"#,
        id.get()
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut product) = current else {
        return Ok(None);
    };
    if let Some(condition) = if_match {
        if !condition.matches(&product.etag()) {
            return Err(ProductError::Changed {
                id,
                etag: product.etag(),
            }
            .into());
        }
    }
    let before = product.clone();
    crate::domain::apply_patch(&mut product, patch, now())?;
    let changes = Changes::new()
        .changed("name", before.name.as_str(), product.name.as_str())
        .changed("price_cents", before.price_cents, product.price_cents)
        .changed("stock", before.stock, product.stock);
    if !changes.is_empty() {
        let updated = Record {
            subject: id.get(),
            kind: EventKind::ProductUpdated,
            changes,
        };
        let stamp = Stamp::new(actor, product.updated_at);
        events::append(&mut tx, PRODUCT_EVENTS, &stamp, &[updated]).await?;
    }
    sqlx::query!(
        "UPDATE products SET name = ?, price_cents = ?, stock = ?, version = ?, updated_at = ? WHERE id = ?",
        product.name,
        product.price_cents,
        product.stock,
        product.version,
        product.updated_at,
        id.get()
    )
    .execute(&mut *tx)
    .await?;
    tx.commit().await?;
    Ok(Some(product))
}

/// Products in id order after the cursor, optionally matching sku or name.
#[tracing::instrument(skip(pool, term))]
pub async fn search(
    pool: &MySqlPool,
    term: Option<&str>,
    page: PageRequest,
) -> Result<Vec<Product>, sqlx::Error> {
    let pattern = term.map(contains_pattern);
    sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock, version,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM products
           WHERE id > ? AND (? IS NULL OR sku LIKE ? OR name LIKE ?)
           ORDER BY id
           LIMIT ?"#,
        page.after_id,
        pattern,
        pattern,
        pattern,
        page.fetch()
    )
    .fetch_all(pool)
    .await
}
