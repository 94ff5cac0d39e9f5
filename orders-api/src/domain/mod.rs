//! Product and order values, parsed once at the edge, and the rules of
//! orders, free of HTTP and of the database: one type per file.

mod limits;
mod line;
mod order;
mod order_error;
mod patch;
mod product;
mod product_error;
mod right;
#[cfg(test)]
mod tests;

pub use contracts::orders::{Order, OrderInput, OrderItem, OrderItemInput, OrderStatus};
pub use contracts::{CustomerId, OrderId, Product, ProductId, ProductInput};

pub use self::{
    limits::OrderLimits,
    line::{price, OrderLine, StockLevel},
    order::{cancel_changes, confirm_changes, NewOrder},
    order_error::OrderError,
    patch::{apply_patch, ProductPatch, ProductPatchInput, StockChange},
    product::{NewProduct, MAX_PRICE_CENTS, MAX_STOCK},
    product_error::ProductError,
    right::Right,
};
