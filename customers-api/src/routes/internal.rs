//! `/internal/*`: lookups for other services, each holding its own token
//! (`SERVICE_TOKENS`); no user token is accepted here.

use actix_web::{web, HttpResponse};
use kit_server::auth::ServiceCaller;
use kit_server::problem::{responses::MalformedId, ApiError, Problem};
use sqlx::MySqlPool;

use contracts::CustomerId;

use crate::routes::customers::found;

/// The same as `GET /customers/{id}`, for the services in `SERVICE_TOKENS`.
#[utoipa::path(get, path = "/internal/customers/{id}", operation_id = "get_customer_internal", tag = "internal",
    params(("id" = u64, Path, description = "Customer id")),
    security(("service_token" = [])),
    responses(
        (status = 200, description = "The customer", body = crate::domain::Customer),
        MalformedId,
        (status = 401, description = "Missing or wrong service token", body = Problem, content_type = "application/problem+json"),
        (status = 404, description = "`customer_not_found` (also once deleted)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(customer_id = id.get()))]
pub async fn get(
    caller: ServiceCaller,
    pool: web::Data<MySqlPool>,
    id: web::Path<CustomerId>,
) -> Result<HttpResponse, ApiError> {
    tracing::debug!(service = %caller.name, "internal lookup");
    found(&pool, id.into_inner()).await
}
