//! Building and running the application.

use std::net::TcpListener;

use actix_web::{dev::Server, web};
use kit_runtime::config::HttpSettings;
use kit_server::db;
use kit_server::http::{self, serve, Application, ServerParts};
use kit_server::ops;
use sqlx::MySqlPool;
use utoipa::OpenApi;

use crate::{openapi::ApiDoc, routes, routes::customers::CustomerCounters};

/// Largest request body accepted (a customer is far smaller).
pub const BODY_LIMIT: usize = 64 * 1024;

/// Connects to the database (waiting for it a while), applies migrations
/// (unless `MIGRATE_ON_START` is off),
/// binds the listener (port 0 picks a free one) and prepares the server.
pub async fn build(settings: HttpSettings) -> anyhow::Result<Application> {
    let migrations = settings
        .migrate_on_start
        .then_some(sqlx::migrate!("./migrations"));
    let pool = db::open(
        &settings.database_url,
        settings.db_max_connections,
        None,
        migrations,
    )
    .await?;
    let (listener, port) = http::bind(&settings.host, settings.port)?;
    let server = run(listener, pool, &settings).await?;
    tracing::info!(port, "customers-api listening");
    Ok(Application::new(port, server))
}

pub async fn run(
    listener: TcpListener,
    pool: MySqlPool,
    settings: &HttpSettings,
) -> anyhow::Result<Server> {
    let metrics = ops::Metrics::new("customers-api")?;
    let counters = web::Data::new(CustomerCounters::register(&metrics)?);
    serve(
        listener,
        ServerParts {
            pool,
            metrics: web::Data::new(metrics),
            auth: settings.auth.clone(),
            body_limit: BODY_LIMIT,
            openapi: ApiDoc::openapi(),
            cors_origins: settings.cors_origins.clone(),
            configure: move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(counters.clone()).configure(routes::configure);
            },
        },
    )
    .await
}
