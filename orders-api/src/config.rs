//! orders-api settings.

use std::time::Duration;

use anyhow::{anyhow, Context};
use service_kit::config::{self, HttpSettings};

#[derive(Clone, Debug)]
pub struct Settings {
    pub http: HttpSettings,
    /// `CUSTOMERS_API_BASE`: where `GET /internal/customers/{id}` is asked.
    pub customers_api_base: String,
    /// `RESERVATION_TTL_SECS` (900): CREATED orders older than this are released.
    pub reservation_ttl: Duration,
    /// `CANCEL_WINDOW_SECS` (600): how long after confirmation an order may be cancelled.
    pub cancel_window: Duration,
    /// `IDEMPOTENCY_TTL_SECS` (86400): how long idempotency records are kept.
    pub idempotency_ttl: Duration,
    /// `SWEEP_INTERVAL_SECS` (30): how often the sweeper runs.
    pub sweep_interval: Duration,
}

fn secs(name: &str, default: u64) -> anyhow::Result<Duration> {
    let v: u64 = config::parsed_or(name, default)?;
    if v == 0 {
        return Err(anyhow!("{name} must be at least 1"));
    }
    Ok(Duration::from_secs(v))
}

impl Settings {
    pub fn from_env() -> anyhow::Result<Self> {
        let base =
            config::required("CUSTOMERS_API_BASE").context("customers-api is not configured")?;
        if !(base.starts_with("http://") || base.starts_with("https://")) {
            return Err(anyhow!("CUSTOMERS_API_BASE must be an http(s) URL"));
        }
        Ok(Self {
            http: HttpSettings::from_env(3002)?,
            customers_api_base: base.trim_end_matches('/').to_owned(),
            reservation_ttl: secs("RESERVATION_TTL_SECS", 900)?,
            cancel_window: secs("CANCEL_WINDOW_SECS", 600)?,
            idempotency_ttl: secs("IDEMPOTENCY_TTL_SECS", 86_400)?,
            sweep_interval: secs("SWEEP_INTERVAL_SECS", 30)?,
        })
    }
}
