//! HTTP routes, one module per resource.

pub mod orders;
pub mod products;

use actix_web::web;
use service_kit::problem::method_not_allowed;

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
