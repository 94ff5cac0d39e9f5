//! The OpenAPI document, generated from the handlers' annotations.

use kit_server::ops;
use kit_server::ops::SecuritySchemes;
use kit_server::problem;
use utoipa::OpenApi;

use crate::{codes::PROBLEM_CODES, domain, routes};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "customers-api",
        description = "Customers of the order back office, and an internal lookup for other services. \
Errors are RFC 9457 problem documents (`application/problem+json`) with a stable `code`. \n\n**To try it here:** run `make -s token` in the project, click **Authorize**, and paste the token \
into `bearer` (valid for an hour; `SUB=name make -s token` acts as another user).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        routes::customers::create,
        routes::customers::list,
        routes::customers::get,
        routes::customers::replace,
        routes::customers::delete,
        routes::customers::events,
        routes::internal::get,
        ops::health,
        ops::ready,
        ops::metrics,
    ),
    components(schemas(
        domain::Customer,
        contracts::Event,
        contracts::EventPage,
        domain::CustomerInput,
        routes::customers::CustomerPage,
        problem::Problem,
        problem::FieldError,
        ops::Status,
    )),
    modifiers(&SecuritySchemes, &PROBLEM_CODES),
    tags(
        (name = "customers", description = "Customers (user JWT)"),
        (name = "internal", description = "Service-to-service lookups (SERVICE_TOKEN)"),
        (name = "ops", description = "Health, readiness and metrics (no auth)"),
    )
)]
pub struct ApiDoc;

/// The document as YAML: what `customers-api/openapi.yaml` must contain.
pub fn yaml() -> anyhow::Result<String> {
    Ok(ApiDoc::openapi().to_yaml()?)
}
