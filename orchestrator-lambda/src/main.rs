use std::sync::Arc;

use kit_runtime::telemetry;
use lambda_http::{tower::ServiceExt, Error, Request};
use orchestrator_lambda::{app, buffered, config::Config, state::AppState};

/// One invocation at a time (as Lambda runs a function instance by default)
/// needs one thread: a current-thread runtime saves the cross-thread wake-ups
/// of every HTTP call. With `AWS_LAMBDA_MAX_CONCURRENCY` > 1 the instance
/// serves that many invocations at once, on a multi-threaded runtime.
fn main() -> Result<(), Error> {
    let concurrent = std::env::var("AWS_LAMBDA_MAX_CONCURRENCY")
        .ok()
        .and_then(|v| v.parse::<u32>().ok())
        .is_some_and(|n| n > 1);
    let runtime = if concurrent {
        tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()?
    } else {
        tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()?
    };
    runtime.block_on(serve())
}

/// The settings, the HTTP client and the ECS client are built once per cold
/// start; the Router over them serves every invocation.
async fn serve() -> Result<(), Error> {
    telemetry::init("orchestrator-lambda");
    let config = Config::load()
        .await
        .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "invalid configuration; the cold start fails"))?;
    tracing::info!(
        secrets = if config.aws.is_some() {
            "secretsmanager"
        } else {
            "environment"
        },
        "configuration loaded"
    );
    let state = Arc::new(AppState::new(config).await?);
    // The Router itself, each answer's body read whole ([`buffered`]).
    let service = ServiceExt::<Request>::map_future(app(state), |answer| async move {
        buffered(answer.await?).await
    });
    lambda_http::run_concurrent(service).await
}
