//! Building and running the application.

use std::{net::TcpListener, time::Duration};

use actix_web::{
    dev::Server, http::header, middleware::from_fn, web, App, HttpResponse, HttpServer,
};
use service_kit::{
    auth, config::HttpSettings, correlation, db, ops, problem, telemetry::RequestSpan,
};
use sqlx::MySqlPool;
use tracing_actix_web::TracingLogger;
use utoipa::OpenApi;
use utoipa_swagger_ui::SwaggerUi;

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
        let pool = db::connect(&settings.database_url, settings.db_max_connections).await?;
        db::wait_until_reachable(&pool, Duration::from_secs(30)).await?;
        db::migrate(&pool, sqlx::migrate!("./migrations")).await?;
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
    let metrics = web::Data::new(metrics);
    let (jwt, service_token) = auth::verifiers(&settings.auth);
    let (jwt, service_token) = (web::Data::new(jwt), web::Data::new(service_token));
    let pool = web::Data::new(pool);
    let openapi = ApiDoc::openapi();
    let server = HttpServer::new(move || {
        App::new()
            .wrap(from_fn(correlation::middleware))
            .wrap(from_fn(ops::track))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(pool.clone())
            .app_data(metrics.clone())
            .app_data(counters.clone())
            .app_data(jwt.clone())
            .app_data(service_token.clone())
            .app_data(web::PayloadConfig::new(BODY_LIMIT))
            .app_data(problem::json_config(BODY_LIMIT))
            .app_data(problem::path_config())
            .app_data(problem::query_config())
            .configure(ops::routes)
            .configure(routes::configure)
            .service(SwaggerUi::new("/docs/{_:.*}").url("/openapi.json", openapi.clone()))
            .route(
                "/docs",
                web::get().to(|| async {
                    HttpResponse::PermanentRedirect()
                        .insert_header((header::LOCATION, "/docs/"))
                        .finish()
                }),
            )
            .default_service(web::to(problem::not_found))
    })
    .listen(listener)?
    .run();
    Ok(server)
}
