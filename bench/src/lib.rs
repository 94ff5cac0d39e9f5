//! Reproducible evidence for the order back office's claims: a saga
//! benchmark against the real stack (with a database ceiling and the
//! orchestrator's cold start) and a fault-injection run with invariant checks.

pub mod args;
pub mod ceiling;
pub mod compare;
pub mod load;
pub mod proxy;
pub mod report;
pub mod stack;
