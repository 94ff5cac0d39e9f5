//! What every process of the order back office starts with, with no web
//! framework: the HTTP services through `kit-server`, the Lambda directly.
//!
//! - [`config`]: settings from the environment (with `.env` support in dev).
//! - [`telemetry`]: JSON log lines stamped with the correlation id of the request.
//! - [`correlation`]: the id of the request being served, readable anywhere in its task.
//! - [`deadline`]: the caller's budget, kept by every call made for it.

pub mod config;
pub mod correlation;
pub mod deadline;
pub mod telemetry;
