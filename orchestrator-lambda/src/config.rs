//! Orchestrator settings, read once per cold start.

use std::time::Duration;

use anyhow::anyhow;
use service_kit::config::{optional, parsed_or, required};

use crate::endpoint::EndpointSpec;

/// How the orchestrator authenticates to orders-api.
#[derive(Clone)]
pub enum OrdersAuth {
    /// `ORDERS_API_TOKEN`: a token given as it is.
    Static(String),
    /// Mint a short-lived HS256 token from `JWT_SECRET` for each saga.
    Mint {
        secret: String,
        issuer: Option<String>,
        audience: Option<String>,
    },
}

#[derive(Clone)]
pub struct Config {
    pub customers: EndpointSpec,
    pub orders: EndpointSpec,
    pub service_token: String,
    pub orders_auth: OrdersAuth,
    /// Longest wait for one downstream attempt (`DOWNSTREAM_TIMEOUT_MS`, 2000).
    pub attempt_timeout: Duration,
    /// Attempts per downstream call, first included (`RETRY_MAX_ATTEMPTS`, 4).
    pub max_attempts: u32,
    /// First backoff ceiling (`RETRY_BASE_MS`, 50); doubles per attempt.
    pub backoff_base: Duration,
    /// Backoff cap (`RETRY_MAX_DELAY_MS`, 1000).
    pub backoff_cap: Duration,
    /// Kept free before the invocation's deadline (`DEADLINE_MARGIN_MS`, 500).
    pub deadline_margin: Duration,
    /// Budget when the invocation carries no deadline, and cap otherwise (`SAGA_TIMEOUT_MS`, 25000).
    pub saga_timeout: Duration,
    /// Share of the budget kept for compensation (`COMPENSATION_RESERVE_MS`, 2000).
    pub compensation_reserve: Duration,
}

fn millis(name: &str, default: u64) -> anyhow::Result<Duration> {
    Ok(Duration::from_millis(parsed_or(name, default)?))
}

impl Config {
    pub fn from_env() -> anyhow::Result<Self> {
        let orders_auth = match optional("ORDERS_API_TOKEN") {
            Some(token) => OrdersAuth::Static(token),
            None => OrdersAuth::Mint {
                secret: required("JWT_SECRET")?,
                issuer: optional("JWT_ISSUER"),
                audience: optional("JWT_AUDIENCE"),
            },
        };
        let max_attempts: u32 = parsed_or("RETRY_MAX_ATTEMPTS", 4)?;
        if max_attempts == 0 {
            return Err(anyhow!("RETRY_MAX_ATTEMPTS must be at least 1"));
        }
        Ok(Self {
            customers: required("CUSTOMERS_API_BASE")?.parse()?,
            orders: required("ORDERS_API_BASE")?.parse()?,
            service_token: required("SERVICE_TOKEN")?,
            orders_auth,
            attempt_timeout: millis("DOWNSTREAM_TIMEOUT_MS", 2000)?,
            max_attempts,
            backoff_base: millis("RETRY_BASE_MS", 50)?,
            backoff_cap: millis("RETRY_MAX_DELAY_MS", 1000)?,
            deadline_margin: millis("DEADLINE_MARGIN_MS", 500)?,
            saga_timeout: millis("SAGA_TIMEOUT_MS", 25_000)?,
            compensation_reserve: millis("COMPENSATION_RESERVE_MS", 2000)?,
        })
    }
}
