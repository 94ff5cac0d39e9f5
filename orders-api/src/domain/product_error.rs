//! Why a product could not be created or changed.

use super::{ProductId, MAX_STOCK};

/// Why a product could not be created or changed: the rules of products,
/// free of HTTP. The route layer turns each into a problem document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ProductError {
    #[error("a product with sku {sku} already exists")]
    SkuTaken { sku: String },
    #[error("product {id} has changed since it was read: its ETag is now {etag}")]
    Changed { id: ProductId, etag: String },
    #[error("product {id} has {available} in stock; {removed} cannot be removed")]
    InsufficientStock {
        id: ProductId,
        available: u32,
        removed: u64,
    },
    #[error("product {id} would hold more than {MAX_STOCK} units")]
    StockOutOfRange { id: ProductId },
}
