//! The HTTP services' server kit, on actix-web. Identity comes from
//! `kit-identity`, settings, logs and the request's context from
//! `kit-runtime`; this crate turns them into middleware and extractors.
//!
//! - [`http`]: the server every service runs, with its middleware and ops routes.
//! - [`problem`]: RFC 9457 problem documents and the JSON, path and query extractors that emit them.
//! - [`auth`]: credentials as extractors (`Allowed<P>`, `Principal`, `ServiceCaller`).
//! - [`ops`]: `/health`, `/ready`, `/metrics` and the HTTP metrics middleware.
//! - [`conditional`]: entity tags and `If-Match` (412 / 428).
//! - [`pagination`]: `limit` + opaque `cursor` lists.
//! - [`db`]: pool construction and migrations.
//! - [`events`]: each change's record, appended in its transaction, paged back.
//! - [`correlation`], [`deadline`], [`telemetry`]: the server's half of the
//!   request's context (`X-Correlation-Id`, `X-Request-Timeout-Ms`, the root span).

pub mod auth;
pub mod conditional;
pub mod correlation;
pub mod db;
pub mod deadline;
pub mod events;
pub mod http;
pub mod ops;
pub mod pagination;
pub mod problem;
pub mod telemetry;

pub use kit_runtime::config;
