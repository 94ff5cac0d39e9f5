//! The HTTP server every service runs: middleware (request span with
//! correlation id, metrics, access log), problem-document extractors, auth
//! verifiers, ops routes, OpenAPI and Swagger UI, and a 404 problem for the rest.

use std::net::TcpListener;

use actix_web::{
    dev::Server, http::header, middleware::from_fn, web, App, HttpResponse, HttpServer,
};
use sqlx::MySqlPool;
use tracing_actix_web::TracingLogger;
use utoipa_swagger_ui::SwaggerUi;

use crate::{correlation, ops, problem, telemetry::RequestSpan};
use contracts::headers;
use kit_runtime::config::AuthSettings;

/// What a service adds to the common server.
pub struct ServerParts<F> {
    pub pool: MySqlPool,
    pub metrics: web::Data<ops::Metrics>,
    pub auth: AuthSettings,
    /// Largest accepted request body, in bytes.
    pub body_limit: usize,
    pub openapi: utoipa::openapi::OpenApi,
    /// The browser origins that may call from elsewhere ([`cors`]).
    pub cors_origins: Vec<String>,
    /// Registers the service's own routes and app data.
    pub configure: F,
}

pub async fn serve<F>(listener: TcpListener, parts: ServerParts<F>) -> anyhow::Result<Server>
where
    F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
{
    let jwt = web::Data::new(parts.auth.verifier().await?);
    let services = web::Data::new(parts.auth.services.clone());
    let pool = web::Data::new(parts.pool);
    let metrics = parts.metrics;
    let openapi = parts.openapi;
    let configure = parts.configure;
    let limit = parts.body_limit;
    let origins = parts.cors_origins;
    let server = HttpServer::new(move || {
        App::new()
            .wrap(cors(&origins))
            .wrap(from_fn(crate::deadline::middleware))
            .wrap(from_fn(correlation::middleware))
            .wrap(from_fn(ops::track))
            .wrap(TracingLogger::<RequestSpan>::new())
            .app_data(pool.clone())
            .app_data(metrics.clone())
            .app_data(jwt.clone())
            .app_data(services.clone())
            .app_data(web::PayloadConfig::new(limit))
            .app_data(problem::json_config(limit))
            .app_data(problem::path_config())
            .app_data(problem::query_config())
            .configure(ops::routes)
            .configure(configure.clone())
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
    .shutdown_timeout(SHUTDOWN_GRACE.as_secs())
    .listen(listener)?
    .run();
    Ok(server)
}

/// Cross-origin calls from `origins` only (the console's, when it is
/// served from another origin, as locally): the headers the API takes and
/// the ones a caller reads back. Any other origin gets no CORS headers, so
/// browsers keep its pages from reading the answers; same-origin and
/// non-browser callers are not affected.
pub fn cors(origins: &[String]) -> actix_cors::Cors {
    let exposed = [
        header::ETAG,
        header::LOCATION,
        header::RETRY_AFTER,
        header::HeaderName::from_static(correlation::HEADER_NAME),
        header::HeaderName::from_static(headers::IDEMPOTENT_REPLAYED),
    ];
    origins
        .iter()
        .fold(actix_cors::Cors::default(), |c, o| c.allowed_origin(o))
        .allowed_methods(["GET", "POST", "PATCH", "PUT", "DELETE"])
        .allowed_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::IF_MATCH,
            header::HeaderName::from_static(headers::IDEMPOTENCY_KEY),
            header::HeaderName::from_static(headers::X_IDEMPOTENCY_KEY),
            header::HeaderName::from_static(correlation::HEADER_NAME),
        ])
        .expose_headers(exposed)
        .max_age(600)
}

/// How long a stopping server lets in-flight requests finish (ECS waits 30 s
/// after SIGTERM before it kills a task).
pub const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_secs(20);

/// How long a background task has, once told to stop, to end its unit of
/// work (a transaction commits or rolls back) before the process exits.
pub const BACKGROUND_GRACE: std::time::Duration = std::time::Duration::from_secs(5);

type Background = std::pin::Pin<Box<dyn std::future::Future<Output = ()> + Send>>;

/// A service, built: the port it listens on, its server and the background
/// work that runs beside it.
pub struct Application {
    port: u16,
    server: Server,
    background: Option<Background>,
    stop: tokio::sync::watch::Sender<bool>,
}

impl Application {
    pub fn new(port: u16, server: Server) -> Self {
        Self {
            port,
            server,
            background: None,
            stop: tokio::sync::watch::channel(false).0,
        }
    }

    /// Work that runs beside the server, from [`Self::run_until_stopped`] on
    /// (not before: building a service starts nothing). Its receiver turns
    /// `true` once the server has stopped and drained; the task then ends
    /// what it is doing and returns.
    pub fn beside<F, Fut>(mut self, task: F) -> Self
    where
        F: FnOnce(tokio::sync::watch::Receiver<bool>) -> Fut,
        Fut: std::future::Future<Output = ()> + Send + 'static,
    {
        self.background = Some(Box::pin(task(self.stop.subscribe())));
        self
    }

    pub fn port(&self) -> u16 {
        self.port
    }

    /// Serves until SIGINT/SIGTERM: then stops accepting, lets in-flight
    /// requests finish (up to [`SHUTDOWN_GRACE`]), tells the background work
    /// to stop and waits for it (up to [`BACKGROUND_GRACE`]).
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let background = self.background.map(tokio::spawn);
        let served = self.server.await;
        tracing::info!("server stopped; stopping background work");
        let _ = self.stop.send(true);
        if let Some(task) = background {
            if tokio::time::timeout(BACKGROUND_GRACE, task).await.is_err() {
                tracing::warn!("background work did not stop in time");
            }
        }
        served
    }
}

/// The listener on `host:port` (port 0 picks a free one), and its port.
pub fn bind(host: &str, port: u16) -> anyhow::Result<(TcpListener, u16)> {
    let listener = TcpListener::bind((host, port))?;
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}

/// How every service's `main` begins: `<binary> healthcheck` answers and
/// exits; otherwise `.env` is loaded (in development) and JSON logs start.
pub fn start(name: &'static str, default_port: u16) {
    if let Some(code) = healthcheck_command(default_port) {
        std::process::exit(code);
    }
    crate::config::load_dotenv();
    crate::telemetry::init(name);
}

/// Builds the service from its `settings` and serves until stopped; why it
/// could not start is logged before it is returned.
pub async fn run_service<S, F>(
    settings: anyhow::Result<S>,
    build: impl FnOnce(S) -> F,
) -> anyhow::Result<()>
where
    F: std::future::Future<Output = anyhow::Result<Application>>,
{
    let settings = settings.inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    let app = build(settings).await.inspect_err(|e| {
        tracing::error!(error = ?e, "start-up failed");
    })?;
    app.run_until_stopped().await?;
    Ok(())
}

/// `<binary> healthcheck`: asks the service on this machine (`PORT`, or
/// `default_port`) for `/health` and returns the exit code (0 healthy, 1
/// not), so container images need no curl. `None` when not asked.
pub fn healthcheck_command(default_port: u16) -> Option<i32> {
    if std::env::args().nth(1).as_deref() != Some("healthcheck") {
        return None;
    }
    let port = std::env::var("PORT")
        .ok()
        .and_then(|p| p.trim().parse().ok())
        .unwrap_or(default_port);
    Some(if probe(port).unwrap_or(false) { 0 } else { 1 })
}

fn probe(port: u16) -> std::io::Result<bool> {
    use std::io::{Read, Write};
    let timeout = std::time::Duration::from_secs(2);
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));
    let mut stream = std::net::TcpStream::connect_timeout(&addr, timeout)?;
    stream.set_read_timeout(Some(timeout))?;
    stream.set_write_timeout(Some(timeout))?;
    stream.write_all(b"GET /health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n")?;
    let mut head = [0u8; 12];
    stream.read_exact(&mut head)?;
    Ok(&head == b"HTTP/1.1 200")
}
