//! Ops endpoints without auth (`/health`, `/ready`, `/metrics`) and the HTTP
//! metrics middleware.

use std::time::{Duration, Instant};

use actix_web::{
    body::MessageBody,
    dev::{ServiceRequest, ServiceResponse},
    http::StatusCode,
    middleware::Next,
    web, HttpResponse,
};
use prometheus::{
    Encoder, HistogramOpts, HistogramVec, IntCounter, IntCounterVec, Opts, Registry, TextEncoder,
};
use serde::Serialize;
use sqlx::MySqlPool;
use utoipa::ToSchema;

use crate::problem::{ApiError, KitCode};

/// The metrics of one service instance: HTTP request counts and latencies by
/// route and status, plus whatever domain counters the service registers.
#[derive(Clone)]
pub struct Metrics {
    registry: Registry,
    requests: IntCounterVec,
    latency: HistogramVec,
}

impl Metrics {
    pub fn new(service: &str) -> anyhow::Result<Self> {
        let registry = Registry::new_custom(
            None,
            Some([("service".to_owned(), service.to_owned())].into()),
        )?;
        let requests = IntCounterVec::new(
            Opts::new(
                "http_requests_total",
                "HTTP requests served, by route and status",
            ),
            &["method", "route", "status"],
        )?;
        let latency = HistogramVec::new(
            HistogramOpts::new(
                "http_request_duration_seconds",
                "HTTP request latency, by route and status",
            )
            .buckets(vec![
                0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0,
            ]),
            &["method", "route", "status"],
        )?;
        registry.register(Box::new(requests.clone()))?;
        registry.register(Box::new(latency.clone()))?;
        Ok(Self {
            registry,
            requests,
            latency,
        })
    }

    /// Registers a domain counter (`customers_created_total`, ...).
    pub fn counter(&self, name: &str, help: &str) -> anyhow::Result<IntCounter> {
        let counter = IntCounter::new(name, help)?;
        self.registry.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    /// Registers a gauge (a level that goes up and down).
    pub fn gauge(&self, name: &str, help: &str) -> anyhow::Result<prometheus::IntGauge> {
        let gauge = prometheus::IntGauge::new(name, help)?;
        self.registry.register(Box::new(gauge.clone()))?;
        Ok(gauge)
    }

    /// Registers a domain counter with labels.
    pub fn counter_vec(
        &self,
        name: &str,
        help: &str,
        labels: &[&str],
    ) -> anyhow::Result<IntCounterVec> {
        let counter = IntCounterVec::new(Opts::new(name, help), labels)?;
        self.registry.register(Box::new(counter.clone()))?;
        Ok(counter)
    }

    fn observe(&self, method: &str, route: &str, status: u16, elapsed: Duration) {
        let status = status.to_string();
        let labels = [method, route, status.as_str()];
        self.requests.with_label_values(&labels).inc();
        self.latency
            .with_label_values(&labels)
            .observe(elapsed.as_secs_f64());
    }

    /// The Prometheus text exposition of every metric.
    pub fn render(&self) -> anyhow::Result<String> {
        let mut buf = Vec::new();
        TextEncoder::new().encode(&self.registry.gather(), &mut buf)?;
        Ok(String::from_utf8(buf)?)
    }
}

/// The method as a metric label: the standard methods by name, anything else
/// `OTHER`, so that made-up methods cannot grow the label space.
fn method_label(method: &actix_web::http::Method) -> &'static str {
    use actix_web::http::Method;
    match *method {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        Method::TRACE => "TRACE",
        Method::CONNECT => "CONNECT",
        _ => "OTHER",
    }
}

/// Middleware: counts and times every request by route pattern (never the raw
/// path, so ids do not explode the label space) and by method label.
pub async fn track(
    req: ServiceRequest,
    next: Next<impl MessageBody>,
) -> Result<ServiceResponse<impl MessageBody>, actix_web::Error> {
    let metrics = req.app_data::<web::Data<Metrics>>().cloned();
    let method = method_label(req.method());
    let route = req
        .match_pattern()
        .unwrap_or_else(|| "unmatched".to_owned());
    let started = Instant::now();
    let res = next.call(req).await?;
    if let Some(metrics) = metrics {
        metrics.observe(method, &route, res.status().as_u16(), started.elapsed());
    }
    Ok(res)
}

/// Body of `/health` and `/ready`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Status {
    #[schema(example = "ok")]
    pub status: &'static str,
}

/// The process is alive.
#[utoipa::path(get, path = "/health", tag = "ops",
    responses((status = 200, description = "Alive", body = Status)))]
pub async fn health() -> HttpResponse {
    HttpResponse::Ok().json(Status { status: "ok" })
}

/// What else `/ready` checks beyond the database: each check says why the
/// instance is not ready, or nothing. A service registers it as app data.
#[derive(Default)]
pub struct Readiness {
    checks: Vec<Box<dyn Fn() -> Option<String> + Send + Sync>>,
}

impl Readiness {
    pub fn with(mut self, check: impl Fn() -> Option<String> + Send + Sync + 'static) -> Self {
        self.checks.push(Box::new(check));
        self
    }

    fn failure(&self) -> Option<String> {
        self.checks.iter().find_map(|check| check())
    }
}

/// The database answers, and every registered [`Readiness`] check passes.
#[utoipa::path(get, path = "/ready", tag = "ops",
    responses(
        (status = 200, description = "Ready to serve", body = Status),
        (status = 503, description = "The database is unreachable, or a background task has stalled", body = crate::problem::Problem, content_type = "application/problem+json"),
    ))]
pub async fn ready(
    pool: web::Data<MySqlPool>,
    readiness: Option<web::Data<Readiness>>,
) -> Result<HttpResponse, ApiError> {
    if let Some(why) = readiness.as_ref().and_then(|r| r.failure()) {
        return Err(ApiError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            KitCode::NotReady,
            why,
        ));
    }
    let ping = tokio::time::timeout(
        Duration::from_secs(2),
        sqlx::query("SELECT 1").execute(pool.get_ref()),
    )
    .await;
    match ping {
        Ok(Ok(_)) => Ok(HttpResponse::Ok().json(Status { status: "ready" })),
        Ok(Err(e)) => Err(ApiError::unavailable(
            KitCode::NotReady,
            "the database is unreachable",
            e,
        )),
        Err(e) => Err(ApiError::unavailable(
            KitCode::NotReady,
            "the database did not answer in time",
            e,
        )),
    }
}

/// Prometheus metrics.
#[utoipa::path(get, path = "/metrics", tag = "ops",
    responses((status = 200, description = "Prometheus text format", body = String, content_type = "text/plain")))]
pub async fn metrics(metrics: web::Data<Metrics>) -> Result<HttpResponse, ApiError> {
    let text = metrics.render()?;
    Ok(HttpResponse::build(StatusCode::OK)
        .content_type("text/plain; version=0.0.4; charset=utf-8")
        .body(text))
}

/// Registers `/health`, `/ready` and `/metrics`.
pub fn routes(cfg: &mut web::ServiceConfig) {
    use crate::problem::method_not_allowed;
    cfg.service(
        web::resource("/health")
            .route(web::get().to(health))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/ready")
            .route(web::get().to(ready))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/metrics")
            .route(web::get().to(metrics))
            .default_service(method_not_allowed("GET")),
    );
}

/// Adds the two security schemes every API uses to an OpenAPI document:
/// `bearer` (a user JWT; each operation lists the one scope it needs) and
/// `service_token` (a service's own token, for `/internal/*`).
pub struct SecuritySchemes;

impl utoipa::Modify for SecuritySchemes {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .bearer_format("JWT")
                    .description(Some(
                        "An access token of the issuer (JWT_ISSUER), signed ES256 or RS256 \
                         by a key of its key set (JWT_JWKS) that the header names (`kid`), \
                         carrying `sub` and `exp` (at most JWT_MAX_TTL_SECS ahead), `aud` \
                         (or Cognito's `client_id`) equal to JWT_AUDIENCE, and what it \
                         allows: scopes in `scope` (space-separated) and roles in \
                         `cognito:groups` or `groups`. Each operation names the scope it \
                         needs; without it the answer is 403 `forbidden`.",
                    ))
                    .build(),
            ),
        );
        components.add_security_scheme(
            "service_token",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some(
                        "A service's own token, one of SERVICE_TOKENS: the callee knows \
                         which service called. Only `/internal/*` takes it.",
                    ))
                    .build(),
            ),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_requests_by_route_and_domain_counters() {
        let m = Metrics::new("test").expect("metrics");
        let created = m
            .counter("things_created_total", "things")
            .expect("counter");
        created.inc();
        m.observe("GET", "/things/{id}", 200, Duration::from_millis(3));
        let text = m.render().expect("renders");
        assert!(text.contains(r#"http_requests_total{method="GET",route="/things/{id}",status="200",service="test"} 1"#), "{text}");
        assert!(
            text.contains(r#"things_created_total{service="test"} 1"#),
            "{text}"
        );
        assert!(
            text.contains("http_request_duration_seconds_bucket"),
            "{text}"
        );
    }
}
