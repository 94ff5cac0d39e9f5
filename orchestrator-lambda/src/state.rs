//! What the function's routes share, built once per cold start from the
//! settings ([`Config`]): the saga's dependencies ([`Deps`]), and the HTTP
//! edge's own: the verifier of callers' tokens, the console, and how an
//! invocation's deadline is set. The saga sees none of the edge's.

use std::time::Duration;

use kit_identity::jwks::JwtVerifier;

use crate::{config::Config, console::Console, endpoint::EndpointSpec, saga::Deps};

pub struct AppState {
    /// What a saga needs.
    pub saga: Deps,
    /// Checks the callers' tokens.
    pub users: JwtVerifier,
    /// The console's page and policy.
    pub console: Console,
    /// Kept free before the invocation's deadline.
    pub deadline_margin: Duration,
    /// The budget without a deadline, and the cap otherwise.
    pub saga_timeout: Duration,
}

impl AppState {
    /// From the settings, with an ECS client when an API is found through
    /// ECS service discovery (the AWS configuration the secrets were read
    /// with, else the default one).
    pub async fn new(config: Config) -> anyhow::Result<Self> {
        let needs_ecs = matches!(config.customers, EndpointSpec::Ecs { .. })
            || matches!(config.orders, EndpointSpec::Ecs { .. });
        let ecs = if needs_ecs {
            let aws = match &config.aws {
                Some(aws) => aws.clone(),
                None => aws_config::load_defaults(aws_config::BehaviorVersion::latest()).await,
            };
            Some(aws_sdk_ecs::Client::new(&aws))
        } else {
            None
        };
        Self::with_ecs(config, ecs)
    }

    /// From the settings, with this ECS client (tests pass moto's, or none).
    pub fn with_ecs(config: Config, ecs: Option<aws_sdk_ecs::Client>) -> anyhow::Result<Self> {
        Ok(Self {
            saga: Deps::new(&config, ecs)?,
            users: config.users,
            console: config.console,
            deadline_margin: config.deadline_margin,
            saga_timeout: config.saga_timeout,
        })
    }
}
