//! Products.

use chrono::{DateTime, Utc};
use serde::Serialize;
use service_kit::{
    conditional::{precondition_failed, IfMatch},
    pagination::{contains_pattern, PageRequest},
    problem::{ApiError, FieldError},
};
use sqlx::MySqlPool;
use utoipa::ToSchema;

use super::now;
use crate::domain::{NewProduct, ProductPatch, StockChange, MAX_STOCK};

#[derive(Debug, Clone, Serialize, ToSchema)]
pub struct Product {
    #[schema(example = 1)]
    pub id: u64,
    #[schema(example = "SKU001")]
    pub sku: String,
    #[schema(example = "Laptop")]
    pub name: String,
    #[schema(example = 129900)]
    pub price_cents: u64,
    #[schema(example = 10)]
    pub stock: u32,
    /// Bumped by every change (a sale, a release, a patch); the `ETag` is
    /// this number, quoted.
    #[schema(example = 1)]
    pub version: u64,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
}

impl Product {
    /// The product's entity tag: its version, quoted.
    pub fn etag(&self) -> String {
        format!("\"{}\"", self.version)
    }
}

#[tracing::instrument(skip_all, fields(sku = %p.sku))]
pub async fn insert(pool: &MySqlPool, p: &NewProduct) -> Result<Product, ApiError> {
    let at = now();
    let done = sqlx::query!(
        "INSERT INTO products (sku, name, price_cents, stock, created_at, updated_at) VALUES (?, ?, ?, ?, ?, ?)",
        p.sku,
        p.name,
        p.price_cents,
        p.stock,
        at,
        at
    )
    .execute(pool)
    .await
    .map_err(|e| match &e {
        sqlx::Error::Database(db) if db.is_unique_violation() => {
            ApiError::conflict("sku_taken", format!("a product with sku {} already exists", p.sku))
                .with_errors(vec![FieldError::new("sku", "is already taken")])
        }
        _ => e.into(),
    })?;
    Ok(Product {
        id: done.last_insert_id(),
        sku: p.sku.clone(),
        name: p.name.clone(),
        price_cents: p.price_cents,
        stock: p.stock,
        version: 1,
        created_at: at,
        updated_at: at,
    })
}

#[tracing::instrument(skip(pool))]
pub async fn find(pool: &MySqlPool, id: u64) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock, version,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM products WHERE id = ?"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// Applies a patch under a row lock; `None` when there is no such product.
/// With `if_match`, only a product whose ETag matches is changed (412).
#[tracing::instrument(skip(pool, patch, if_match))]
pub async fn patch(
    pool: &MySqlPool,
    id: u64,
    patch: &ProductPatch,
    if_match: Option<&IfMatch>,
) -> Result<Option<Product>, ApiError> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock, version,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM products WHERE id = ? FOR UPDATE"#,
        id
    )
    .fetch_optional(&mut *tx)
    .await?;
    let Some(mut product) = current else {
        return Ok(None);
    };
    if let Some(condition) = if_match {
        if !condition.matches(&product.etag()) {
            return Err(precondition_failed(format!(
                "product {id} has changed since it was read: its ETag is now {}",
                product.etag()
            )));
        }
    }
    if let Some(name) = &patch.name {
        product.name = name.clone();
    }
    if let Some(price) = patch.price_cents {
        product.price_cents = price;
    }
    match patch.stock {
        Some(StockChange::Set(level)) => product.stock = level,
        Some(StockChange::By(delta)) => {
            let level = i64::from(product.stock) + delta;
            if level < 0 {
                return Err(ApiError::conflict(
                    "insufficient_stock",
                    format!(
                        "product {id} has {} in stock; {} cannot be removed",
                        product.stock,
                        delta.unsigned_abs()
                    ),
                ));
            }
            product.stock = u32::try_from(level)
                .ok()
                .filter(|l| *l <= MAX_STOCK)
                .ok_or_else(|| {
                    ApiError::conflict(
                        "stock_out_of_range",
                        format!("product {id} would hold more than {MAX_STOCK} units"),
                    )
                })?;
        }
        None => {}
    }
    product.updated_at = now();
    product.version += 1;
    sqlx::query!(
        "UPDATE products SET name = ?, price_cents = ?, stock = ?, version = ?, updated_at = ? WHERE id = ?",
        product.name,
        product.price_cents,
        product.stock,
        product.version,
        product.updated_at,
        id
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
