//! HTTP routes, one module per resource.

pub mod customers;
pub mod internal;

use actix_web::web;
use kit_server::problem::{method_not_allowed, ApiError, FieldError};

use crate::{codes::CustomersCode, domain::CustomerError, store::StoreError};

/// Registers every business and internal route.
/// The problem document of each refusal of the customer rules.
impl From<CustomerError> for ApiError {
    fn from(e: CustomerError) -> Self {
        match e {
            CustomerError::EmailTaken => {
                ApiError::conflict(CustomersCode::EmailTaken, e.to_string())
                    .with_errors(vec![FieldError::new("email", "is already taken")])
            }
        }
    }
}

impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        match e {
            StoreError::Db(e) => e.into(),
            StoreError::Customer(e) => e.into(),
        }
    }
}

pub fn configure(cfg: &mut web::ServiceConfig) {
    cfg.service(
        web::resource("/customers")
            .route(web::post().to(customers::create))
            .route(web::get().to(customers::list))
            .default_service(method_not_allowed("POST, GET")),
    )
    .service(
        web::resource("/customers/{id}")
            .route(web::get().to(customers::get))
            .route(web::put().to(customers::replace))
            .route(web::delete().to(customers::delete))
            .default_service(method_not_allowed("GET, PUT, DELETE")),
    )
    .service(
        web::resource("/customers/{id}/events")
            .route(web::get().to(customers::events))
            .default_service(method_not_allowed("GET")),
    )
    .service(
        web::resource("/internal/customers/{id}")
            .route(web::get().to(internal::get))
            .default_service(method_not_allowed("GET")),
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_taken_email_is_a_409_naming_the_field() {
        let e = ApiError::from(StoreError::from(CustomerError::EmailTaken));
        assert_eq!((e.status().as_u16(), e.code()), (409, "email_taken"));
        assert_eq!(e.problem().errors[0].field, "email");
    }
}
