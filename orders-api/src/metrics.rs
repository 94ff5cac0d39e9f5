//! Domain counters of orders-api.

use kit_server::ops::Metrics;
use prometheus::IntCounter;

pub struct OrderCounters {
    pub created: IntCounter,
    pub confirmed: IntCounter,
    pub canceled: IntCounter,
    pub expired: IntCounter,
    pub replays: IntCounter,
    pub stock_conflicts: IntCounter,
}

impl OrderCounters {
    pub fn register(metrics: &Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            created: metrics.counter("orders_created_total", "Orders created (stock reserved)")?,
            confirmed: metrics.counter("orders_confirmed_total", "Orders confirmed")?,
            canceled: metrics.counter("orders_canceled_total", "Orders canceled by a request")?,
            expired: metrics.counter(
                "orders_expired_total",
                "Reservations released by the sweeper",
            )?,
            replays: metrics.counter(
                "idempotent_replays_total",
                "Requests answered from a stored idempotent result",
            )?,
            stock_conflicts: metrics.counter(
                "stock_conflicts_total",
                "Orders refused for insufficient stock",
            )?,
        })
    }
}
