//! `/orders`: create (reserving stock), get, list, confirm, cancel.

use std::time::Duration;

use actix_web::{http::StatusCode, web, HttpRequest, HttpResponse};
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use service_kit::{
    auth::{needs, Allowed, Principal},
    deadline,
    events::Stamp,
    pagination::{paginate, PageParams},
    problem::{
        responses::{BodyRefused, MalformedId, Unauthorized},
        ApiError, FieldError, Json, Problem,
    },
    scope::Scope,
};
use sqlx::MySqlPool;
use utoipa::{IntoParams, ToSchema};

use crate::{
    codes::OrdersCode,
    customers::{CustomerCheck, CustomersClient},
    domain::{
        CustomerId, IdempotencyKey, NewOrder, OrderError, OrderId, OrderInput, OrderLimits,
        OrderStatus, Right,
    },
    idempotency::{self, Answer, Idem, Outcome},
    metrics::OrderCounters,
    routes::idempotent::{self, respond},
    store::{self, orders, orders::Order, Tx, TxError},
};

service_kit::problem_response!(OrderNotFound, 404, "`order_not_found`");
service_kit::problem_response!(
    OrderBusy,
    503,
    "`database_busy`: the order stayed locked by others"
);
service_kit::problem_response!(KeyReused, 422, "`idempotency_key_reused`");

/// What the order handlers share beyond the pool.
pub struct OrdersContext {
    pub customers: CustomersClient,
    pub cancel_window: Duration,
    pub limits: OrderLimits,
    pub counters: web::Data<OrderCounters>,
}

/// A stored answer, sent again.
fn replayed(
    ctx: &OrdersContext,
    scope: &'static str,
    answer: Answer,
) -> Result<HttpResponse, ApiError> {
    ctx.counters.replays.inc();
    tracing::info!(scope, "idempotent replay");
    respond(answer, true)
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
    let input = body.into_inner();
    let canonical =
        serde_json::to_vec(&input).map_err(|e| ApiError::internal(anyhow::Error::from(e)))?;
    let new = NewOrder::try_from(input).map_err(ApiError::from)?;
    let key = idempotent::key_of(req.headers())?;
    let idem = key
        .clone()
        .map(|key| Idem::new("create_order", &caller.subject, key, "", &canonical));
    // Three phases, and no network call while a transaction is open (a slow
    // customers-api must not hold a database connection):
    // 1. a stored answer for the key is replayed at once, whatever changed
    //    since (the customer may be gone);
    if let Some(idem) = &idem {
        if let Some(answer) = idempotency::stored(&pool, idem).await? {
            return replayed(&ctx, "create_order", answer);
        }
    }
    if deadline::passed() {
        return Err(deadline::expired());
    }
    // 2. the customer, outside any transaction. An unknown customer is a
    //    final answer, stored under the key in phase 3; customers-api being
    //    unavailable is not (the key stays free for a retry);
    let mut refusal = check_customer(&ctx.customers, new.customer_id).await?;
    // 3. one short transaction: the key's claim (a twin waits on it, then
    //    replays), the stock, the order, the answer.
    let stamp = Stamp {
        actor: &caller.subject,
        idempotency_key: key.as_ref().map(IdempotencyKey::as_str),
        at: store::now(),
    };
    let outcome = idempotent::run(&pool, idem.as_ref(), async |tx: &mut Tx| {
        if let Some(e) = refusal.take() {
            return Err(e.into());
        }
        let created = orders::create(tx, &new, &stamp, &ctx.limits).await;
        if let Err(TxError::Order(OrderError::InsufficientStock { .. })) = &created {
            ctx.counters.stock_conflicts.inc();
        }
        created
    })
    .await?;
    match outcome {
        Outcome::Done(tx, order) => {
            let answer = idempotent::json(StatusCode::CREATED, &order)?
                .with_location(format!("/orders/{}", order.id));
            idempotency::commit(tx, idem.as_ref(), &answer).await?;
            ctx.counters.created.inc();
            tracing::debug!(
                order_id = order.id.get(),
                total_cents = order.total_cents,
                "order created"
            );
            respond(answer, false)
        }
        Outcome::Replay(answer) => replayed(&ctx, "create_order", answer),
        Outcome::Refused(answer) => respond(answer, false),
    }
}

/// A state transition of an order: the scope of its idempotency keys,
/// whether it needs one, and what is counted and logged when it changes
/// the order.
struct Transition {
    scope: &'static str,
    key: KeyRule,
    changed: fn(&OrderCounters, OrderId),
}

#[derive(PartialEq, Eq)]
enum KeyRule {
    Required,
    Optional,
}

const CONFIRM: Transition = Transition {
    scope: "confirm_order",
    key: KeyRule::Required,
    changed: |counters, id| {
        counters.confirmed.inc();
        tracing::debug!(order_id = id.get(), "order confirmed");
    },
};

const CANCEL: Transition = Transition {
    scope: "cancel_order",
    key: KeyRule::Optional,
    changed: |counters, id| {
        counters.canceled.inc();
        tracing::info!(order_id = id.get(), "order canceled; stock restored");
    },
};

/// Runs a state transition of one order, idempotently when a key is given.
async fn transition(
    caller: &Principal,
    req: &HttpRequest,
    pool: &MySqlPool,
    ctx: &OrdersContext,
    Transition {
        scope,
        key: rule,
        changed: on_change,
    }: Transition,
    id: OrderId,
    mut work: impl AsyncFnMut(&mut Tx, &Stamp<'_>) -> Result<(Order, bool), TxError>,
) -> Result<HttpResponse, ApiError> {
    let key = idempotent::key_of(req.headers())?;
    let stamp = Stamp {
        actor: &caller.subject,
        idempotency_key: key.as_ref().map(IdempotencyKey::as_str),
        at: store::now(),
    };
    if key.is_none() && rule == KeyRule::Required {
        return Err(ApiError::bad_request(
            OrdersCode::IdempotencyKeyMissing,
            "this endpoint needs an Idempotency-Key (or X-Idempotency-Key) header",
        ));
    }
    // The target: the order, and the precondition when there is one (the
    // same key with another precondition is another request).
    let target = match req.headers().get(actix_web::http::header::IF_MATCH) {
        None => id.to_string(),
        Some(v) => format!("{id}\u{0}{}", String::from_utf8_lossy(v.as_bytes())),
    };
    let idem = key
        .clone()
        .map(|key| Idem::new(scope, &caller.subject, key, &target, b""));
    match idempotent::run(pool, idem.as_ref(), async |tx: &mut Tx| {
        work(tx, &stamp).await
    })
    .await?
    {
        Outcome::Done(tx, (order, changed)) => {
            let answer = idempotent::json(StatusCode::OK, &order)?;
            idempotency::commit(tx, idem.as_ref(), &answer).await?;
            let mut res = respond(answer, false)?;
            if let Ok(v) = actix_web::http::header::HeaderValue::from_str(&order.etag()) {
                res.headers_mut().insert(actix_web::http::header::ETAG, v);
            }
            if changed {
                on_change(&ctx.counters, id);
            }
            Ok(res)
        }
        Outcome::Replay(answer) => replayed(ctx, scope, answer),
        Outcome::Refused(answer) => respond(answer, false),
    }
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
    let id = id.into_inner();
    transition(
        &caller,
        &req,
        &pool,
        &ctx,
        CONFIRM,
        id,
        async |tx: &mut Tx, stamp: &Stamp<'_>| orders::confirm(tx, id, stamp).await,
    )
    .await
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
    caller: Principal,
    req: HttpRequest,
    pool: web::Data<MySqlPool>,
    ctx: web::Data<OrdersContext>,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let id = id.into_inner();
    let window = ctx.cancel_window;
    let if_match = service_kit::conditional::if_match(req.headers())?;
    let right = Right::of(&caller, Scope::OrdersCancel);
    if right == Right::None {
        return Err(service_kit::auth::forbidden(Scope::OrdersCancel));
    }
    transition(
        &caller,
        &req,
        &pool,
        &ctx,
        CANCEL,
        id,
        async |tx: &mut Tx, stamp: &Stamp<'_>| {
            orders::cancel(tx, id, stamp, window, if_match.as_ref(), right).await
        },
    )
    .await
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
    caller: Principal,
    pool: web::Data<MySqlPool>,
    id: web::Path<OrderId>,
) -> Result<HttpResponse, ApiError> {
    let right = Right::of(&caller, Scope::OrdersRead);
    if right == Right::None {
        return Err(service_kit::auth::forbidden(Scope::OrdersRead));
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
    service_kit::events::history(
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
