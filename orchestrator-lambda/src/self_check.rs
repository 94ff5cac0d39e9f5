//! `GET /orchestrator/self-check`: what a new version of the function runs
//! before it takes traffic (template.yaml's `PreTrafficHook` invokes that
//! version directly with this route; the HTTP API has no route to it, so no
//! caller from outside reaches it).
//!
//! It answers 200 when the version can do its work: customers-api and
//! orders-api are ready (each has its database), and customers-api accepts
//! the function's own credential for a read (`/internal/customers/1`: the
//! customer or a 404, either way an authenticated read answered). Else 503,
//! naming each check and the status it got, never an error's text. It
//! writes nothing. (orders-api takes user tokens only, and no component
//! holds one: its readiness is what is checked there.)

use std::time::Duration;

use axum::http::{Method, StatusCode};
use kit_client::{CallError, Request};
use serde::Serialize;
use tokio::time::Instant;

use crate::{endpoint::Endpoint, saga::Deps};

pub const PATH: &str = "/orchestrator/self-check";

/// How long the whole check may take (the hook waits for it).
const BUDGET: Duration = Duration::from_secs(10);

/// One check's outcome.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    /// The status the downstream answered (none: it could not be reached in time).
    pub status: Option<u16>,
}

/// The checks' report.
#[derive(Debug, Serialize)]
pub struct Report {
    pub status: &'static str,
    pub checks: Vec<Check>,
}

impl Report {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.ok)
    }
}

/// Runs every check (all of them, in order, even after one fails).
pub async fn run(deps: &Deps) -> Report {
    let deadline = Instant::now() + BUDGET;
    let checks = vec![
        ready(deps, "customers-api ready", &deps.customers, deadline).await,
        ready(deps, "orders-api ready", &deps.orders, deadline).await,
        customer_read(deps, deadline).await,
    ];
    let status = if checks.iter().all(|c| c.ok) {
        "ok"
    } else {
        "failed"
    };
    Report { status, checks }
}

async fn ready(deps: &Deps, name: &'static str, to: &Endpoint, deadline: Instant) -> Check {
    let req = Request::new(name, Method::GET, "/ready".into(), "");
    let answer = deps
        .client
        .send::<serde_json::Value, ()>(to, &req, deadline)
        .await;
    outcome(name, answer.map(|_| ()), &[])
}

/// An authenticated read: the function's service token on customers-api.
async fn customer_read(deps: &Deps, deadline: Instant) -> Check {
    let name = "customers-api authenticated read";
    let req = Request::new(
        name,
        Method::GET,
        "/internal/customers/1".into(),
        &deps.service_token,
    );
    let answer = deps
        .client
        .send::<serde_json::Value, ()>(&deps.customers, &req, deadline)
        .await;
    // No customer 1 is still a read that was let in.
    outcome(name, answer.map(|_| ()), &[StatusCode::NOT_FOUND])
}

fn outcome(name: &'static str, answer: Result<(), CallError>, also_ok: &[StatusCode]) -> Check {
    match answer {
        Ok(()) => Check {
            name,
            ok: true,
            status: Some(200),
        },
        Err(e) => {
            let status = e.status();
            let ok = status.is_some_and(|s| also_ok.contains(&s));
            if !ok {
                tracing::warn!(check = name, error = %e, "self-check failed");
            }
            Check {
                name,
                ok,
                status: status.map(|s| s.as_u16()),
            }
        }
    }
}
