//! `/products`: create, patch, get, search.

use actix_web::{http::header, web, HttpRequest, HttpResponse};
use contracts::Code;
use kit_server::auth::{needs, Allowed};
use kit_server::conditional::{if_match, precondition_required};
use kit_server::pagination::{paginate, SearchParams};
use kit_server::problem::{
    responses::{BadSearch, BodyRefused, MalformedId, Unauthorized},
    ApiError, Json, Problem,
};
use serde::Serialize;
use sqlx::MySqlPool;
use utoipa::ToSchema;

use crate::{
    domain::{NewProduct, ProductId, ProductInput, ProductPatch, ProductPatchInput, StockChange},
    store::{
        orders::PRODUCT_EVENTS,
        products::{self, Product},
    },
};

fn not_found(id: ProductId) -> ApiError {
    ApiError::not_found(Code::ProductNotFound, format!("no product with id {id}"))
}

/// Creates a product.
#[utoipa::path(post, path = "/products", operation_id = "create_product", tag = "products", request_body = ProductInput,
    security(("bearer" = ["catalog:write"])),
    responses(
        (status = 201, description = "Created", body = Product, headers(("Location" = String), ("ETag" = String))),
        (status = 400, description = "Invalid body", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 409, description = "`sku_taken`", body = Problem, content_type = "application/problem+json"),
        BodyRefused,
    ))]
#[tracing::instrument(skip_all)]
pub async fn create(
    Allowed { caller, .. }: Allowed<needs::CatalogWrite>,
    pool: web::Data<MySqlPool>,
    body: Json<ProductInput>,
) -> Result<HttpResponse, ApiError> {
    let input = NewProduct::try_from(body.into_inner()).map_err(ApiError::from)?;
    let product = products::insert(&pool, &input, &caller.subject).await?;
    tracing::info!(product_id = product.id.get(), "product created");
    Ok(HttpResponse::Created()
        .insert_header((header::LOCATION, format!("/products/{}", product.id)))
        .insert_header((header::ETAG, product.etag()))
        .json(product))
}

/// Changes any of name, price and stock. `stock` sets the level and needs
/// `If-Match` with the product's ETag (428 without, 412 when stale);
/// `stock_delta` changes it by a number of units and needs no precondition.
#[utoipa::path(patch, path = "/products/{id}", operation_id = "patch_product", tag = "products", request_body = ProductPatchInput,
    params(
        ("id" = u64, Path, description = "Product id"),
        ("If-Match" = Option<String>, Header, description = "The product's ETag as read (`\"3\"`); required to set `stock`"),
    ),
    security(("bearer" = ["catalog:write"])),
    responses(
        (status = 200, description = "The product as changed", body = Product, headers(("ETag" = String))),
        (status = 400, description = "Invalid body or id", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 404, description = "`product_not_found`", body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "`insufficient_stock` (a `stock_delta` below zero) or `stock_out_of_range`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the product changed since it was read", body = Problem, content_type = "application/problem+json"),
        BodyRefused,
        (status = 428, description = "`precondition_required`: setting `stock` needs If-Match", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(product_id = id.get()))]
pub async fn patch(
    Allowed { caller, .. }: Allowed<needs::CatalogWrite>,
    req: HttpRequest,
    pool: web::Data<MySqlPool>,
    id: web::Path<ProductId>,
    body: Json<ProductPatchInput>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let patch = ProductPatch::try_from(body.into_inner()).map_err(ApiError::from)?;
    let if_match = if_match(req.headers())?;
    if matches!(patch.stock, Some(StockChange::Set(_))) && if_match.is_none() {
        return Err(precondition_required(
            "setting stock needs If-Match with the product's ETag (or send stock_delta)",
        ));
    }
    let product = products::patch(&pool, id, &patch, if_match.as_ref(), &caller.subject)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, product.etag()))
        .json(product))
}

/// What happened to the product, and who did it: created, and each change
/// of its name, price or stock (orders' reservations and releases
/// included); oldest first. Its stock events sum to its stock.
#[utoipa::path(get, path = "/products/{id}/events", operation_id = "product_events", tag = "products",
    params(("id" = u64, Path, description = "Product id"), kit_server::pagination::PageParams),
    security(("bearer" = ["catalog:read"])),
    responses(
        (status = 200, description = "A page of the product's events, oldest first", body = contracts::EventPage),
        (status = 400, description = "Malformed id, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 404, description = "`product_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(product_id = id.get()))]
pub async fn events(
    _caller: Allowed<needs::CatalogRead>,
    pool: web::Data<MySqlPool>,
    id: web::Path<ProductId>,
    params: web::Query<kit_server::pagination::PageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let exists = products::exists(&pool, id);
    kit_server::events::history(&pool, PRODUCT_EVENTS, id.get(), &params, exists, || {
        not_found(id)
    })
    .await
}

/// Gets one product.
#[utoipa::path(get, path = "/products/{id}", operation_id = "get_product", tag = "products",
    params(("id" = u64, Path, description = "Product id")),
    security(("bearer" = ["catalog:read"])),
    responses(
        (status = 200, description = "The product", body = Product, headers(("ETag" = String, description = "The product's version, quoted"))),
        MalformedId,
        Unauthorized,
        (status = 404, description = "`product_not_found`", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all, fields(product_id = id.get()))]
pub async fn get(
    _caller: Allowed<needs::CatalogRead>,
    pool: web::Data<MySqlPool>,
    id: web::Path<ProductId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let product = products::find(&pool, id)
        .await?
        .ok_or_else(|| not_found(id))?;
    Ok(HttpResponse::Ok()
        .insert_header((header::ETAG, product.etag()))
        .json(product))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ProductPage {
    pub data: Vec<Product>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

/// Searches products by sku or name, in id order.
#[utoipa::path(get, path = "/products", operation_id = "list_products", tag = "products", params(SearchParams),
    security(("bearer" = ["catalog:read"])),
    responses(
        (status = 200, description = "A page of products", body = ProductPage),
        BadSearch,
        Unauthorized,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list(
    _caller: Allowed<needs::CatalogRead>,
    pool: web::Data<MySqlPool>,
    params: web::Query<SearchParams>,
) -> Result<HttpResponse, ApiError> {
    let (term, page) = params.parse()?;
    let rows = products::search(&pool, term, page).await?;
    let (data, next_cursor) = paginate(rows, page, |p| p.id.get());
    Ok(HttpResponse::Ok().json(ProductPage { data, next_cursor }))
}
