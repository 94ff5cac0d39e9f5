//! A fault-injecting HTTP/1.1 proxy: forwards each request to the upstream,
//! or, by draw, answers 500 before or after forwarding, holds the request
//! beyond the caller's timeout, or drops the connection before or after
//! forwarding (so the work may be done and the answer lost).

use std::{
    collections::BTreeMap,
    sync::{
        atomic::{AtomicBool, AtomicU64, Ordering},
        Arc,
    },
    time::Duration,
};

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper::{body::Incoming, server::conn::http1, service::service_fn, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

/// The chance of each fault, per request (the rest are forwarded untouched).
#[derive(Debug, Clone, Copy)]
pub struct Rates {
    pub error_before: f64,
    pub error_after: f64,
    pub delay: f64,
    pub drop_before: f64,
    pub drop_after: f64,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Fault {
    ErrorBefore,
    ErrorAfter,
    Delay,
    DropBefore,
    DropAfter,
}

impl Fault {
    const ALL: [Fault; 5] = [
        Fault::ErrorBefore,
        Fault::ErrorAfter,
        Fault::Delay,
        Fault::DropBefore,
        Fault::DropAfter,
    ];

    fn label(self) -> &'static str {
        match self {
            Fault::ErrorBefore => "500 instead of forwarding",
            Fault::ErrorAfter => "500 after forwarding (work done, answer lost)",
            Fault::Delay => "held beyond the caller's timeout, then forwarded",
            Fault::DropBefore => "connection dropped before forwarding",
            Fault::DropAfter => "connection dropped after forwarding (work done, answer lost)",
        }
    }
}

pub struct Faults {
    pub enabled: AtomicBool,
    rates: Rates,
    delay: Duration,
    forwarded: AtomicU64,
    counts: [AtomicU64; 5],
}

impl Faults {
    pub fn new(rates: Rates, delay: Duration) -> Arc<Self> {
        Arc::new(Self {
            enabled: AtomicBool::new(true),
            rates,
            delay,
            forwarded: AtomicU64::new(0),
            counts: Default::default(),
        })
    }

    fn draw(&self) -> Option<Fault> {
        if !self.enabled.load(Ordering::Relaxed) {
            return None;
        }
        let r = &self.rates;
        let mut x = fastrand::f64();
        for (fault, rate) in Fault::ALL.into_iter().zip([
            r.error_before,
            r.error_after,
            r.delay,
            r.drop_before,
            r.drop_after,
        ]) {
            if x < rate {
                self.counts[fault as usize].fetch_add(1, Ordering::Relaxed);
                return Some(fault);
            }
            x -= rate;
        }
        None
    }

    /// Every request held `delay`, then forwarded: a slow upstream, once
    /// `enabled` (it starts disabled).
    pub fn slow(delay: Duration) -> Arc<Self> {
        let rates = Rates {
            error_before: 0.0,
            error_after: 0.0,
            delay: 1.0,
            drop_before: 0.0,
            drop_after: 0.0,
        };
        let faults = Self::new(rates, delay);
        faults.enabled.store(false, Ordering::Relaxed);
        faults
    }

    /// How many requests met each fault, and how many went through untouched.
    pub fn counts(&self) -> BTreeMap<String, u64> {
        let mut out: BTreeMap<String, u64> = Fault::ALL
            .into_iter()
            .map(|f| {
                (
                    f.label().to_owned(),
                    self.counts[f as usize].load(Ordering::Relaxed),
                )
            })
            .collect();
        out.insert(
            "forwarded untouched".into(),
            self.forwarded.load(Ordering::Relaxed),
        );
        out
    }
}

const HOP_BY_HOP: &[&str] = &[
    "connection",
    "keep-alive",
    "transfer-encoding",
    "content-length",
    "host",
    "upgrade",
];

async fn forward(
    client: &reqwest::Client,
    upstream: &str,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, anyhow::Error> {
    let (parts, body) = req.into_parts();
    let body = body.collect().await?.to_bytes();
    let path = parts.uri.path_and_query().map_or("/", |p| p.as_str());
    let method = reqwest::Method::from_bytes(parts.method.as_str().as_bytes())?;
    let mut out = client
        .request(method, format!("{upstream}{path}"))
        .body(body);
    for (name, value) in &parts.headers {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            out = out.header(name.as_str(), value.as_bytes());
        }
    }
    let res = out.send().await?;
    let mut builder = Response::builder().status(res.status().as_u16());
    for (name, value) in res.headers() {
        if !HOP_BY_HOP.contains(&name.as_str()) {
            builder = builder.header(name.as_str(), value.as_bytes());
        }
    }
    let bytes = res.bytes().await?;
    Ok(builder.body(Full::new(bytes))?)
}

fn injected_500() -> Response<Full<Bytes>> {
    let mut res = Response::new(Full::new(Bytes::from_static(
        br#"{"type":"about:blank","title":"Injected fault","status":500,"code":"injected_fault"}"#,
    )));
    *res.status_mut() = hyper::StatusCode::INTERNAL_SERVER_ERROR;
    res.headers_mut().insert(
        hyper::header::CONTENT_TYPE,
        hyper::header::HeaderValue::from_static("application/problem+json"),
    );
    res
}

/// Returned by the service to make hyper drop the connection unanswered.
#[derive(Debug)]
struct Dropped;

impl std::fmt::Display for Dropped {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("connection dropped by fault injection")
    }
}

impl std::error::Error for Dropped {}

async fn handle(
    client: reqwest::Client,
    upstream: Arc<str>,
    faults: Arc<Faults>,
    req: Request<Incoming>,
) -> Result<Response<Full<Bytes>>, Dropped> {
    let fault = faults.draw();
    match fault {
        Some(Fault::ErrorBefore) => return Ok(injected_500()),
        Some(Fault::DropBefore) => return Err(Dropped),
        Some(Fault::Delay) => tokio::time::sleep(faults.delay).await,
        _ => {}
    }
    let res = match forward(&client, &upstream, req).await {
        Ok(res) => res,
        // The upstream is down (killed): the caller sees a reset, as it would.
        Err(_) => return Err(Dropped),
    };
    match fault {
        Some(Fault::ErrorAfter) => Ok(injected_500()),
        Some(Fault::DropAfter) => Err(Dropped),
        _ => {
            if fault.is_none() {
                faults.forwarded.fetch_add(1, Ordering::Relaxed);
            }
            Ok(res)
        }
    }
}

/// Serves the proxy on `listener` until the task is dropped.
pub async fn serve(listener: TcpListener, upstream: String, faults: Arc<Faults>) {
    let client = reqwest::Client::builder()
        .tcp_nodelay(true)
        .pool_max_idle_per_host(64)
        .build()
        .unwrap_or_default();
    let upstream: Arc<str> = upstream.into();
    loop {
        let Ok((stream, _)) = listener.accept().await else {
            continue;
        };
        let _ = stream.set_nodelay(true);
        let (client, upstream, faults) =
            (client.clone(), Arc::clone(&upstream), Arc::clone(&faults));
        tokio::spawn(async move {
            let service = service_fn(move |req| {
                handle(
                    client.clone(),
                    Arc::clone(&upstream),
                    Arc::clone(&faults),
                    req,
                )
            });
            let _ = http1::Builder::new()
                .serve_connection(TokioIo::new(stream), service)
                .await;
        });
    }
}
