//! Why an order could not be created, confirmed or canceled.

use kit_identity::scope::Scope;

use super::{CustomerId, OrderId, ProductId};

/// Why an order could not be created, confirmed or canceled: the rules of
/// orders, free of HTTP. The route layer turns each into a problem document.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum OrderError {
    #[error("no customer with id {id}")]
    CustomerNotFound { id: CustomerId },
    #[error("no product with id {product_id}")]
    ProductNotFound { product_id: ProductId },
    #[error("product {product_id} has {available} in stock; {wanted} requested")]
    InsufficientStock {
        product_id: ProductId,
        available: u32,
        wanted: u32,
    },
    #[error("no order with id {id}")]
    NotFound { id: OrderId },
    #[error("order {id} is CANCELED and cannot be confirmed")]
    ConfirmCanceled { id: OrderId },
    #[error("order {id} was confirmed more than {window_secs} seconds ago and can no longer be canceled")]
    CancelWindowExpired { id: OrderId, window_secs: u64 },
    #[error("order {id} is {status}; If-Match did not match its ETag {etag}")]
    PreconditionFailed {
        id: OrderId,
        status: &'static str,
        etag: String,
    },
    /// The order holds more than one order may.
    #[error("{what} of this order is {wanted}; one order may hold at most {max}")]
    LimitExceeded {
        what: &'static str,
        max: u64,
        wanted: u64,
    },
    /// The caller may not do this to this order without `scope`.
    #[error("this needs the scope {scope}, which the token does not grant")]
    Forbidden { scope: Scope },
    /// Cannot happen within the limits on prices and quantities.
    #[error("the order's {0} overflows")]
    Overflow(&'static str),
}
