//! Building and running the application.

use std::{net::TcpListener, sync::Arc};

use actix_web::{dev::Server, web};
use kit_server::db;
use kit_server::http::{serve, Application, ServerParts};
use kit_server::ops;
use sqlx::MySqlPool;
use utoipa::OpenApi;

use crate::{
    config::Settings,
    customers::CustomersClient,
    metrics::OrderCounters,
    openapi::ApiDoc,
    routes,
    routes::orders::OrdersContext,
    sweeper::{self, Sweeper, SweeperHealth},
};

/// Largest request body accepted: an order of 100 items is a few KiB.
pub const BODY_LIMIT: usize = 64 * 1024;

/// Connects to the database (waiting for it a while), applies migrations,
/// binds the listener (port 0 picks a free one) and prepares the server,
/// with the reservation sweeper to run beside it.
pub async fn build(settings: Settings) -> anyhow::Result<Application> {
    let http = &settings.http;
    let pool = db::open(
        &http.database_url,
        http.db_max_connections,
        Some(settings.idempotency_wait),
        http.migrate_on_start
            .then_some(sqlx::migrate!("./migrations")),
    )
    .await?;
    let (listener, port) = kit_server::http::bind(&http.host, http.port)?;
    let metrics = ops::Metrics::new("orders-api")?;
    let counters = Arc::new(OrderCounters::register(&metrics)?);
    let health = Arc::new(SweeperHealth::register(
        &metrics,
        settings.sweep_interval,
        settings.sweep_idle_interval,
    )?);
    let sweep = Sweeper {
        pool: pool.clone(),
        ttl: settings.reservation_ttl,
        idempotency_ttl: settings.idempotency_ttl,
        interval: settings.sweep_interval,
        idle_interval: settings.sweep_idle_interval,
        counters: counters.clone(),
        health: health.clone(),
    };
    let server = run(listener, pool, &settings, metrics, counters, health).await?;
    tracing::info!(port, "orders-api listening");
    // The sweeper runs beside the server once it serves, and is stopped
    // after the server has drained (its sweep under way finishes first).
    Ok(Application::new(port, server).beside(move |stop| {
        sweeper::supervise("reservation sweeper", stop, move |stop| {
            sweep.clone().run(stop)
        })
    }))
}

pub async fn run(
    listener: TcpListener,
    pool: MySqlPool,
    settings: &Settings,
    metrics: ops::Metrics,
    counters: Arc<OrderCounters>,
    sweeper: Arc<SweeperHealth>,
) -> anyhow::Result<Server> {
    let readiness = web::Data::new(ops::Readiness::default().with(move || sweeper.stalled()));
    let ctx = web::Data::new(OrdersContext {
        customers: CustomersClient::new(&settings.customers_api_base, &settings.service_token)?,
        cancel_window: settings.cancel_window,
        limits: settings.limits,
        counters: web::Data::from(counters),
    });
    serve(
        listener,
        ServerParts {
            pool,
            metrics: web::Data::new(metrics),
            auth: settings.http.auth.clone(),
            body_limit: BODY_LIMIT,
            openapi: ApiDoc::openapi(),
            cors_origins: settings.http.cors_origins.clone(),
            configure: move |cfg: &mut web::ServiceConfig| {
                cfg.app_data(ctx.clone())
                    .app_data(readiness.clone())
                    .configure(routes::configure);
            },
        },
    )
    .await
}
