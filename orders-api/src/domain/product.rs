//! A new product, its fields parsed once at the edge.

use contracts::{invalid::Invalid, ProductInput};

/// Highest accepted price: 100 million in cents, so no total can overflow.
pub const MAX_PRICE_CENTS: u64 = 10_000_000_000;
/// Highest accepted stock level.
pub const MAX_STOCK: u32 = 1_000_000_000;

pub(super) use contracts::text::display_name as parse_name;

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

pub(super) fn check_price(price: u64) -> Result<u64, &'static str> {
    if (1..=MAX_PRICE_CENTS).contains(&price) {
        Ok(price)
    } else {
        Err("must be between 1 and 10000000000")
    }
}

pub(super) fn check_stock(stock: u32) -> Result<u32, &'static str> {
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

pub(super) fn collect<T>(
    errors: &mut Vec<Invalid>,
    field: &str,
    r: Result<T, &'static str>,
) -> Option<T> {
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
