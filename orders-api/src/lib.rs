//! orders-api: products, orders that never oversell, idempotent writes and
//! expiring stock reservations.
//!
//! What other crates use is named here: the process's parts (`config`,
//! `startup`, `migrate`, `seed`, `openapi`, `metrics`, `sweeper`), the
//! benchmark's database ceiling (`ceiling`), and the queries whose plans the
//! tests check (`plans`). The rest (rules, store, idempotency, routes)
//! stays inside.

pub mod ceiling;
mod codes;
mod commands;
pub mod config;
mod customers;
mod domain;
mod idempotency;
pub mod metrics;
pub mod migrate;
pub mod openapi;
mod routes;
pub mod seed;
pub mod startup;
mod store;
pub mod sweeper;

/// The queries whose plans the tests check (`EXPLAIN`).
pub mod plans {
    pub use crate::store::orders::{list_query, OrderFilter, EXPIRED_SQL};
}
