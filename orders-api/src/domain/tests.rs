//! The domain's rules, value by value.

use std::{collections::HashMap, time::Duration};

use chrono::{DateTime, Utc};
use proptest::prelude::*;

use super::*;

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
