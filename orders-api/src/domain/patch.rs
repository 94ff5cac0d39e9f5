//! A change to a product: its body, parsed, and applied to the product as it stands.

use chrono::{DateTime, Utc};
use contracts::invalid::Invalid;
use serde::Deserialize;
use utoipa::ToSchema;

use super::{
    product::{check_price, check_stock, collect, parse_name},
    Product, ProductError, MAX_STOCK,
};

/// Body of `PATCH /products/{id}`: any of the three fields.
#[derive(Debug, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ProductPatchInput {
    pub name: Option<String>,
    #[schema(minimum = 1)]
    pub price_cents: Option<u64>,
    /// The new stock level (absolute). Needs `If-Match` with the product's
    /// ETag: a level set from a stale read would create or destroy units.
    #[schema(minimum = 0)]
    pub stock: Option<u32>,
    /// A relative change of the stock (a restock, or a write-off when
    /// negative), safe without `If-Match`. Not with `stock`.
    #[schema(minimum = -1_000_000_000i64, maximum = 1_000_000_000i64)]
    pub stock_delta: Option<i64>,
}

/// How a patch changes the stock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StockChange {
    /// To this level (needs a precondition).
    Set(u32),
    /// By this many units, up or down.
    By(i64),
}

#[derive(Debug, Clone, Default)]
pub struct ProductPatch {
    pub name: Option<String>,
    pub price_cents: Option<u64>,
    pub stock: Option<StockChange>,
}

impl TryFrom<ProductPatchInput> for ProductPatch {
    type Error = Vec<Invalid>;

    fn try_from(input: ProductPatchInput) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        if input.name.is_none()
            && input.price_cents.is_none()
            && input.stock.is_none()
            && input.stock_delta.is_none()
        {
            errors.push(Invalid::new(
                "body",
                "give at least one of name, price_cents, stock, stock_delta",
            ));
        }
        if input.stock.is_some() && input.stock_delta.is_some() {
            errors.push(Invalid::new(
                "stock_delta",
                "give stock or stock_delta, not both",
            ));
        }
        let delta = input.stock_delta.map(|d| {
            collect(
                &mut errors,
                "stock_delta",
                if d != 0 && d.unsigned_abs() <= u64::from(MAX_STOCK) {
                    Ok(d)
                } else {
                    Err("must be a non-zero number of units between -1000000000 and 1000000000")
                },
            )
        });
        let name = input
            .name
            .map(|n| collect(&mut errors, "name", parse_name(&n)));
        let price_cents = input
            .price_cents
            .map(|p| collect(&mut errors, "price_cents", check_price(p)));
        let stock = input
            .stock
            .map(|s| collect(&mut errors, "stock", check_stock(s)));
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            name: name.flatten(),
            price_cents: price_cents.flatten(),
            stock: stock
                .flatten()
                .map(StockChange::Set)
                .or(delta.flatten().map(StockChange::By)),
        })
    }
}

/// Applies `patch` to `product` as of `at`: the new name, price and stock
/// level (a relative change may neither go below zero nor above
/// [`MAX_STOCK`]), the next version.
pub fn apply_patch(
    product: &mut Product,
    patch: &ProductPatch,
    at: DateTime<Utc>,
) -> Result<(), ProductError> {
    let stock = match patch.stock {
        Some(StockChange::Set(level)) => level,
        Some(StockChange::By(delta)) => {
            let level = i64::from(product.stock) + delta;
            if level < 0 {
                return Err(ProductError::InsufficientStock {
                    id: product.id,
                    available: product.stock,
                    removed: delta.unsigned_abs(),
                });
            }
            u32::try_from(level)
                .ok()
                .filter(|l| *l <= MAX_STOCK)
                .ok_or(ProductError::StockOutOfRange { id: product.id })?
        }
        None => product.stock,
    };
    if let Some(name) = &patch.name {
        product.name.clone_from(name);
    }
    if let Some(price) = patch.price_cents {
        product.price_cents = price;
    }
    product.stock = stock;
    product.updated_at = at;
    product.version += 1;
    Ok(())
}
