//! HTTP routes, one module per resource.

pub mod orders;
pub mod products;

use actix_web::{
    http::{
        header::{HeaderValue, RETRY_AFTER},
        StatusCode,
    },
    web,
};
use kit_server::conditional::precondition_failed;
use kit_server::problem::{method_not_allowed, ApiError, FieldError};

use contracts::Code;

use crate::{
    codes::OrdersCode,
    domain::{OrderError, ProductError},
    store::{is_lock_conflict, TxError},
};

/// The problem document of each refusal of the order rules.
impl From<OrderError> for ApiError {
    fn from(e: OrderError) -> Self {
        let detail = e.to_string();
        match e {
            OrderError::CustomerNotFound { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::CustomerNotFound,
                detail,
            ),
            OrderError::ProductNotFound { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::ProductNotFound,
                detail,
            ),
            OrderError::InsufficientStock {
                product_id,
                available,
                ..
            } => ApiError::conflict(Code::InsufficientStock, detail).with_errors(vec![
                FieldError::new(
                    format!("items[product_id={product_id}]"),
                    format!("only {available} in stock"),
                ),
            ]),
            OrderError::NotFound { .. } => ApiError::not_found(OrdersCode::OrderNotFound, detail),
            OrderError::ConfirmCanceled { .. } => {
                ApiError::conflict(OrdersCode::InvalidState, detail)
            }
            OrderError::CancelWindowExpired { .. } => {
                ApiError::conflict(OrdersCode::CancelWindowExpired, detail)
            }
            OrderError::PreconditionFailed { .. } => precondition_failed(detail),
            OrderError::LimitExceeded { .. } => ApiError::new(
                StatusCode::UNPROCESSABLE_ENTITY,
                Code::OrderLimitExceeded,
                detail,
            ),
            OrderError::Forbidden { scope } => kit_server::auth::forbidden(scope),
            OrderError::Overflow(_) => ApiError::internal(anyhow::Error::from(e)),
        }
    }
}

/// The problem document of each refusal of the product rules.
impl From<ProductError> for ApiError {
    fn from(e: ProductError) -> Self {
        let detail = e.to_string();
        match e {
            ProductError::SkuTaken { .. } => ApiError::conflict(OrdersCode::SkuTaken, detail)
                .with_errors(vec![FieldError::new("sku", "is already taken")]),
            ProductError::Changed { .. } => precondition_failed(detail),
            ProductError::InsufficientStock { .. } => {
                ApiError::conflict(Code::InsufficientStock, detail)
            }
            ProductError::StockOutOfRange { .. } => {
                ApiError::conflict(OrdersCode::StockOutOfRange, detail)
            }
        }
    }
}

impl From<TxError> for ApiError {
    fn from(e: TxError) -> Self {
        match e {
            // Still deadlocking or waiting on a row lock after every attempt:
            // another transaction holds what this one needs. Transient.
            TxError::Db(db) if is_lock_conflict(&db) => ApiError::unavailable(
                OrdersCode::DatabaseBusy,
                "the data this request needs is locked by others; retry later",
                db,
            )
            .with_header(RETRY_AFTER, HeaderValue::from_static("1")),
            TxError::Db(e) => e.into(),
            TxError::Order(e) => e.into(),
            TxError::Product(e) => e.into(),
            TxError::Key(e) => e.into(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/products")
            .route(web::post().to(products::create))
            .route(web::get().to(products::list))
            .default_service(method_not_allowed("POST, GET")),
    )
    .service(
        web::resource("/products/{id}")
            .route(web::get().to(products::get))
            .route(web::patch().to(products::patch))
            .default_service(method_not_allowed("GET, PATCH")),
    )
    .service(
        web::resource("/orders")
            .route(web::post().to(orders::create))
            .route(web::get().to(orders::list))
            .default_service(method_not_allowed("POST, GET")),
    )
    .service(
        web::resource("/orders/{id}")
            .route(web::get().to(orders::get))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/orders/{id}/events")
            .route(web::get().to(orders::events))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/products/{id}/events")
            .route(web::get().to(products::events))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/orders/{id}/confirm")
            .route(web::post().to(orders::confirm))
            .default_service(method_not_allowed("POST")),
    )
    .service(
        web::resource("/orders/{id}/cancel")
            .route(web::post().to(orders::cancel))
            .default_service(method_not_allowed("POST")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::{CustomerId, OrderId, ProductId};
    use crate::idempotency::KeyConflict;

    #[test]
    fn each_key_conflict_has_its_status_code_and_retry() {
        let e = ApiError::from(TxError::from(KeyConflict::Reused));
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (422, "idempotency_key_reused")
        );
        let e = ApiError::from(TxError::from(KeyConflict::InProgress {
            retry_after_secs: 900,
        }));
        assert_eq!(
            (e.status().as_u16(), e.code()),
            (409, "idempotency_key_in_progress")
        );
    }

    #[test]
    fn each_order_refusal_has_its_status_and_code() {
        let cases = [
            (
                OrderError::CustomerNotFound { id: CustomerId(1) },
                422,
                "customer_not_found",
            ),
            (
                OrderError::ProductNotFound {
                    product_id: ProductId(2),
                },
                422,
                "product_not_found",
            ),
            (
                OrderError::InsufficientStock {
                    product_id: ProductId(2),
                    available: 1,
                    wanted: 3,
                },
                409,
                "insufficient_stock",
            ),
            (
                OrderError::NotFound { id: OrderId(8) },
                404,
                "order_not_found",
            ),
            (
                OrderError::ConfirmCanceled { id: OrderId(8) },
                409,
                "invalid_state",
            ),
            (
                OrderError::CancelWindowExpired {
                    id: OrderId(8),
                    window_secs: 600,
                },
                409,
                "cancel_window_expired",
            ),
            (
                OrderError::PreconditionFailed {
                    id: OrderId(8),
                    status: "CONFIRMED",
                    etag: "\"CONFIRMED\"".into(),
                },
                412,
                "precondition_failed",
            ),
            (OrderError::Overflow("total"), 500, "internal_error"),
        ];
        for (error, status, code) in cases {
            let detail = error.to_string();
            let e = ApiError::from(error);
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{detail}");
        }
    }

    #[test]
    fn each_product_refusal_has_its_status_and_code() {
        let cases = [
            (ProductError::SkuTaken { sku: "A".into() }, 409, "sku_taken"),
            (
                ProductError::Changed {
                    id: ProductId(2),
                    etag: "\"3\"".into(),
                },
                412,
                "precondition_failed",
            ),
            (
                ProductError::InsufficientStock {
                    id: ProductId(2),
                    available: 1,
                    removed: 3,
                },
                409,
                "insufficient_stock",
            ),
            (
                ProductError::StockOutOfRange { id: ProductId(2) },
                409,
                "stock_out_of_range",
            ),
        ];
        for (error, status, code) in cases {
            let detail = error.to_string();
            let e = ApiError::from(TxError::from(error));
            assert_eq!((e.status().as_u16(), e.code()), (status, code), "{detail}");
        }
    }
}
