//! Building and running the application.

use std::{net::TcpListener, time::Duration};

use actix_web::{dev::Server, web};
use service_kit::{
    config::HttpSettings,
    db,
    http::{serve, ServerParts},
    ops,
};
use sqlx::MySqlPool;
use utoipa::OpenApi;

use crate::{openapi::ApiDoc, routes, routes::customers::CustomerCounters};

/// Largest request body accepted (a customer is far smaller).
pub const BODY_LIMIT: usize = 64 * 1024;

pub struct Application {
    port: u16,
    server: Server,
}

impl Application {
    /// Connects to the database (waiting for it a while), applies migrations,
    /// binds the listener (port 0 picks a free one) and prepares the server.
    pub async fn build(settings: HttpSettings) -> anyhow::Result<Self> {
        let pool = db::connect(&settings.database_url, settings.db_max_connections, None).await?;
        db::wait_until_reachable(&pool, Duration::from_secs(30)).await?;
        db::migrate(&pool, &mut sqlx::migrate!("./migrations")).await?;
        let listener = TcpListener::bind((settings.host.as_str(), settings.port))?;
        let port = listener.local_addr()?.port();
        let server = run(listener, pool, &settings)?;
        tracing::info!(port, "customers-api listening");
        Ok(Self { port, server })
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM, then drains in-flight requests.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        self.server.await
    }
}

pub fn run(
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
            configure: move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(counters.clone()).configure(routes::configure);
            },
        },
    )
}
