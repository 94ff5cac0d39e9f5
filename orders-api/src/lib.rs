//! orders-api: products, orders that never oversell, idempotent writes and
//! expiring stock reservations.

pub mod codes;
pub mod config;
pub mod customers;
pub mod domain;
pub mod idempotency;
pub mod metrics;
pub mod migrate;
pub mod openapi;
pub mod routes;
pub mod seed;
pub mod startup;
pub mod store;
pub mod sweeper;
