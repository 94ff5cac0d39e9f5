//! An order's lines, and their pricing at the current prices.

use std::collections::HashMap;

use super::{OrderError, OrderItem, OrderLimits, ProductId};

/// One line of a checked order: a product and how many of it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OrderLine {
    pub product_id: ProductId,
    pub qty: u32,
}

/// A product's price and stock, as an order finds them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StockLevel {
    pub price_cents: u64,
    pub stock: u32,
}

/// Prices `items` at the current prices, checking that each product exists
/// and has the stock (`products` holds each one's price and stock), and
/// that the order stays within `limits`. Returns the priced items and the
/// total.
pub fn price(
    items: &[OrderLine],
    products: &HashMap<ProductId, StockLevel>,
    limits: &OrderLimits,
) -> Result<(Vec<OrderItem>, u64), OrderError> {
    let units: u64 = items.iter().map(|l| u64::from(l.qty)).sum();
    limits.check("the total quantity (units)", limits.max_qty, units)?;
    let mut priced = Vec::with_capacity(items.len());
    let mut total: u64 = 0;
    for &OrderLine { product_id, qty } in items {
        let &StockLevel {
            price_cents: price,
            stock,
        } = products
            .get(&product_id)
            .ok_or(OrderError::ProductNotFound { product_id })?;
        if stock < qty {
            return Err(OrderError::InsufficientStock {
                product_id,
                available: stock,
                wanted: qty,
            });
        }
        let subtotal = price
            .checked_mul(u64::from(qty))
            .ok_or(OrderError::Overflow("subtotal"))?;
        total = total
            .checked_add(subtotal)
            .ok_or(OrderError::Overflow("total"))?;
        priced.push(OrderItem {
            product_id,
            qty,
            unit_price_cents: price,
            subtotal_cents: subtotal,
        });
    }
    limits.check("the total value (cents)", limits.max_total_cents, total)?;
    Ok((priced, total))
}
