//! The customers-api client: `GET /internal/customers/{id}` with the service
//! token, through the services' one retrying client (up to 3 attempts of at
//! most 2 s each, on connect errors, timeouts, 5xx and 429).

use std::time::Duration;

use contracts::{Customer, CustomerId};
use kit_client::{BaseUrl, CallError, Client, Request, RetryPolicy};
use reqwest::{Method, StatusCode};
use tokio::time::Instant;

#[derive(Clone)]
pub struct CustomersClient {
    client: Client,
    base: BaseUrl,
    service_token: String,
}

#[derive(Debug, PartialEq, Eq)]
pub enum CustomerCheck {
    Exists,
    NotFound,
}

/// The lookup's retries: 3 attempts, 2 s each, backoff from 50 ms to 500 ms.
const POLICY: RetryPolicy = RetryPolicy {
    attempt_timeout: Duration::from_secs(2),
    max_attempts: 3,
    backoff_base: Duration::from_millis(50),
    backoff_cap: Duration::from_millis(500),
};

/// The longest a lookup takes, retries included.
const BUDGET: Duration = Duration::from_secs(7);

impl CustomersClient {
    pub fn new(base: &str, service_token: &str) -> anyhow::Result<Self> {
        Ok(Self {
            client: Client::new(POLICY)?,
            base: BaseUrl::new(base),
            service_token: service_token.to_owned(),
        })
    }

    /// Whether the customer exists (and is not deleted). The answer is read
    /// as a [`Customer`]: one that does not fit the contract is an error.
    pub async fn check(&self, id: CustomerId) -> Result<CustomerCheck, CallError> {
        let req = Request::new(
            "customers.get",
            Method::GET,
            format!("/internal/customers/{id}"),
            &self.service_token,
        );
        let deadline = Instant::now() + BUDGET;
        match self
            .client
            .send::<Customer, _>(&self.base, &req, deadline)
            .await
        {
            Ok(_) => Ok(CustomerCheck::Exists),
            Err(e) if e.status() == Some(StatusCode::NOT_FOUND) => Ok(CustomerCheck::NotFound),
            Err(e) => Err(e),
        }
    }
}
