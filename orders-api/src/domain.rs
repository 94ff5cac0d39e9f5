//! Product and order values, parsed once at the edge.

use std::{
    collections::{BTreeMap, HashMap},
    time::Duration,
};

use chrono::{DateTime, Utc};

pub use contracts::orders::{Order, OrderInput, OrderItem, OrderItemInput, OrderStatus};
pub use contracts::{CustomerId, OrderId, Product, ProductId, ProductInput};
use serde::Deserialize;
use service_kit::{invalid::Invalid, scope::Scope};
use utoipa::ToSchema;

/// Highest accepted price: 100 million in cents, so no total can overflow.
pub const MAX_PRICE_CENTS: u64 = 10_000_000_000;
/// Highest accepted stock level.
pub const MAX_STOCK: u32 = 1_000_000_000;

use service_kit::text::display_name as parse_name;

fn parse_sku(raw: &str) -> Result<String, &'static str> {
    let sku = raw.trim();
    let ok = !sku.is_empty()
        && sku.len() <= 64
        && sku
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    ok.then(|| sku.to_owned())
        .ok_or("must be 1..=64 characters of letters, digits, '-', '_' or '.'")
}

fn check_price(price: u64) -> Result<u64, &'static str> {
    if (1..=MAX_PRICE_CENTS).contains(&price) {
        Ok(price)
    } else {
        Err("must be between 1 and 10000000000")
    }
}

fn check_stock(stock: u32) -> Result<u32, &'static str> {
    if stock <= MAX_STOCK {
        Ok(stock)
    } else {
        Err("must be between 0 and 1000000000")
    }
}

#[derive(Debug, Clone)]
pub struct NewProduct {
    pub sku: String,
    pub name: String,
    pub price_cents: u64,
    pub stock: u32,
}

fn collect<T>(errors: &mut Vec<Invalid>, field: &str, r: Result<T, &'static str>) -> Option<T> {
    r.map_err(|m| errors.push(Invalid::new(field, m))).ok()
}

impl TryFrom<ProductInput> for NewProduct {
    type Error = Vec<Invalid>;

    fn try_from(input: ProductInput) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        let sku = collect(&mut errors, "sku", parse_sku(&input.sku));
        let name = collect(&mut errors, "name", parse_name(&input.name));
        let price_cents = collect(&mut errors, "price_cents", check_price(input.price_cents));
        let stock = collect(&mut errors, "stock", check_stock(input.stock));
        match (sku, name, price_cents, stock) {
            (Some(sku), Some(name), Some(price_cents), Some(stock)) => Ok(Self {
                sku,
                name,
                price_cents,
                stock,
            }),
            _ => Err(errors),
        }
    }
}

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

/// A checked order request: items summed per product, in product id order
/// (the order in which rows are locked, so concurrent orders cannot deadlock).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewOrder {
    pub customer_id: CustomerId,
    /// Ascending product ids, each once.
    pub items: Vec<OrderLine>,
}

impl TryFrom<OrderInput> for NewOrder {
    type Error = Vec<Invalid>;

    fn try_from(input: OrderInput) -> Result<Self, Self::Error> {
        let mut errors = Vec::new();
        if input.customer_id.get() == 0 {
            errors.push(Invalid::new("customer_id", "must be a positive id"));
        }
        let (lines, qty) = (OrderInput::ITEMS, OrderItemInput::QTY);
        if !lines.contains(&input.items.len()) {
            errors.push(Invalid::new(
                "items",
                format!("must hold {} to {} items", lines.start(), lines.end()),
            ));
        }
        let mut summed: BTreeMap<ProductId, u64> = BTreeMap::new();
        for (i, item) in input.items.iter().enumerate() {
            if item.product_id.get() == 0 {
                errors.push(Invalid::new(
                    format!("items[{i}].product_id"),
                    "must be a positive id",
                ));
            }
            if !qty.contains(&item.qty) {
                errors.push(Invalid::new(
                    format!("items[{i}].qty"),
                    format!("must be between {} and {}", qty.start(), qty.end()),
                ));
            }
            *summed.entry(item.product_id).or_default() += u64::from(item.qty);
        }
        if errors.is_empty() {
            for (product_id, qty) in &summed {
                if *qty > u64::from(*OrderItemInput::QTY.end()) {
                    errors.push(Invalid::new(
                        "items",
                        format!(
                            "the quantities of product {product_id} add up to more than {}",
                            OrderItemInput::QTY.end()
                        ),
                    ));
                }
            }
        }
        if !errors.is_empty() {
            return Err(errors);
        }
        Ok(Self {
            customer_id: input.customer_id,
            items: summed
                .into_iter()
                .map(|(product_id, qty)| OrderLine {
                    product_id,
                    qty: qty as u32,
                })
                .collect(),
        })
    }
}

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

/// Who reads or cancels an order, and by which right: anyone whose token
/// grants the route's scope (`orders:read`, `orders:cancel`), or the
/// order's creator with `orders:write`, who may always read it and may
/// withdraw it while nobody has confirmed it. That is what a saga needs to
/// read back and to compensate its own order, without rights over anyone
/// else's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Right<'a> {
    /// The token grants the route's own scope.
    Scope,
    /// The token grants `orders:write` only; this is its `sub`.
    Creator(&'a str),
    /// Neither.
    None,
}

impl<'a> Right<'a> {
    /// `caller`'s right for a route needing `scope`.
    pub fn of(caller: &'a service_kit::scope::Principal, scope: Scope) -> Self {
        if caller.may(scope) {
            Right::Scope
        } else if caller.may(Scope::OrdersWrite) {
            Right::Creator(&caller.subject)
        } else {
            Right::None
        }
    }

    /// What the caller learns of an order that does not exist: 404 with
    /// the route's scope, else the same 403 as for someone else's order.
    pub fn missing(self, id: OrderId, scope: Scope) -> OrderError {
        match self {
            Right::Scope => OrderError::NotFound { id },
            _ => OrderError::Forbidden { scope },
        }
    }

    /// `Ok` when the caller may read `order` (`scope`: `orders:read`).
    pub fn read(self, order: &Order, scope: Scope) -> Result<(), OrderError> {
        match self {
            Right::Scope => Ok(()),
            Right::Creator(sub) if order.created_by == sub => Ok(()),
            _ => Err(OrderError::Forbidden { scope }),
        }
    }

    /// `Ok` when the caller may cancel `order` (`scope`: `orders:cancel`):
    /// a creator only while it is not CONFIRMED.
    pub fn cancel(self, order: &Order, scope: Scope) -> Result<(), OrderError> {
        match self {
            Right::Scope => Ok(()),
            Right::Creator(sub)
                if order.created_by == sub && order.status != OrderStatus::Confirmed =>
            {
                Ok(())
            }
            _ => Err(OrderError::Forbidden { scope }),
        }
    }
}

/// An idempotency key as orders-api accepts it: 1..=255 visible ASCII
/// characters, surrounding spaces trimmed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct IdempotencyKey(String);

impl IdempotencyKey {
    pub const MAX_LEN: usize = 255;

    pub fn parse(raw: &str) -> Option<Self> {
        let key = raw.trim();
        let ok = !key.is_empty()
            && key.len() <= Self::MAX_LEN
            && key.bytes().all(|b| b.is_ascii_graphic());
        ok.then(|| Self(key.to_owned()))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// Why a key cannot be used now: the rules of idempotency keys, free of
/// HTTP.
#[derive(Debug, Clone, Copy, thiserror::Error, PartialEq, Eq)]
pub enum KeyConflict {
    #[error("this idempotency key was used with a different request (body or target)")]
    Reused,
    #[error("a request with this idempotency key is still being processed; retry later")]
    InProgress { retry_after_secs: i64 },
}

/// The most one order may hold, so that one token cannot buy out the
/// inventory: units in all (`ORDER_MAX_QTY`) and value
/// (`ORDER_MAX_TOTAL_CENTS`). A saga is one order, so these cap a saga too.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OrderLimits {
    pub max_qty: u64,
    pub max_total_cents: u64,
}

impl Default for OrderLimits {
    /// 10,000 units, 1,000,000.00 in value.
    fn default() -> Self {
        Self {
            max_qty: 10_000,
            max_total_cents: 100_000_000,
        }
    }
}

impl OrderLimits {
    fn check(&self, what: &'static str, max: u64, wanted: u64) -> Result<(), OrderError> {
        if wanted > max {
            return Err(OrderError::LimitExceeded { what, max, wanted });
        }
        Ok(())
    }
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

/// Whether confirming changes `order`: CREATED → CONFIRMED (true);
/// CONFIRMED stays as it is (false); CANCELED cannot be confirmed.
pub fn confirm_changes(order: &Order) -> Result<bool, OrderError> {
    match order.status {
        OrderStatus::Created => Ok(true),
        OrderStatus::Confirmed => Ok(false),
        OrderStatus::Canceled => Err(OrderError::ConfirmCanceled { id: order.id }),
    }
}

/// Whether canceling at `at` changes `order`: CREATED at any time and
/// CONFIRMED within `window` of its confirmation (true); CANCELED stays
/// as it is (false); a CONFIRMED order past the window cannot be.
pub fn cancel_changes(
    order: &Order,
    at: DateTime<Utc>,
    window: Duration,
) -> Result<bool, OrderError> {
    match order.status {
        OrderStatus::Canceled => Ok(false),
        OrderStatus::Created => Ok(true),
        OrderStatus::Confirmed => {
            let confirmed_at = order.confirmed_at.unwrap_or(order.updated_at);
            // A window past the end of the calendar never closes.
            let closes = chrono::Duration::from_std(window)
                .ok()
                .and_then(|w| confirmed_at.checked_add_signed(w));
            if closes.is_some_and(|closes| at > closes) {
                Err(OrderError::CancelWindowExpired {
                    id: order.id,
                    window_secs: window.as_secs(),
                })
            } else {
                Ok(true)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    fn an_order(status: OrderStatus, confirmed_secs_ago: i64, now: DateTime<Utc>) -> Order {
        let confirmed = now - chrono::Duration::seconds(confirmed_secs_ago);
        Order {
            id: OrderId(8),
            customer_id: CustomerId(1),
            status,
            total_cents: 0,
            items: Vec::new(),
            created_by: "u".into(),
            created_at: confirmed,
            updated_at: confirmed,
            confirmed_at: (status == OrderStatus::Confirmed).then_some(confirmed),
            canceled_at: None,
        }
    }

    /// Order lines of (product id, quantity).
    fn lines(items: &[(u64, u32)]) -> Vec<OrderLine> {
        items
            .iter()
            .map(|&(p, qty)| OrderLine {
                product_id: ProductId(p),
                qty,
            })
            .collect()
    }

    /// Stock levels of (product id, price, stock).
    fn levels(products: &[(u64, u64, u32)]) -> HashMap<ProductId, StockLevel> {
        products
            .iter()
            .map(|&(p, price_cents, stock)| (ProductId(p), StockLevel { price_cents, stock }))
            .collect()
    }

    #[test]
    fn pricing_checks_products_and_stock_and_totals() {
        let products = levels(&[(2, 2990, 10), (3, 100, 1)]);
        let (items, total) = price(
            &lines(&[(2, 3), (3, 1)]),
            &products,
            &OrderLimits::default(),
        )
        .expect("priced");
        assert_eq!(total, 3 * 2990 + 100);
        assert_eq!(items[0].subtotal_cents, 8970);
        assert_eq!(
            price(&lines(&[(9, 1)]), &products, &OrderLimits::default()),
            Err(OrderError::ProductNotFound {
                product_id: ProductId(9)
            })
        );
        assert_eq!(
            price(&lines(&[(3, 2)]), &products, &OrderLimits::default()),
            Err(OrderError::InsufficientStock {
                product_id: ProductId(3),
                available: 1,
                wanted: 2
            })
        );
        let dear = levels(&[(2, u64::MAX, 10)]);
        assert_eq!(
            price(&lines(&[(2, 2)]), &dear, &OrderLimits::default()),
            Err(OrderError::Overflow("subtotal"))
        );
    }

    #[test]
    fn an_order_stays_within_its_limits_of_units_and_value() {
        let products = levels(&[(2, 2990, 100), (3, 100, 100)]);
        let limits = OrderLimits {
            max_qty: 5,
            max_total_cents: 3 * 2990 + 2 * 100,
        };
        // Exactly at both limits: accepted.
        let at_limits = price(&lines(&[(2, 3), (3, 2)]), &products, &limits);
        assert_eq!(at_limits.map(|(_, total)| total), Ok(9170));
        // One unit more, summed across lines.
        assert_eq!(
            price(&lines(&[(2, 3), (3, 3)]), &products, &limits),
            Err(OrderError::LimitExceeded {
                what: "the total quantity (units)",
                max: 5,
                wanted: 6
            })
        );
        // One cent more in value, within the units.
        let dearer = levels(&[(2, 2991, 100), (3, 100, 100)]);
        assert_eq!(
            price(&lines(&[(2, 3), (3, 2)]), &dearer, &limits),
            Err(OrderError::LimitExceeded {
                what: "the total value (cents)",
                max: 9170,
                wanted: 9173
            })
        );
    }

    fn a_product(stock: u32) -> Product {
        let at = Utc::now();
        Product {
            id: ProductId(2),
            sku: "SKU".into(),
            name: "Lamp".into(),
            price_cents: 100,
            stock,
            version: 4,
            created_at: at,
            updated_at: at,
        }
    }

    #[test]
    fn a_patch_sets_or_moves_the_stock_within_its_bounds() {
        let at = Utc::now();
        let by = |delta| ProductPatch {
            stock: Some(StockChange::By(delta)),
            ..ProductPatch::default()
        };
        let mut p = a_product(5);
        apply_patch(&mut p, &by(-5), at).expect("down to zero");
        assert_eq!((p.stock, p.version, p.updated_at), (0, 5, at));
        assert_eq!(
            apply_patch(&mut a_product(5), &by(-6), at),
            Err(ProductError::InsufficientStock {
                id: ProductId(2),
                available: 5,
                removed: 6
            })
        );
        let mut full = a_product(MAX_STOCK);
        assert_eq!(
            apply_patch(&mut full, &by(1), at),
            Err(ProductError::StockOutOfRange { id: ProductId(2) })
        );
        assert_eq!(full.version, 4, "a refused patch changes nothing");
        let mut p = a_product(5);
        let set = ProductPatch {
            name: Some("Desk".into()),
            price_cents: Some(7),
            stock: Some(StockChange::Set(9)),
        };
        apply_patch(&mut p, &set, at).expect("set");
        assert_eq!((p.name.as_str(), p.price_cents, p.stock), ("Desk", 7, 9));
        assert_eq!(p.etag(), "\"5\"");
    }

    #[test]
    fn confirm_moves_created_only_and_refuses_canceled() {
        let now = Utc::now();
        assert_eq!(
            confirm_changes(&an_order(OrderStatus::Created, 0, now)),
            Ok(true)
        );
        assert_eq!(
            confirm_changes(&an_order(OrderStatus::Confirmed, 0, now)),
            Ok(false)
        );
        assert_eq!(
            confirm_changes(&an_order(OrderStatus::Canceled, 0, now)),
            Err(OrderError::ConfirmCanceled { id: OrderId(8) })
        );
    }

    #[test]
    fn cancel_keeps_to_the_window_after_confirmation() {
        let now = Utc::now();
        let window = Duration::from_secs(600);
        assert_eq!(
            cancel_changes(&an_order(OrderStatus::Created, 9_999, now), now, window),
            Ok(true)
        );
        assert_eq!(
            cancel_changes(&an_order(OrderStatus::Canceled, 0, now), now, window),
            Ok(false)
        );
        assert_eq!(
            cancel_changes(&an_order(OrderStatus::Confirmed, 600, now), now, window),
            Ok(true)
        );
        assert_eq!(
            cancel_changes(&an_order(OrderStatus::Confirmed, 601, now), now, window),
            Err(OrderError::CancelWindowExpired {
                id: OrderId(8),
                window_secs: 600
            })
        );
        // A window past the end of the calendar never closes.
        assert_eq!(
            cancel_changes(
                &an_order(OrderStatus::Confirmed, 601, now),
                now,
                Duration::MAX
            ),
            Ok(true)
        );
    }

    use super::*;
    use proptest::prelude::*;

    fn order(items: &[(u64, u32)]) -> OrderInput {
        OrderInput {
            customer_id: CustomerId(1),
            items: items
                .iter()
                .map(|(p, q)| OrderItemInput {
                    product_id: ProductId(*p),
                    qty: *q,
                })
                .collect(),
        }
    }

    #[test]
    fn repeated_products_are_summed_and_sorted() {
        let o = NewOrder::try_from(order(&[(3, 1), (1, 2), (3, 4)])).expect("valid");
        assert_eq!(o.items, lines(&[(1, 2), (3, 5)]));
    }

    #[test]
    fn bad_orders_name_their_fields() {
        let e = NewOrder::try_from(order(&[])).expect_err("empty");
        assert_eq!(e[0].field, "items");
        let e = NewOrder::try_from(order(&[(1, 0), (0, 1)])).expect_err("bad items");
        let fields: Vec<_> = e.iter().map(|f| f.field.as_str()).collect();
        assert_eq!(fields, ["items[0].qty", "items[1].product_id"]);
        let many: Vec<(u64, u32)> = (1..=101).map(|p| (p, 1)).collect();
        assert!(NewOrder::try_from(order(&many)).is_err());
        assert!(NewOrder::try_from(order(&[(1, *OrderItemInput::QTY.end()), (1, 1)])).is_err());
    }

    proptest! {
        #[test]
        fn summing_conserves_quantities(items in proptest::collection::vec((1u64..6, 1u32..1000), 1..50)) {
            let total: u64 = items.iter().map(|(_, q)| u64::from(*q)).sum();
            let o = NewOrder::try_from(order(&items)).expect("valid");
            prop_assert_eq!(o.items.iter().map(|l| u64::from(l.qty)).sum::<u64>(), total);
            prop_assert!(o.items.windows(2).all(|w| w[0].product_id < w[1].product_id));
        }
    }
}
