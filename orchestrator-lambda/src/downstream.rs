//! Calls to customers-api and orders-api: per-attempt timeouts, retries of
//! what is transient only (connect errors, timeouts, 5xx, 429, 409 in
//! progress) with capped exponential backoff and full jitter, `Retry-After`
//! honoured, and never past the saga's deadline.

use std::time::Duration;

use backon::Retryable;
use reqwest::{header, Method, StatusCode};
use serde_json::Value;
use service_kit::correlation;
use tokio::time::Instant;

use crate::{config::Config, endpoint::Endpoint};

/// Why a call did not produce a success.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The service answered, with an error status.
    Status {
        status: StatusCode,
        code: Option<String>,
        detail: Option<String>,
        retry_after: Option<Duration>,
    },
    /// No answer: refused (`sent == false`), or lost after sending (the
    /// outcome is unknown).
    Transport {
        sent: bool,
        timed_out: bool,
        message: String,
    },
    /// The saga's deadline came first.
    Deadline,
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, code, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || (*status == StatusCode::CONFLICT
                        && code.as_deref() == Some("idempotency_key_in_progress"))
            }
            Self::Transport { .. } => true,
            Self::Deadline => false,
        }
    }

    /// Whether the request may have taken effect without our knowing.
    pub fn outcome_unknown(&self) -> bool {
        match self {
            Self::Transport { sent, .. } => *sent,
            Self::Deadline => true,
            Self::Status { status, .. } => status.is_server_error(),
        }
    }

    /// No answer in time: the deadline, or every attempt's timeout.
    pub fn timed_out(&self) -> bool {
        matches!(
            self,
            Self::Deadline
                | Self::Transport {
                    timed_out: true,
                    ..
                }
        )
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Status { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Status { status, code, .. } => {
                write!(f, "answered {status} ({})", code.as_deref().unwrap_or("-"))
            }
            Self::Transport { message, .. } => write!(f, "{message}"),
            Self::Deadline => write!(f, "the deadline ran out"),
        }
    }
}

/// Capped exponential backoff with full jitter: before retry `n`, sleep a
/// uniformly random time in `[0, min(cap, base * 2^n)]`.
#[derive(Debug, Clone)]
pub struct FullJitter {
    base: Duration,
    cap: Duration,
    retries_left: u32,
    attempt: u32,
}

impl FullJitter {
    pub fn new(base: Duration, cap: Duration, max_attempts: u32) -> Self {
        Self {
            base,
            cap,
            retries_left: max_attempts.saturating_sub(1),
            attempt: 0,
        }
    }
}

impl Iterator for FullJitter {
    type Item = Duration;

    fn next(&mut self) -> Option<Duration> {
        if self.retries_left == 0 {
            return None;
        }
        self.retries_left -= 1;
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.attempt.min(20))
            .min(self.cap);
        self.attempt += 1;
        let millis = u64::try_from(ceiling.as_millis()).unwrap_or(u64::MAX);
        Some(Duration::from_millis(fastrand::u64(0..=millis)))
    }
}

/// One request to make, possibly several times.
pub struct Call<'a> {
    pub endpoint: &'a Endpoint,
    pub method: Method,
    pub path: String,
    pub bearer: &'a str,
    /// The user a service credential acts for (`X-On-Behalf-Of`).
    pub on_behalf_of: Option<&'a str>,
    /// A precondition (`If-Match`).
    pub if_match: Option<&'a str>,
    pub idempotency_key: Option<String>,
    pub body: Option<&'a Value>,
    /// What the log calls this call.
    pub name: &'static str,
}

impl<'a> Call<'a> {
    /// A call with no caller, precondition, key or body.
    pub fn new(
        name: &'static str,
        endpoint: &'a Endpoint,
        method: Method,
        path: String,
        bearer: &'a str,
    ) -> Self {
        Self {
            endpoint,
            method,
            path,
            bearer,
            on_behalf_of: None,
            if_match: None,
            idempotency_key: None,
            body: None,
            name,
        }
    }

    /// A call to orders-api with the service token, for `subject`.
    pub fn orders(
        name: &'static str,
        deps: &'a crate::saga::Deps,
        method: Method,
        path: String,
        subject: &'a str,
    ) -> Self {
        let mut call = Self::new(name, &deps.orders, method, path, &deps.config.service_token);
        call.on_behalf_of = Some(subject);
        call
    }

    pub fn idempotency_key(mut self, key: &str) -> Self {
        self.idempotency_key = Some(key.to_owned());
        self
    }

    pub fn if_match(mut self, tag: &'a str) -> Self {
        self.if_match = Some(tag);
        self
    }

    pub fn body(mut self, body: &'a Value) -> Self {
        self.body = Some(body);
        self
    }
}

fn retry_after(headers: &header::HeaderMap) -> Option<Duration> {
    let secs: u64 = headers
        .get(header::RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(secs.min(30)))
}

/// A successful answer: its body, and whether it was an idempotent replay
/// (`Idempotent-Replayed: true`: stored earlier, so the entity it shows may
/// have changed since).
#[derive(Debug)]
pub struct Answer {
    pub body: Value,
    pub replayed: bool,
}

async fn attempt(
    http: &reqwest::Client,
    call: &Call<'_>,
    per_attempt: Duration,
    deadline: Instant,
) -> Result<Answer, CallError> {
    let remaining = deadline.saturating_duration_since(Instant::now());
    if remaining.is_zero() {
        return Err(CallError::Deadline);
    }
    let base = call
        .endpoint
        .base()
        .await
        .map_err(|e| CallError::Transport {
            sent: false,
            timed_out: false,
            message: format!("{e:#}"),
        })?;
    let mut req = http
        .request(call.method.clone(), format!("{base}{}", call.path))
        .timeout(per_attempt.min(remaining))
        .bearer_auth(call.bearer);
    if let Some(id) = correlation::current() {
        req = req.header(correlation::HEADER_NAME, id.as_str());
    }
    if let Some(subject) = call.on_behalf_of {
        req = req.header(service_kit::token::ON_BEHALF_OF, subject);
    }
    if let Some(tag) = call.if_match {
        req = req.header(reqwest::header::IF_MATCH, tag);
    }
    if let Some(key) = &call.idempotency_key {
        req = req.header("Idempotency-Key", key);
    }
    if let Some(body) = call.body {
        req = req.json(body);
    }
    let res = match req.send().await {
        Ok(res) => res,
        Err(e) => {
            if e.is_connect() {
                call.endpoint.invalidate();
            }
            let timed_out = e.is_timeout();
            let near_deadline = Instant::now()
                .checked_add(Duration::from_millis(5))
                .is_none_or(|t| t >= deadline);
            if timed_out && near_deadline {
                // The attempt was cut short by the saga's deadline.
                return Err(CallError::Deadline);
            }
            let sent = !e.is_connect();
            return Err(CallError::Transport {
                sent,
                timed_out,
                // The error and its causes, for the log (never for an answer).
                message: format!("{}: {:#}", call.name, anyhow::Error::new(e)),
            });
        }
    };
    let status = res.status();
    let after = retry_after(res.headers());
    let replayed = res
        .headers()
        .get("idempotent-replayed")
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let body: Value = match res.json().await {
        Ok(v) => v,
        Err(e) if status.is_success() => {
            return Err(CallError::Transport {
                sent: true,
                timed_out: false,
                message: format!("{}: unreadable answer: {e}", call.name),
            })
        }
        Err(_) => Value::Null,
    };
    if status.is_success() {
        return Ok(Answer { body, replayed });
    }
    Err(CallError::Status {
        status,
        code: body["code"].as_str().map(str::to_owned),
        detail: body["detail"].as_str().map(str::to_owned),
        retry_after: after,
    })
}

/// Makes `call`, retrying what is transient, within `deadline`.
/// [`send_answer`], for its body.
pub async fn send(
    http: &reqwest::Client,
    config: &Config,
    call: Call<'_>,
    deadline: Instant,
) -> Result<Value, CallError> {
    send_answer(http, config, call, deadline)
        .await
        .map(|answer| answer.body)
}

/// Sends `call`, retrying what is transient (capped exponential backoff with
/// full jitter, the server's `Retry-After` as a floor) until `deadline`.
pub async fn send_answer(
    http: &reqwest::Client,
    config: &Config,
    call: Call<'_>,
    deadline: Instant,
) -> Result<Answer, CallError> {
    let backoff = FullJitter::new(config.backoff_base, config.backoff_cap, config.max_attempts);
    let run = (|| attempt(http, &call, config.attempt_timeout, deadline))
        .retry(backoff)
        .when(CallError::is_transient)
        .adjust(|e, planned| {
            // The server's Retry-After is a floor; never sleep past the deadline.
            let wait = match (e, planned) {
                (_, None) => return None,
                (CallError::Status { retry_after: Some(after), .. }, Some(p)) => p.max(*after),
                (_, Some(p)) => p,
            };
            Instant::now()
                .checked_add(wait)
                .is_some_and(|t| t < deadline)
                .then_some(wait)
        })
        .notify(|e, wait| {
            tracing::warn!(call = call.name, error = %e, retry_in_ms = wait.as_millis() as u64, "downstream call failed; retrying");
        });
    match tokio::time::timeout_at(deadline, run).await {
        Ok(result) => result,
        Err(_) => Err(CallError::Deadline),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn full_jitter_stays_under_the_capped_exponential_and_stops() {
        let delays: Vec<Duration> =
            FullJitter::new(Duration::from_millis(100), Duration::from_millis(300), 5).collect();
        assert_eq!(delays.len(), 4);
        let ceilings = [100, 200, 300, 300];
        for (d, c) in delays.iter().zip(ceilings) {
            assert!(*d <= Duration::from_millis(c), "{d:?} > {c}ms");
        }
        assert_eq!(
            FullJitter::new(Duration::from_millis(1), Duration::from_millis(1), 1).count(),
            0
        );
    }

    #[test]
    fn only_transient_failures_are_retried() {
        let status = |s: u16, code: Option<&str>| CallError::Status {
            status: StatusCode::from_u16(s).unwrap_or(StatusCode::IM_A_TEAPOT),
            code: code.map(str::to_owned),
            detail: None,
            retry_after: None,
        };
        assert!(status(503, None).is_transient());
        assert!(status(500, None).is_transient());
        assert!(status(429, None).is_transient());
        assert!(status(409, Some("idempotency_key_in_progress")).is_transient());
        assert!(!status(409, Some("insufficient_stock")).is_transient());
        assert!(!status(404, None).is_transient());
        assert!(!status(422, Some("product_not_found")).is_transient());
        assert!(CallError::Transport {
            sent: false,
            timed_out: false,
            message: String::new()
        }
        .is_transient());
        assert!(!CallError::Deadline.is_transient());
    }
}
