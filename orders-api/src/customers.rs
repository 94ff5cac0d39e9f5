//! The customers-api client: `GET /internal/customers/{id}` with the service
//! token, a per-attempt timeout, and retries (capped exponential backoff with
//! jitter) on what is transient: connect errors, timeouts, 5xx and 429.

use std::time::Duration;

use backon::{ExponentialBuilder, Retryable};
use reqwest::StatusCode;
use service_kit::correlation;

#[derive(Clone)]
pub struct CustomersClient {
    http: reqwest::Client,
    base: String,
    service_token: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CustomerCheck {
    Exists,
    NotFound,
}

#[derive(Debug, thiserror::Error)]
pub enum CustomersError {
    #[error("customers-api answered {0}")]
    Status(StatusCode),
    #[error("customers-api is unreachable: {0}")]
    Transport(#[from] reqwest::Error),
}

impl CustomersError {
    fn is_transient(&self) -> bool {
        match self {
            Self::Status(s) => s.is_server_error() || *s == StatusCode::TOO_MANY_REQUESTS,
            Self::Transport(e) => e.is_connect() || e.is_timeout() || e.is_request(),
        }
    }
}

/// Per-attempt timeout.
const ATTEMPT_TIMEOUT: Duration = Duration::from_secs(2);

impl CustomersClient {
    pub fn new(base: &str, service_token: &str) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .timeout(ATTEMPT_TIMEOUT)
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(30))
            .build()?;
        Ok(Self {
            http,
            base: base.trim_end_matches('/').to_owned(),
            service_token: service_token.to_owned(),
        })
    }

    async fn attempt(&self, id: u64) -> Result<CustomerCheck, CustomersError> {
        let mut req = self
            .http
            .get(format!("{}/internal/customers/{id}", self.base))
            .bearer_auth(&self.service_token);
        if let Some(cid) = correlation::current() {
            req = req.header(correlation::HEADER_NAME, cid.as_str());
        }
        let res = req.send().await?;
        match res.status() {
            s if s.is_success() => Ok(CustomerCheck::Exists),
            StatusCode::NOT_FOUND => Ok(CustomerCheck::NotFound),
            s => Err(CustomersError::Status(s)),
        }
    }

    /// Whether the customer exists (and is not deleted). Up to 3 attempts,
    /// within about 7 s in the worst case.
    pub async fn check(&self, id: u64) -> Result<CustomerCheck, CustomersError> {
        let backoff = ExponentialBuilder::default()
            .with_min_delay(Duration::from_millis(50))
            .with_max_delay(Duration::from_millis(500))
            .with_max_times(2)
            .with_jitter();
        (|| self.attempt(id))
            .retry(backoff)
            .when(CustomersError::is_transient)
            .notify(|e, after| tracing::warn!(error = %e, retry_in_ms = after.as_millis() as u64, "customers-api call failed; retrying"))
            .await
    }
}
