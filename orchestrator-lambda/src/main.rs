use std::sync::Arc;

use lambda_http::{service_fn, Error, Request};
use orchestrator_lambda::{config::Config, handler, saga::Deps};
use service_kit::telemetry;

/// Config, HTTP clients and the ECS client are built once per cold start and
/// shared by every invocation. With `AWS_LAMBDA_MAX_CONCURRENCY` > 1 the
/// runtime serves that many invocations at once.
#[tokio::main]
async fn main() -> Result<(), Error> {
    telemetry::init("orchestrator-lambda");
    let config =
        Config::from_env().inspect_err(|e| tracing::error!(error = %e, "invalid configuration"))?;
    let deps = Arc::new(Deps::new(config).await?);
    lambda_http::run_concurrent(service_fn(move |req: Request| {
        let deps = Arc::clone(&deps);
        async move { handler(req, &deps).await }
    }))
    .await
}
