//! HTTP routes, one module per resource.

pub mod customers;
pub mod internal;

use actix_web::web;
use service_kit::problem::method_not_allowed;

/// Registers every business and internal route.
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
        web::resource("/internal/customers/{id}")
            .route(web::get().to(internal::get))
            .default_service(method_not_allowed("GET")),
    );
}
