//! Products.

use chrono::{DateTime, Utc};
use serde::Serialize;
use service_kit::{
    pagination::{contains_pattern, PageRequest},
    problem::{ApiError, FieldError},
};
use sqlx::MySqlPool;
use utoipa::ToSchema;

use super::now;
use crate::domain::{NewProduct, ProductPatch};

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
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
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
        created_at: at,
        updated_at: at,
    })
}

#[tracing::instrument(skip(pool))]
pub async fn find(pool: &MySqlPool, id: u64) -> Result<Option<Product>, sqlx::Error> {
    sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock,
                  created_at AS "created_at: DateTime<Utc>",
                  updated_at AS "updated_at: DateTime<Utc>"
           FROM products WHERE id = ?"#,
        id
    )
    .fetch_optional(pool)
    .await
}

/// Applies a patch under a row lock; `None` when there is no such product.
#[tracing::instrument(skip(pool, patch))]
pub async fn patch(
    pool: &MySqlPool,
    id: u64,
    patch: &ProductPatch,
) -> Result<Option<Product>, sqlx::Error> {
    let mut tx = pool.begin().await?;
    let current = sqlx::query_as!(
        Product,
        r#"SELECT id, sku, name, price_cents, stock,
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
    if let Some(name) = &patch.name {
        product.name = name.clone();
    }
    if let Some(price) = patch.price_cents {
        product.price_cents = price;
    }
    if let Some(stock) = patch.stock {
        product.stock = stock;
    }
    product.updated_at = now();
    sqlx::query!(
        "UPDATE products SET name = ?, price_cents = ?, stock = ?, updated_at = ? WHERE id = ?",
        product.name,
        product.price_cents,
        product.stock,
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
        r#"SELECT id, sku, name, price_cents, stock,
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
