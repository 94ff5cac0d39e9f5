//! `/customers`: create, get, search, replace, soft delete.

use actix_web::{http::header, web, HttpResponse};
use contracts::Code;
use kit_server::auth::{needs, Allowed};
use kit_server::pagination::{paginate, SearchParams};
use kit_server::problem::{
    responses::{BadSearch, BodyRefused, MalformedId, Unauthorized},
    ApiError, Json, Problem,
};
use prometheus::IntCounter;
use serde::Serialize;
use sqlx::MySqlPool;
use utoipa::ToSchema;

use crate::{
    domain::{Customer, CustomerId, CustomerInput, NewCustomer},
    store,
};

/// Domain counters of this service.
pub struct CustomerCounters {
    pub created: IntCounter,
    pub updated: IntCounter,
    pub deleted: IntCounter,
}

impl CustomerCounters {
    pub fn register(metrics: &kit_server::ops::Metrics) -> anyhow::Result<Self> {
        Ok(Self {
            created: metrics.counter("customers_created_total", "Customers created")?,
            updated: metrics.counter("customers_updated_total", "Customers replaced")?,
            deleted: metrics.counter("customers_deleted_total", "Customers soft-deleted")?,
        })
    }
}

pub(crate) fn not_found(id: CustomerId) -> ApiError {
    ApiError::not_found(Code::CustomerNotFound, format!("no customer with id {id}"))
}

/// Creates a customer.
#[utoipa::path(post, path = "/customers", operation_id = "create_customer", tag = "customers",
    request_body = CustomerInput,
    security(("bearer" = ["customers:write"])),
    responses(
        (status = 201, description = "Created", body = Customer,
            headers(("Location" = String, description = "URL of the new customer"))),
        (status = 400, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        BodyRefused,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create(
    Allowed { caller, .. }: Allowed<needs::CustomersWrite>,
    pool: web::Data<MySqlPool>,
    counters: web::Data<CustomerCounters>,
    body: Json<CustomerInput>,
) -> Result<HttpResponse, ApiError> {
    let input = NewCustomer::try_from(body.into_inner()).map_err(ApiError::from)?;
    let customer = store::insert(&pool, &input, &caller.subject).await?;
    counters.created.inc();
    tracing::info!(customer_id = customer.id.get(), "customer created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/customers/{}", customer.id)))
        .json(customer))
}

/// Gets one customer.
#[utoipa::path(get, path = "/customers/{id}", operation_id = "get_customer", tag = "customers",
    params(("id" = u64, Path, description = "Customer id")),
    security(("bearer" = ["customers:read"])),
    responses(
        (status = 200, description = "The customer", body = Customer),
        MalformedId,
        Unauthorized,
        (status = 404, description = "`customer_not_found` (also once deleted)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(customer_id = id.get()))]
pub async fn get(
    _caller: Allowed<needs::CustomersRead>,
    pool: web::Data<MySqlPool>,
    id: web::Path<CustomerId>,
) -> Result<HttpResponse, ApiError> {
    found(&pool, id.into_inner()).await
}

/// 200 with the active customer `id`, or 404.
pub async fn found(pool: &MySqlPool, id: CustomerId) -> Result<HttpResponse, ApiError> {
    let customer = store::find(pool, id).await?.ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok().json(customer))
}

/// A page of customers.
#[derive(Debug, Serialize, ToSchema)]
pub struct CustomerPage {
    pub data: Vec<Customer>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Searches active customers by name or email, in id order.
#[utoipa::path(get, path = "/customers", operation_id = "list_customers", tag = "customers",
    params(SearchParams),
    security(("bearer" = ["customers:read"])),
    responses(
        (status = 200, description = "A page of customers", body = CustomerPage),
        BadSearch,
        Unauthorized,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list(
    _caller: Allowed<needs::CustomersRead>,
    pool: web::Data<MySqlPool>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let (term, page) = params.parse()?;
    let rows = store::search(&pool, term, page).await?;
    let (data, next_cursor) = paginate(rows, page, |c| c.id.get());
    Ok(HttpResponse::Ok().json(CustomerPage { data, next_cursor }))
}

/// Replaces a customer's name, email and phone (an absent phone clears it).
#[utoipa::path(put, path = "/customers/{id}", operation_id = "replace_customer", tag = "customers",
    params(("id" = u64, Path, description = "Customer id")),
    request_body = CustomerInput,
    security(("bearer" = ["customers:write"])),
    responses(
        (status = 200, description = "The customer as replaced", body = Customer),
        (status = 400, description = "Invalid body or id", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 404, description = "`customer_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`", body = Problem, content_type = "application/problem+json"),
        BodyRefused,
    ))]
#[tracing::instrument(skip_all, fields(customer_id = id.get()))]
pub async fn replace(
    Allowed { caller, .. }: Allowed<needs::CustomersWrite>,
    pool: web::Data<MySqlPool>,
    counters: web::Data<CustomerCounters>,
    id: web::Path<CustomerId>,
    body: Json<CustomerInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let input = NewCustomer::try_from(body.into_inner()).map_err(ApiError::from)?;
    let customer = store::replace(&pool, id, &input, &caller.subject)
        .await?
        .ok_or_else(|| not_found(id))?;
    counters.updated.inc();
    Ok(HttpResponse::Ok().json(customer))
}

/// What happened to the customer, and who did it: created, replaced (each
/// changed field before and after), deleted; oldest first. A deleted
/// customer's history stays readable.
#[utoipa::path(get, path = "/customers/{id}/events", operation_id = "customer_events", tag = "customers",
    params(("id" = u64, Path, description = "Customer id"), kit_server::pagination::PageParams),
    security(("bearer" = ["customers:read"])),
    responses(
        (status = 200, description = "A page of the customer's events, oldest first", body = contracts::EventPage),
        (status = 400, description = "Malformed id, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 404, description = "`customer_not_found`: no customer ever had this id", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(customer_id = id.get()))]
pub async fn events(
    _caller: Allowed<needs::CustomersRead>,
    pool: web::Data<MySqlPool>,
    id: web::Path<CustomerId>,
    params: web::Query<kit_server::pagination::PageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let exists = store::ever_existed(&pool, id);
    kit_server::events::history(
        &pool,
        store::CUSTOMER_EVENTS,
        id.get(),
        &params,
        exists,
        || not_found(id),
    )
    .await
}

/// Soft-deletes a customer; its email becomes free for a new customer.
#[utoipa::path(delete, path = "/customers/{id}", operation_id = "delete_customer", tag = "customers",
    params(("id" = u64, Path, description = "Customer id")),
    security(("bearer" = ["customers:write"])),
    responses(
        (status = 204, description = "Deleted"),
        MalformedId,
        Unauthorized,
        (status = 404, description = "`customer_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(customer_id = id.get()))]
pub async fn delete(
    Allowed { caller, .. }: Allowed<needs::CustomersWrite>,
    pool: web::Data<MySqlPool>,
    counters: web::Data<CustomerCounters>,
    id: web::Path<CustomerId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    if !store::soft_delete(&pool, id, &caller.subject).await? {
        return Err(not_found(id));
    }
    counters.deleted.inc();
    tracing::info!("customer deleted");
    Ok(HttpResponse::NoContent().finish())
}
