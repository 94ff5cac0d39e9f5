//! Orchestrator settings, read once per cold start.
//!
//! `SERVICE_TOKEN` comes from Secrets Manager when `APP_SECRET_ARN` is set
//! (as in AWS: nothing secret in the function's configuration), else from
//! the environment (local runs). User tokens are checked with the issuer's
//! public keys (`JWT_JWKS`): the function holds no key that could sign one.

use std::time::Duration;

use anyhow::{anyhow, Context};
use kit_client::RetryPolicy;
use kit_identity::jwks::JwtVerifier;
use kit_runtime::config::{millis_in, optional, parsed_in, required, service_token, AuthSettings};

use crate::{
    console::{Console, ConsoleConfig},
    endpoint::EndpointSpec,
    secrets,
};

#[derive(Clone)]
pub struct Config {
    pub customers: EndpointSpec,
    pub orders: EndpointSpec,
    /// Checks the callers' tokens (`JWT_JWKS`, `JWT_ISSUER`,
    /// `JWT_AUDIENCE`, `JWT_MAX_TTL_SECS`), as the APIs do.
    pub users: JwtVerifier,
    /// `SERVICE_TOKEN`: the orchestrator's own token for customers-api's
    /// `/internal/*` (customers-api knows it as `orchestrator`). orders-api
    /// gets the caller's own token instead.
    pub service_token: String,
    /// How downstream calls are timed and retried: the longest wait for one
    /// attempt (`DOWNSTREAM_TIMEOUT_MS`, 2000), attempts per call, the first
    /// included (`RETRY_MAX_ATTEMPTS`, 4), the first backoff ceiling
    /// (`RETRY_BASE_MS`, 50, doubling per attempt) and its cap
    /// (`RETRY_MAX_DELAY_MS`, 1000).
    pub retry: RetryPolicy,
    /// Kept free before the invocation's deadline (`DEADLINE_MARGIN_MS`, 500).
    pub deadline_margin: Duration,
    /// Budget when the invocation carries no deadline, and cap otherwise (`SAGA_TIMEOUT_MS`, 25000).
    pub saga_timeout: Duration,
    /// Share of the budget kept for compensation (`COMPENSATION_RESERVE_MS`, 2000).
    pub compensation_reserve: Duration,
    /// The console's page and policy, from its settings (`CONSOLE_*`).
    pub console: Console,
    /// The AWS configuration, when one was loaded for the secrets (ECS
    /// discovery reuses it).
    pub aws: Option<aws_config::SdkConfig>,
}

impl Config {
    /// Reads the environment, and the secrets from Secrets Manager when
    /// `APP_SECRET_ARN` is set.
    pub async fn load() -> anyhow::Result<Self> {
        let auth = AuthSettings::from_env()?;
        let Some(arn) = optional("APP_SECRET_ARN") else {
            let token = service_token(required("SERVICE_TOKEN")?)?;
            return Self::from_env_with(auth, token, None).await;
        };
        if optional("SERVICE_TOKEN").is_some() {
            return Err(anyhow!(
                "APP_SECRET_ARN is set: SERVICE_TOKEN must not be set too"
            ));
        }
        let aws = aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await;
        let client = aws_sdk_secretsmanager::Client::new(&aws);
        let secrets = secrets::fetch(&client, &arn).await?;
        let service_token =
            service_token(secrets.service_token).with_context(|| format!("the secret {arn}"))?;
        Self::from_env_with(auth, service_token, Some(aws)).await
    }

    /// Every setting but the credentials from the environment.
    pub async fn from_env_with(
        auth: AuthSettings,
        service_token: String,
        aws: Option<aws_config::SdkConfig>,
    ) -> anyhow::Result<Self> {
        let users = auth.verifier().await?;
        let config = Self {
            customers: required("CUSTOMERS_API_BASE")?.parse()?,
            orders: required("ORDERS_API_BASE")?.parse()?,
            users,
            service_token,
            retry: RetryPolicy {
                attempt_timeout: millis_in("DOWNSTREAM_TIMEOUT_MS", 2000, 10..=60_000)?,
                max_attempts: parsed_in("RETRY_MAX_ATTEMPTS", 4, 1..=20)?,
                backoff_base: millis_in("RETRY_BASE_MS", 50, 1..=60_000)?,
                backoff_cap: millis_in("RETRY_MAX_DELAY_MS", 1000, 1..=60_000)?,
            },
            deadline_margin: millis_in("DEADLINE_MARGIN_MS", 500, 0..=60_000)?,
            saga_timeout: millis_in("SAGA_TIMEOUT_MS", 25_000, 100..=900_000)?,
            compensation_reserve: millis_in("COMPENSATION_RESERVE_MS", 2000, 0..=900_000)?,
            console: Console::new(&ConsoleConfig::from_env()?),
            aws,
        };
        if config.retry.backoff_cap < config.retry.backoff_base {
            return Err(anyhow!("RETRY_MAX_DELAY_MS must be at least RETRY_BASE_MS"));
        }
        if config.compensation_reserve >= config.saga_timeout {
            return Err(anyhow!(
                "COMPENSATION_RESERVE_MS must be shorter than SAGA_TIMEOUT_MS"
            ));
        }
        Ok(config)
    }
}
