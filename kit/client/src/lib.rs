//! The one HTTP client between the services, with one retry policy: a
//! timeout per attempt, retries of what is transient only (connect errors,
//! timeouts, 5xx, 429, and 409 `idempotency_key_in_progress`) with capped
//! exponential backoff and full jitter, the server's `Retry-After` as a
//! floor, never past the caller's deadline. Answers are read into the
//! [`contracts`] types; problem documents into [`CallError::Status`].

use std::{future::Future, time::Duration};

use backon::Retryable;
use contracts::Code;
use reqwest::{header, Method, StatusCode};
use serde::{de::DeserializeOwned, Deserialize, Serialize};
use tokio::time::Instant;

use kit_runtime::correlation;

/// Why a call did not produce a success.
#[derive(Debug, Clone)]
pub enum CallError {
    /// The service answered, with an error status.
    Status {
        status: StatusCode,
        /// The problem document's `code`, as sent.
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
    /// The caller's deadline came first.
    Deadline,
}

impl CallError {
    pub fn is_transient(&self) -> bool {
        match self {
            Self::Status { status, .. } => {
                status.is_server_error()
                    || *status == StatusCode::TOO_MANY_REQUESTS
                    || (*status == StatusCode::CONFLICT
                        && self.code() == Some(Code::IdempotencyKeyInProgress))
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

    /// The answer's problem code, when it is one callers act on.
    pub fn code(&self) -> Option<Code> {
        match self {
            Self::Status { code, .. } => code.as_deref().and_then(Code::parse),
            _ => None,
        }
    }

    pub fn status(&self) -> Option<StatusCode> {
        match self {
            Self::Status { status, .. } => Some(*status),
            _ => None,
        }
    }

    /// The answer's `detail`, or `fallback`.
    pub fn detail_or(&self, fallback: &str) -> String {
        match self {
            Self::Status {
                detail: Some(d), ..
            } => d.clone(),
            _ => fallback.to_owned(),
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

impl std::error::Error for CallError {}

/// How long one attempt may take and how attempts are spaced.
#[derive(Debug, Clone, Copy)]
pub struct RetryPolicy {
    /// Longest wait for one attempt.
    pub attempt_timeout: Duration,
    /// Attempts per call, the first included.
    pub max_attempts: u32,
    /// First backoff ceiling; doubles per attempt.
    pub backoff_base: Duration,
    /// Backoff cap.
    pub backoff_cap: Duration,
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

/// Where a service is: its base URL (`http://host:port`, no trailing
/// slash), found again after a connect error when it can move.
pub trait Target: Sync {
    fn base(&self) -> impl Future<Output = anyhow::Result<String>> + Send;

    /// A connection to the base just failed.
    fn invalidate(&self) {}
}

/// A service at a fixed address.
#[derive(Debug, Clone)]
pub struct BaseUrl(String);

impl BaseUrl {
    pub fn new(raw: &str) -> Self {
        Self(raw.trim_end_matches('/').to_owned())
    }
}

impl Target for BaseUrl {
    async fn base(&self) -> anyhow::Result<String> {
        Ok(self.0.clone())
    }
}

/// One request to make, possibly several times, with a JSON body `B`.
pub struct Request<'a, B: ?Sized = ()> {
    /// What the log calls this call.
    pub name: &'static str,
    pub method: Method,
    pub path: String,
    pub bearer: &'a str,
    /// A precondition (`If-Match`).
    pub if_match: Option<&'a str>,
    pub idempotency_key: Option<&'a str>,
    pub body: Option<&'a B>,
}

impl<'a> Request<'a> {
    /// A request with no precondition, key or body; `bearer` empty: with
    /// no credential at all (an open route).
    pub fn new(name: &'static str, method: Method, path: String, bearer: &'a str) -> Self {
        Self {
            name,
            method,
            path,
            bearer,
            if_match: None,
            idempotency_key: None,
            body: None,
        }
    }

    /// With `body`, sent as JSON.
    pub fn json<B: Serialize + ?Sized>(self, body: &'a B) -> Request<'a, B> {
        Request {
            name: self.name,
            method: self.method,
            path: self.path,
            bearer: self.bearer,
            if_match: self.if_match,
            idempotency_key: self.idempotency_key,
            body: Some(body),
        }
    }
}

impl<'a, B: ?Sized> Request<'a, B> {
    pub fn idempotency_key(mut self, key: &'a str) -> Self {
        self.idempotency_key = Some(key);
        self
    }

    pub fn if_match(mut self, tag: &'a str) -> Self {
        self.if_match = Some(tag);
        self
    }
}

/// A successful answer: its body, and whether it was an idempotent replay
/// (`Idempotent-Replayed: true`: stored earlier, so the entity it shows may
/// have changed since).
#[derive(Debug)]
pub struct Answer<T> {
    pub body: T,
    pub replayed: bool,
}

/// What a caller reads of a problem document.
#[derive(Deserialize)]
struct ProblemFields {
    code: Option<String>,
    detail: Option<String>,
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

/// The HTTP client and its retry policy; cheap to clone.
#[derive(Clone)]
pub struct Client {
    http: reqwest::Client,
    policy: RetryPolicy,
}

impl Client {
    pub fn new(policy: RetryPolicy) -> anyhow::Result<Self> {
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_millis(500))
            .pool_idle_timeout(Duration::from_secs(60))
            .pool_max_idle_per_host(64)
            .tcp_nodelay(true)
            .build()?;
        Ok(Self { http, policy })
    }

    /// Sends `req` to `target`, retrying what is transient until
    /// `deadline` (or the deadline of the request being served, when that
    /// comes first: [`kit_runtime::deadline`]), and reads the successful answer as
    /// a `T`. Each attempt tells the callee how long it will wait.
    pub async fn send<T, B>(
        &self,
        target: &impl Target,
        req: &Request<'_, B>,
        deadline: Instant,
    ) -> Result<Answer<T>, CallError>
    where
        T: DeserializeOwned,
        B: Serialize + ?Sized + Sync,
    {
        let deadline = kit_runtime::deadline::earliest(deadline);
        let p = self.policy;
        let backoff = FullJitter::new(p.backoff_base, p.backoff_cap, p.max_attempts);
        let run = (|| async { read_answer(req.name, self.attempt(target, req, deadline).await?).await })
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
                tracing::warn!(call = req.name, error = %e, retry_in_ms = wait.as_millis() as u64, "downstream call failed; retrying");
            });
        match tokio::time::timeout_at(deadline, run).await {
            Ok(result) => result,
            Err(_) => Err(CallError::Deadline),
        }
    }

    /// One attempt: the response, whatever its status.
    async fn attempt<B: Serialize + ?Sized + Sync>(
        &self,
        target: &impl Target,
        req: &Request<'_, B>,
        deadline: Instant,
    ) -> Result<reqwest::Response, CallError> {
        let remaining = deadline.saturating_duration_since(Instant::now());
        if remaining.is_zero() {
            return Err(CallError::Deadline);
        }
        let base = target.base().await.map_err(|e| CallError::Transport {
            sent: false,
            timed_out: false,
            message: format!("{e:#}"),
        })?;
        self.request(&base, req, self.policy.attempt_timeout.min(remaining))
            .send()
            .await
            .map_err(|e| transport_error(target, req.name, e, deadline))
    }

    fn request<B>(
        &self,
        base: &str,
        req: &Request<'_, B>,
        timeout: Duration,
    ) -> reqwest::RequestBuilder
    where
        B: Serialize + ?Sized,
    {
        let mut builder = self
            .http
            .request(req.method.clone(), format!("{base}{}", req.path))
            .timeout(timeout)
            // How long this attempt will wait: the callee's deadline.
            .header(
                kit_runtime::deadline::HEADER_NAME,
                kit_runtime::deadline::header_value(timeout),
            );
        // An open route (a readiness check) is asked with no credential.
        if !req.bearer.is_empty() {
            builder = builder.bearer_auth(req.bearer);
        }
        if let Some(id) = correlation::current() {
            builder = builder.header(correlation::HEADER_NAME, id.as_str());
        }
        if let Some(tag) = req.if_match {
            builder = builder.header(header::IF_MATCH, tag);
        }
        if let Some(key) = req.idempotency_key {
            builder = builder.header(contracts::headers::IDEMPOTENCY_KEY, key);
        }
        if let Some(body) = req.body {
            builder = builder.json(body);
        }
        builder
    }
}

/// A request that got no answer, classified.
fn transport_error(
    target: &impl Target,
    name: &str,
    e: reqwest::Error,
    deadline: Instant,
) -> CallError {
    if e.is_connect() {
        target.invalidate();
    }
    let timed_out = e.is_timeout();
    let near_deadline = Instant::now()
        .checked_add(Duration::from_millis(5))
        .is_none_or(|t| t >= deadline);
    if timed_out && near_deadline {
        // The attempt was cut short by the caller's deadline.
        return CallError::Deadline;
    }
    CallError::Transport {
        sent: !e.is_connect(),
        timed_out,
        // The error and its causes, for the log (never for an answer).
        message: format!("{name}: {:#}", anyhow::Error::new(e)),
    }
}

/// A success read as a `T`, or the problem document of a failure.
async fn read_answer<T: DeserializeOwned>(
    name: &str,
    res: reqwest::Response,
) -> Result<Answer<T>, CallError> {
    let status = res.status();
    let after = retry_after(res.headers());
    let replayed = res
        .headers()
        .get(contracts::headers::IDEMPOTENT_REPLAYED)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"true"));
    let unreadable = |what: String| CallError::Transport {
        sent: true,
        timed_out: false,
        message: format!("{name}: unreadable answer: {what}"),
    };
    let bytes = match res.bytes().await {
        Ok(bytes) => bytes,
        Err(e) if status.is_success() => return Err(unreadable(e.to_string())),
        Err(_) => Default::default(),
    };
    if status.is_success() {
        return serde_json::from_slice(&bytes)
            .map(|body| Answer { body, replayed })
            .map_err(|e| unreadable(e.to_string()));
    }
    let problem = serde_json::from_slice::<ProblemFields>(&bytes).ok();
    let (code, detail) = problem.map_or((None, None), |p| (p.code, p.detail));
    Err(CallError::Status {
        status,
        code,
        detail,
        retry_after: after,
    })
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
        let status = |s: u16, code: Option<Code>| CallError::Status {
            status: StatusCode::from_u16(s).unwrap_or(StatusCode::IM_A_TEAPOT),
            code: code.map(|c| c.as_str().to_owned()),
            detail: None,
            retry_after: None,
        };
        assert!(status(503, None).is_transient());
        assert!(status(500, None).is_transient());
        assert!(status(429, None).is_transient());
        assert!(status(409, Some(Code::IdempotencyKeyInProgress)).is_transient());
        assert!(!status(409, Some(Code::InsufficientStock)).is_transient());
        assert!(!status(404, None).is_transient());
        assert!(!status(422, Some(Code::ProductNotFound)).is_transient());
        assert!(CallError::Transport {
            sent: false,
            timed_out: false,
            message: String::new()
        }
        .is_transient());
        assert!(!CallError::Deadline.is_transient());
    }
}
