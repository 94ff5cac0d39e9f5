//! The OpenAPI document, generated from the handlers' annotations.

use kit_server::ops;
use kit_server::ops::SecuritySchemes;
use kit_server::problem;
use utoipa::OpenApi;

use crate::{codes::PROBLEM_CODES, domain, routes, store};

#[derive(OpenApi)]
#[openapi(
    info(
        title = "orders-api",
        description = "Products and orders of the order back office: stock is reserved when an order is \
created, never oversold, released when a reservation expires. `POST /orders`, `/confirm` and `/cancel` \
are idempotent with an `Idempotency-Key` (or `X-Idempotency-Key`) header. Errors are RFC 9457 problem \
documents (`application/problem+json`) with a stable `code`. \n\n**To try it here:** run `make -s token` in the project, click **Authorize**, and paste the token \
into `bearer` (valid for an hour; `SUB=name make -s token` acts as another user).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        routes::products::create,
        routes::products::list,
        routes::products::get,
        routes::products::patch,
        routes::products::events,
        routes::orders::create,
        routes::orders::list,
        routes::orders::get,
        routes::orders::confirm,
        routes::orders::cancel,
        routes::orders::events,
        ops::health,
        ops::ready,
        ops::metrics,
    ),
    components(schemas(
        store::products::Product,
        domain::Order,
        domain::OrderItem,
        domain::ProductInput,
        domain::ProductPatchInput,
        domain::OrderInput,
        domain::OrderItemInput,
        domain::OrderStatus,
        routes::products::ProductPage,
        routes::orders::OrderPage,
        contracts::Event,
        contracts::EventPage,
        problem::Problem,
        problem::FieldError,
        ops::Status,
    )),
    modifiers(&SecuritySchemes, &PROBLEM_CODES),
    tags(
        (name = "products", description = "Products and stock (user JWT)"),
        (name = "orders", description = "Orders (user JWT)"),
        (name = "ops", description = "Health, readiness and metrics (no auth)"),
    )
)]
pub struct ApiDoc;

/// The document as YAML: what `orders-api/openapi.yaml` must contain.
pub fn yaml() -> anyhow::Result<String> {
    Ok(ApiDoc::openapi().to_yaml()?)
}
