//! Where a downstream service is: a plain URL, or `ecs://cluster/service[:port]`
//! resolved through ECS (ListTasks + DescribeTasks → a RUNNING task's private
//! IPv4), cached, and refreshed when a connection to it fails.

use std::{
    str::FromStr,
    sync::Mutex,
    time::{Duration, Instant},
};

use anyhow::{anyhow, Context};
use aws_sdk_ecs::types::{DesiredStatus, HealthStatus};
use kit_client::Target;

#[derive(Clone, Debug, PartialEq, Eq)]
pub enum EndpointSpec {
    Url(String),
    Ecs {
        cluster: String,
        service: String,
        port: u16,
    },
}

impl FromStr for EndpointSpec {
    type Err = anyhow::Error;

    fn from_str(raw: &str) -> anyhow::Result<Self> {
        let raw = raw.trim();
        if let Some(rest) = raw.strip_prefix("ecs://") {
            let (cluster, service) = rest
                .split_once('/')
                .ok_or_else(|| anyhow!("{raw}: expected ecs://<cluster>/<service>[:<port>]"))?;
            let (service, port) = match service.split_once(':') {
                Some((s, p)) => (
                    s,
                    p.parse::<u16>()
                        .with_context(|| format!("{raw}: bad port"))?,
                ),
                None => (service, 80),
            };
            if cluster.is_empty() || service.is_empty() || service.contains('/') {
                return Err(anyhow!(
                    "{raw}: expected ecs://<cluster>/<service>[:<port>]"
                ));
            }
            return Ok(Self::Ecs {
                cluster: cluster.to_owned(),
                service: service.to_owned(),
                port,
            });
        }
        if raw.starts_with("http://") || raw.starts_with("https://") {
            return Ok(Self::Url(raw.trim_end_matches('/').to_owned()));
        }
        Err(anyhow!(
            "{raw}: expected an http(s) URL or ecs://<cluster>/<service>[:<port>]"
        ))
    }
}

/// How long resolved ECS addresses are trusted without a failure, before
/// jitter (each refresh picks 80% to 120% of it, so that instances started
/// together do not refresh together).
const CACHE_TTL: Duration = Duration::from_secs(60);

/// A resolvable endpoint, with its cache.
pub struct Endpoint {
    spec: EndpointSpec,
    ecs: Option<aws_sdk_ecs::Client>,
    /// The healthy tasks' base URLs, and until when they are trusted.
    cached: Mutex<Option<(Vec<String>, Instant)>>,
    /// One refresh at a time per instance: concurrent invocations that miss
    /// the cache wait for it instead of each asking ECS.
    refreshing: tokio::sync::Mutex<()>,
}

impl Endpoint {
    pub fn new(spec: EndpointSpec, ecs: Option<aws_sdk_ecs::Client>) -> Self {
        Self {
            spec,
            ecs,
            cached: Mutex::new(None),
            refreshing: tokio::sync::Mutex::new(()),
        }
    }

    /// A cached URL, a random one of the healthy tasks, while still trusted.
    fn cached_url(&self) -> Option<String> {
        let guard = self.cached.lock().ok()?;
        let (urls, until) = guard.as_ref()?;
        (Instant::now() < *until && !urls.is_empty())
            .then(|| urls[fastrand::usize(..urls.len())].clone())
    }
}

impl Target for Endpoint {
    /// The base URL to call now.
    async fn base(&self) -> anyhow::Result<String> {
        let (cluster, service, port) = match &self.spec {
            EndpointSpec::Url(url) => return Ok(url.clone()),
            EndpointSpec::Ecs {
                cluster,
                service,
                port,
            } => (cluster, service, port),
        };
        if let Some(url) = self.cached_url() {
            return Ok(url);
        }
        let _refresh = self.refreshing.lock().await;
        // Another invocation may have refreshed while this one waited.
        if let Some(url) = self.cached_url() {
            return Ok(url);
        }
        let client = self
            .ecs
            .as_ref()
            .ok_or_else(|| anyhow!("no ECS client configured"))?;
        let ips = resolve_task_ips(client, cluster, service).await?;
        let urls: Vec<String> = ips.iter().map(|ip| format!("http://{ip}:{port}")).collect();
        tracing::info!(cluster = %cluster, service = %service, tasks = urls.len(), "resolved ECS service");
        let ttl = CACHE_TTL.mul_f64(0.8 + 0.4 * fastrand::f64());
        let url = urls[fastrand::usize(..urls.len())].clone();
        if let Ok(mut guard) = self.cached.lock() {
            *guard = Instant::now().checked_add(ttl).map(|until| (urls, until));
        }
        Ok(url)
    }

    /// Forgets the cached addresses (after a connection to one failed).
    fn invalidate(&self) {
        if let Ok(mut guard) = self.cached.lock() {
            *guard = None;
        }
    }
}

/// The private IPv4 of a RUNNING task of `service` (a random one when several
/// run, which spreads the load).
pub async fn resolve_task_ip(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> anyhow::Result<String> {
    let ips = resolve_task_ips(client, cluster, service).await?;
    Ok(ips[fastrand::usize(..ips.len())].clone())
}

/// The private IPv4s of the RUNNING tasks of `service` that are not
/// reported unhealthy (a task without a health check counts as healthy).
/// Never empty.
pub async fn resolve_task_ips(
    client: &aws_sdk_ecs::Client,
    cluster: &str,
    service: &str,
) -> anyhow::Result<Vec<String>> {
    let listed = client
        .list_tasks()
        .cluster(cluster)
        .service_name(service)
        .desired_status(DesiredStatus::Running)
        .send()
        .await
        .context("ecs:ListTasks failed")?;
    let arns = listed.task_arns();
    if arns.is_empty() {
        return Err(anyhow!(
            "service {service} in cluster {cluster} has no running task"
        ));
    }
    let described = client
        .describe_tasks()
        .cluster(cluster)
        .set_tasks(Some(arns.to_vec()))
        .send()
        .await
        .context("ecs:DescribeTasks failed")?;
    let ips: Vec<String> = described
        .tasks()
        .iter()
        .filter(|t| t.last_status() == Some("RUNNING"))
        .filter(|t| t.health_status() != Some(&HealthStatus::Unhealthy))
        .flat_map(|t| t.attachments())
        .flat_map(|a| a.details())
        .filter(|d| d.name() == Some("privateIPv4Address"))
        .filter_map(|d| d.value().map(str::to_owned))
        .collect();
    if ips.is_empty() {
        return Err(anyhow!(
            "service {service} in cluster {cluster} has no healthy RUNNING task with a private IPv4"
        ));
    }
    Ok(ips)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_urls_and_ecs_specs() {
        assert_eq!(
            "http://localhost:3001/".parse::<EndpointSpec>().ok(),
            Some(EndpointSpec::Url("http://localhost:3001".into()))
        );
        assert_eq!(
            "ecs://prod/orders-api:3002".parse::<EndpointSpec>().ok(),
            Some(EndpointSpec::Ecs {
                cluster: "prod".into(),
                service: "orders-api".into(),
                port: 3002
            })
        );
        assert_eq!(
            "ecs://prod/customers".parse::<EndpointSpec>().ok(),
            Some(EndpointSpec::Ecs {
                cluster: "prod".into(),
                service: "customers".into(),
                port: 80
            })
        );
        for bad in [
            "ecs://prod",
            "ecs:///svc",
            "ecs://prod/svc:99999",
            "ftp://x",
            "localhost:3001",
            "ecs://a/b/c",
        ] {
            assert!(bad.parse::<EndpointSpec>().is_err(), "{bad}");
        }
    }
}
