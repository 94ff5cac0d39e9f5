//! What every service of the order back office shares. Without the `server`
//! feature (the orchestrator Lambda), only configuration, correlation ids,
//! token checks, JSON logging and (with `client`) the HTTP client are built.
//!
//! - [`config`]: environment-driven settings (with `.env` support in dev).
//! - [`telemetry`]: JSON log lines stamped with the correlation id of the request.
//! - [`correlation`]: `X-Correlation-Id` in and out, and the id of the request being served.
//! - [`deadline`]: `X-Request-Timeout-Ms` in and out: the caller's budget, kept by every call made for it.
//! - [`invalid`]: what a domain's rules say of an invalid input, free of HTTP.
//! - [`problem`]: RFC 9457 problem documents and the JSON, path and query extractors that emit them.
//! - [`token`]: user tokens and the services' own tokens, checked in constant time.
//! - [`jwks`]: tokens signed with an issuer's asymmetric keys, checked against its key set.
//! - [`scope`]: scopes and roles: what a verified caller may do.
//! - [`auth`]: the same as actix extractors (`Allowed<P>`, `Principal`, `ServiceCaller`).
//! - [`ops`]: `/health`, `/ready`, `/metrics` and the HTTP metrics middleware.
//! - [`conditional`]: entity tags and `If-Match` (412 / 428).
//! - [`pagination`]: `limit` + opaque `cursor` lists.
//! - [`db`]: pool construction and migrations.
//! - [`events`]: each change's record, appended in its transaction, paged back.
//! - [`http`]: the server every service runs, with its middleware and ops routes.
//! - [`client`]: the retrying HTTP client one service calls another with.

pub mod config;
pub mod correlation;
pub mod deadline;
pub mod invalid;
pub mod jwks;
pub mod scope;
pub mod telemetry;
pub mod text;
pub mod token;

#[cfg(feature = "server")]
pub mod auth;
#[cfg(feature = "client")]
pub mod client;
#[cfg(feature = "server")]
pub mod conditional;
#[cfg(feature = "server")]
pub mod db;
#[cfg(feature = "server")]
pub mod events;
#[cfg(feature = "server")]
pub mod http;
#[cfg(feature = "server")]
pub mod ops;
#[cfg(feature = "server")]
pub mod pagination;
#[cfg(feature = "server")]
pub mod problem;

#[cfg(feature = "test-util")]
pub mod testing;
