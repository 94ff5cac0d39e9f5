//! customers-api: customers of the order back office, and an internal lookup
//! for the other services.

pub mod codes;
pub mod domain;
pub mod openapi;
pub mod routes;
pub mod startup;
pub mod store;
