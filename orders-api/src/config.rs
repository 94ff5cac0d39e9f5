//! orders-api settings.

use std::time::Duration;

use anyhow::{anyhow, Context};
use kit_runtime::config::{self, secs_in, HttpSettings};

pub use crate::domain::OrderLimits;

#[derive(Clone)]
pub struct Settings {
    pub http: HttpSettings,
    /// `CUSTOMERS_API_BASE`: where `GET /internal/customers/{id}` is asked.
    pub customers_api_base: String,
    /// `SERVICE_TOKEN`: orders-api's own token for customers-api (which
    /// knows it as `orders-api` in its `SERVICE_TOKENS`).
    pub service_token: String,
    /// `RESERVATION_TTL_SECS` (900): CREATED orders older than this are released.
    pub reservation_ttl: Duration,
    /// `CANCEL_WINDOW_SECS` (600): how long after confirmation an order may be canceled.
    pub cancel_window: Duration,
    /// `IDEMPOTENCY_TTL_SECS` (86400): how long idempotency records are kept.
    pub idempotency_ttl: Duration,
    /// `SWEEP_INTERVAL_SECS` (30): how often the sweeper runs while this
    /// instance holds reservations that have yet to expire.
    pub sweep_interval: Duration,
    /// `SWEEP_IDLE_INTERVAL_SECS` (600, at least `SWEEP_INTERVAL_SECS`): how
    /// often it runs otherwise, so that an idle database is left alone.
    pub sweep_idle_interval: Duration,
    /// The most one order (so one saga) may hold: `ORDER_MAX_QTY` units
    /// (10000) and `ORDER_MAX_TOTAL_CENTS` in value (100000000).
    pub limits: OrderLimits,
    /// `IDEMPOTENCY_WAIT_SECS` (1): how long a request waits for another
    /// one holding its idempotency key before answering 409 in progress. It
    /// is the sessions' `innodb_lock_wait_timeout`, so it bounds every lock
    /// wait of orders-api.
    pub idempotency_wait: Duration,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("http", &self.http)
            .field("customers_api_base", &self.customers_api_base)
            .field("service_token", &"<redacted>")
            .field("reservation_ttl", &self.reservation_ttl)
            .field("cancel_window", &self.cancel_window)
            .field("idempotency_ttl", &self.idempotency_ttl)
            .field("sweep_interval", &self.sweep_interval)
            .field("sweep_idle_interval", &self.sweep_idle_interval)
            .field("limits", &self.limits)
            .field("idempotency_wait", &self.idempotency_wait)
            .finish()
    }
}

/// `IDEMPOTENCY_WAIT_SECS` when unset.
pub const DEFAULT_IDEMPOTENCY_WAIT_SECS: u64 = 1;

/// The longest any duration setting may be: 30 days.
const MONTH: u64 = 30 * 86_400;

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let base =
            config::required("CUSTOMERS_API_BASE").context("customers-api is not configured")?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(anyhow!("CUSTOMERS_API_BASE must be an http(s) URL"));
        }
        let sweep_interval = secs_in("SWEEP_INTERVAL_SECS", 30, 1..=3600)?;
        Ok(Self {
            http: HttpSettings::from_env(3002)?,
            customers_api_base: base.trim_end_matches('/').to_owned(),
            service_token: config::service_token(config::required("SERVICE_TOKEN")?)?,
            reservation_ttl: secs_in("RESERVATION_TTL_SECS", 900, 1..=MONTH)?,
            cancel_window: secs_in("CANCEL_WINDOW_SECS", 600, 1..=MONTH)?,
            idempotency_ttl: secs_in("IDEMPOTENCY_TTL_SECS", 86_400, 60..=MONTH)?,
            sweep_interval,
            sweep_idle_interval: secs_in("SWEEP_IDLE_INTERVAL_SECS", 600, 1..=86_400)?
                .max(sweep_interval),
            limits: OrderLimits {
                max_qty: config::parsed_in(
                    "ORDER_MAX_QTY",
                    OrderLimits::default().max_qty,
                    1..=100_000_000,
                )?,
                max_total_cents: config::parsed_in(
                    "ORDER_MAX_TOTAL_CENTS",
                    OrderLimits::default().max_total_cents,
                    1..=crate::domain::MAX_PRICE_CENTS,
                )?,
            },
            idempotency_wait: secs_in(
                "IDEMPOTENCY_WAIT_SECS",
                DEFAULT_IDEMPOTENCY_WAIT_SECS,
                1..=60,
            )?,
        })
    }
}
