//! `/orders`: create (reserving stock), get, list, confirm, cancel.

use std::time::Duration;

use actix_web::{web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use kit_identity::scope::Scope;
use kit_server::auth::{needs, Allowed, Authenticated};
use kit_server::deadline;
use kit_server::pagination::{paginate, PageParams};
use kit_server::problem::{
    responses::{BodyRefused, MalformedId, Unauthorized},
    ApiError, FieldError, Json, Problem,
};
use serde::{Deserialize, Serialize};
use sqlx::MySqlPool;
use utoipa::{IntoParams, ToSchema};

use crate::{
    codes::OrdersCode,
    commands::{Caller, Ended, Orders},
    customers::{CustomerCheck, CustomersClient},
    domain::{CustomerId, OrderError, OrderId, OrderInput, OrderLimits, OrderStatus, Right},
    idempotency::http::{key_of, respond},
    metrics::OrderCounters,
    store::{orders, orders::Order},
};

kit_server::problem_response!(OrderNotFound, 404, "`order_not_found`");
kit_server::problem_response!(
    OrderBusy,
    503,
    "`database_busy`: the order stayed locked by others"
);
kit_server::problem_response!(KeyReused, 422, "`idempotency_key_reused`");

/// What the order handlers share beyond the pool.
pub struct OrdersContext {
    pub customers: CustomersClient,
    pub cancel_window: Duration,
    pub limits: OrderLimits,
    pub counters: web::Data<OrderCounters>,
}

impl OrdersContext {
    /// The order commands over `pool`.
    fn orders<'a>(&'a self, pool: &'a MySqlPool) -> Orders<'a> {
        Orders {
            pool,
            limits: &self.limits,
            counters: &self.counters,
        }
    }
}

/// What a command ended with, as sent: a replay marked
/// `Idempotent-Replayed: true`, an order's state change with its `ETag`.
fn answer(ended: Ended<Order>, etag: bool) -> Result<HttpResponse, ApiError> {
    match ended {
        Ended::Done(order, answer) => {
            let mut res = respond(answer, false)?;
            if etag {
                if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&order.etag()) {
                    res.headers_mut().insert(actix_web::http::header::ETAG, v);
                }
            }
            Ok(res)
        }
        Ended::Replayed(answer) => respond(answer, true),
        Ended::Refused(answer) => respond(answer, false),
    }
}

/// Whether customers-api knows the customer: `Ok(Some(refusal))` if not, an
/// error when it cannot tell.
async fn check_customer(
    customers: &CustomersClient,
    id: CustomerId,
) -> Result<Option<OrderError>, ApiError> {
    match customers.check(id).await {
        Ok(CustomerCheck::Exists) => Ok(None),
        Ok(CustomerCheck::NotFound) => Ok(Some(OrderError::CustomerNotFound { id })),
        // The caller's own deadline ran out first: nobody waits any more.
        Err(e) if e.timed_out() && deadline::passed() => Err(deadline::expired()),
        Err(e) => Err(ApiError::unavailable(
            OrdersCode::CustomersUnavailable,
            "customers-api is unavailable; retry later",
            e,
        )
        .with_header(
            actix_web::http::header::RETRY_AFTER,
            actix_web::http::header::HeaderValue::from_static("1"),
        )),
    }
}

/// Creates an order: replays a stored answer for its key, checks the
/// customer (no transaction open), then in one transaction claims the key,
/// locks the products in id order, reserves stock, prices the items and
/// writes the order as CREATED. Idempotent with `Idempotency-Key` /
/// `X-Idempotency-Key`.
#[utoipa::path(post, path = "/orders", operation_id = "create_order", tag = "orders", request_body = OrderInput,
    params(
        ("Idempotency-Key" = Option<String>, Header, description = "Makes retries safe (also `X-Idempotency-Key`); 1..=255 visible ASCII characters"),
    ),
    security(("bearer" = ["orders:write"])),
    responses(
        (status = 201, description = "Created, stock reserved", body = Order,
            headers(("Location" = String), ("Idempotent-Replayed" = String, description = "`true` on a replay"))),
        (status = 400, description = "Invalid body or key", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        (status = 409, description = "`insufficient_stock` (naming the product) or `idempotency_key_in_progress`", body = Problem, content_type = "application/problem+json"),
        BodyRefused,
        (status = 422, description = "`customer_not_found`, `product_not_found`, `idempotency_key_reused`, or `order_limit_exceeded` (more units or value than one order may hold: `ORDER_MAX_QTY`, `ORDER_MAX_TOTAL_CENTS`; the detail names the limit)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "`customers_unavailable`, or `database_busy` (rows it needs stayed locked by others)", body = Problem, content_type = "application/problem+json"),
    ))]
#[tracing::instrument(skip_all)]
pub async fn create(
    Allowed { caller, .. }: Allowed<needs::OrdersWrite>,
    req: HttpRequest,
    pool: web::Data<MySqlPool>,
    ctx: web::Data<OrdersContext>,
    body: Json<OrderInput>,
) -> Result<HttpResponse, ApiError> {
    let key = key_of(req.headers())?;
    let caller = Caller {
        actor: &caller.subject,
        key: key.as_ref(),
    };
    let customers = async |id| check_customer(&ctx.customers, id).await;
    let ended = ctx
        .orders(&pool)
        .create(caller, body.into_inner(), customers)
        .await?;
    answer(ended, false)
}

/// Confirms a CREATED order. Needs an idempotency key. An order that is
/// already CONFIRMED answers 200 as it is; a CANCELED one, 409 `invalid_state`.
#[utoipa::path(post, path = "/orders/{id}/confirm", operation_id = "confirm_order", tag = "orders",
    params(
        ("id" = u64, Path, description = "Order id"),
        ("Idempotency-Key" = String, Header, description = "Required (or `X-Idempotency-Key`)"),
    ),
    security(("bearer" = ["orders:write"])),
    responses(
        (status = 200, description = "The confirmed order", body = Order),
        (status = 400, description = "`idempotency_key_missing`, malformed id or key", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        OrderNotFound,
        (status = 409, description = "`invalid_state` or `idempotency_key_in_progress`", body = Problem, content_type = "application/problem+json"),
        KeyReused,
        OrderBusy,
    ))]
#[tracing::instrument(skip_all, fields(order_id = id.get()))]
pub async fn confirm(
    Allowed { caller, .. }: Allowed<needs::OrdersWrite>,
    req: HttpRequest,
    pool: web::Data<MySqlPool>,
    ctx: web::Data<OrdersContext>,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let key = key_of(req.headers())?;
    let caller = Caller {
        actor: &caller.subject,
        key: key.as_ref(),
    };
    let ended = ctx.orders(&pool).confirm(caller, id.into_inner()).await?;
    answer(ended, true)
}

/// Cancels an order and restores its stock: CREATED at any time, CONFIRMED
/// within `CANCEL_WINDOW_SECS` of confirmation. Already CANCELED: 200 as it is.
/// Needs `orders:cancel`; the order's creator may also withdraw it with
/// `orders:write` while it is not CONFIRMED (a saga's compensation).
#[utoipa::path(post, path = "/orders/{id}/cancel", operation_id = "cancel_order", tag = "orders",
    params(
        ("id" = u64, Path, description = "Order id"),
        ("Idempotency-Key" = Option<String>, Header, description = "Optional (or `X-Idempotency-Key`)"),
        ("If-Match" = Option<String>, Header, description = "Cancel only if the order's ETag (its status, quoted: `\"CREATED\"`) matches"),
    ),
    security(("bearer" = ["orders:cancel"])),
    responses(
        (status = 200, description = "The canceled order", body = Order, headers(("ETag" = String, description = "The order's status, quoted"))),
        (status = 400, description = "Malformed id, key or If-Match", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        OrderNotFound,
        (status = 409, description = "`cancel_window_expired` or `idempotency_key_in_progress`", body = Problem, content_type = "application/problem+json"),
        (status = 412, description = "`precondition_failed`: the order's ETag does not match If-Match", body = Problem, content_type = "application/problem+json"),
        KeyReused,
        OrderBusy,
    ))]
#[tracing::instrument(skip_all, fields(order_id = id.get()))]
pub async fn cancel(
    Authenticated(caller): Authenticated,
    req: HttpRequest,
    pool: web::Data<MySqlPool>,
    ctx: web::Data<OrdersContext>,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let if_match = kit_server::conditional::if_match(req.headers())?;
    let right = Right::of(&caller, Scope::OrdersCancel);
    if right == Right::None {
        return Err(kit_server::auth::forbidden(Scope::OrdersCancel));
    }
    let key = key_of(req.headers())?;
    let raw = req.headers().get(actix_web::http::header::IF_MATCH);
    let precondition = if_match.zip(raw.map(|v| v.as_bytes()));
    let by = Caller {
        actor: &caller.subject,
        key: key.as_ref(),
    };
    let orders = ctx.orders(&pool);
    let ended = orders
        .cancel(by, id.into_inner(), ctx.cancel_window, precondition, right)
        .await?;
    answer(ended, true)
}

/// One order with its items. Needs `orders:read`; the order's creator may
/// also read it with `orders:write` (a saga reads its own order back).
#[utoipa::path(get, path = "/orders/{id}", operation_id = "get_order", tag = "orders",
    params(("id" = u64, Path, description = "Order id")),
    security(("bearer" = ["orders:read"])),
    responses(
        (status = 200, description = "The order", body = Order, headers(("ETag" = String, description = "The order's status, quoted: `\"CREATED\"`, `\"CONFIRMED\"` or `\"CANCELED\"`"))),
        MalformedId,
        Unauthorized,
        OrderNotFound,
    ))]
#[tracing::instrument(skip_all, fields(order_id = id.get()))]
pub async fn get(
    Authenticated(caller): Authenticated,
    pool: web::Data<MySqlPool>,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let right = Right::of(&caller, Scope::OrdersRead);
    if right == Right::None {
        return Err(kit_server::auth::forbidden(Scope::OrdersRead));
    }
    let id = id.into_inner();
    let mut conn = pool.acquire().await?;
    let order = orders::load(&mut conn, id, false)
        .await?
        .ok_or_else(|| right.missing(id, Scope::OrdersRead))?;
    right.read(&order, Scope::OrdersRead)?;
    Ok(HttpResponse::Ok()
        .insert_header((actix_web::http::header::ETAG, order.etag()))
        .json(order))
}

/// What happened to the order, and who did it: created, confirmed,
/// canceled, expired; oldest first.
#[utoipa::path(get, path = "/orders/{id}/events", operation_id = "order_events", tag = "orders",
    params(("id" = u64, Path, description = "Order id"), PageParams),
    security(("bearer" = ["orders:read"])),
    responses(
        (status = 200, description = "A page of the order's events, oldest first", body = contracts::EventPage),
        (status = 400, description = "Malformed id, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
        OrderNotFound,
    ))]
#[tracing::instrument(skip_all, fields(order_id = id.get()))]
pub async fn events(
    _caller: Allowed<needs::OrdersRead>,
    pool: web::Data<MySqlPool>,
    id: web::Path<OrderId>,
    params: web::Query<PageParams>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let exists = orders::exists(&pool, id);
    let missing = || OrderError::NotFound { id }.into();
    kit_server::events::history(
        &pool,
        orders::ORDER_EVENTS,
        id.get(),
        &params,
        exists,
        missing,
    )
    .await
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ListParams {
    /// `CREATED`, `CONFIRMED` or `CANCELED`.
    pub status: Option<String>,
    /// One customer's orders only.
    #[param(minimum = 1)]
    pub customer_id: Option<u64>,
    /// Orders created at or after this instant (RFC 3339).
    pub from: Option<String>,
    /// Orders created before this instant (RFC 3339).
    pub to: Option<String>,
    /// Page size, 1..=100 (default 20).
    #[param(minimum = 1, maximum = 100)]
    pub limit: Option<u32>,
    /// The `next_cursor` of the previous page.
    pub cursor: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct OrderPage {
    pub data: Vec<Order>,
    /// Pass as `cursor` to get the next page; `null` on the last page.
    pub next_cursor: Option<String>,
}

fn instant(field: &str, raw: Option<&str>, errors: &mut Vec<FieldError>) -> Option<DateTime<Utc>> {
    let raw = raw?;
    match DateTime::parse_from_rfc3339(raw) {
        Ok(t) => Some(t.with_timezone(&Utc)),
        Err(_) => {
            errors.push(FieldError::new(
                field,
                "must be an RFC 3339 timestamp, e.g. 2026-01-31T00:00:00Z",
            ));
            None
        }
    }
}

/// Orders, newest first, filtered by status, customer and creation time.
#[utoipa::path(get, path = "/orders", operation_id = "list_orders", tag = "orders", params(ListParams),
    security(("bearer" = ["orders:read"])),
    responses(
        (status = 200, description = "A page of orders", body = OrderPage),
        (status = 400, description = "Bad filter, limit or cursor", body = Problem, content_type = "application/problem+json"),
        Unauthorized,
    ))]
#[tracing::instrument(skip_all)]
pub async fn list(
    _caller: Allowed<needs::OrdersRead>,
    pool: web::Data<MySqlPool>,
    params: web::Query<ListParams>,
) -> Result<HttpResponse, ApiError> {
    let params = params.into_inner();
    let has_cursor = params.cursor.as_deref().is_some_and(|c| !c.is_empty());
    let page = PageParams {
        limit: params.limit,
        cursor: params.cursor,
    }
    .parse()?;
    let mut errors = Vec::new();
    let status = match params.status.as_deref() {
        None | Some("") => None,
        Some(raw) => {
            let parsed = OrderStatus::parse(raw);
            if parsed.is_none() {
                errors.push(FieldError::new(
                    "status",
                    "must be one of CREATED, CONFIRMED, CANCELED",
                ));
            }
            parsed
        }
    };
    let from = instant("from", params.from.as_deref(), &mut errors);
    let to = instant("to", params.to.as_deref(), &mut errors);
    if let (Some(f), Some(t)) = (from, to) {
        if f > t {
            errors.push(FieldError::new("from", "must not be after `to`"));
        }
    }
    // An id, as the schema says: 1..=i64::MAX.
    if params
        .customer_id
        .is_some_and(|id| id == 0 || i64::try_from(id).is_err())
    {
        errors.push(FieldError::new(
            "customer_id",
            "must be an integer from 1 to 9223372036854775807",
        ));
    }
    if !errors.is_empty() {
        return Err(ApiError::validation(errors));
    }
    let filter = orders::OrderFilter {
        status,
        customer_id: params.customer_id.map(CustomerId),
        from,
        to,
    };
    let before = if has_cursor { page.after_id } else { u64::MAX };
    let rows = orders::list(&pool, &filter, before, page.fetch()).await?;
    let (data, next_cursor) = paginate(rows, page, |o| o.id.get());
    Ok(HttpResponse::Ok().json(OrderPage { data, next_cursor }))
}
