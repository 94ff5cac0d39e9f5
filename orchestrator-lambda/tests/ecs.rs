//! `ecs://cluster/service[:port]` endpoints, resolved against moto_server
//! standing in for ECS. Only addresses are resolved here: nothing connects
//! to the (private, fictitious) task addresses moto hands out.

use kit_client::RetryPolicy;
use std::{process::Command, time::Duration};

use aws_sdk_ecs::config::{BehaviorVersion, Credentials, Region};
use kit_client::Target;
use orchestrator_lambda::endpoint::{resolve_task_ip, Endpoint, EndpointSpec};
use serde_json::Value;

mod common;

use common::{moto, Moto};

/// Runs scripts/moto_ecs.py; returns the running tasks' IPs.
fn script(moto: &Moto, args: &[&str]) -> Vec<String> {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../scripts/moto_ecs.py");
    let out = Command::new("python3")
        .arg(path)
        .arg(&moto.url)
        .args(args)
        .output()
        .expect("python3 runs");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v: Value = serde_json::from_slice(&out.stdout).expect("json");
    v["ips"]
        .as_array()
        .expect("ips")
        .iter()
        .filter_map(|i| i.as_str().map(str::to_owned))
        .collect()
}

fn ecs_client(moto: &Moto) -> aws_sdk_ecs::Client {
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_ecs::Client::from_conf(config)
}

#[tokio::test]
async fn resolves_a_running_task_and_refreshes_after_invalidation() {
    let moto = moto().await;
    let ips = script(&moto, &["setup", "prod", "orders-api", "3002", "2"]);
    assert_eq!(ips.len(), 2, "{ips:?}");
    let client = ecs_client(&moto);

    let ip = resolve_task_ip(&client, "prod", "orders-api")
        .await
        .expect("resolves");
    assert!(ips.contains(&ip), "{ip} not in {ips:?}");

    let spec: EndpointSpec = "ecs://prod/orders-api:3002".parse().expect("spec");
    let endpoint = Endpoint::new(spec, Some(client.clone()));
    let first = endpoint.base().await.expect("base");
    assert!(
        ips.iter().any(|ip| first == format!("http://{ip}:3002")),
        "{first}"
    );

    // The tasks are replaced: the cache answers until it is invalidated.
    let new_ips = script(&moto, &["replace", "prod", "orders-api"]);
    assert_eq!(new_ips.len(), 1);
    assert!(!ips.contains(&new_ips[0]));
    for _ in 0..10 {
        let cached = endpoint.base().await.expect("cached");
        assert!(
            ips.iter().any(|ip| cached == format!("http://{ip}:3002")),
            "{cached} comes from the cache of the old tasks"
        );
    }
    endpoint.invalidate();
    assert_eq!(
        endpoint.base().await.expect("fresh"),
        format!("http://{}:3002", new_ips[0])
    );
}

#[tokio::test]
async fn a_service_without_running_tasks_is_an_error() {
    let moto = moto().await;
    let ips = script(&moto, &["setup", "prod", "customers-api", "3001", "0"]);
    assert!(ips.is_empty());
    let client = ecs_client(&moto);
    let err = resolve_task_ip(&client, "prod", "customers-api")
        .await
        .expect_err("no task");
    assert!(err.to_string().contains("no running task"), "{err}");
    let err = resolve_task_ip(&client, "prod", "nonexistent")
        .await
        .expect_err("no service");
    assert!(!err.to_string().is_empty());
}

#[tokio::test]
async fn a_saga_whose_service_has_no_task_answers_a_clean_502() {
    use orchestrator_lambda::{config::Config, handler, state::AppState};
    let moto = moto().await;
    script(&moto, &["setup", "prod", "customers-api", "3001", "0"]);
    let config = Config {
        console: Default::default(),
        customers: "ecs://prod/customers-api:3001".parse().expect("spec"),
        orders: "ecs://prod/orders-api:3002".parse().expect("spec"),
        users: common::users(),
        service_token: common::SERVICE_TOKEN.into(),
        retry: RetryPolicy {
            attempt_timeout: Duration::from_millis(500),
            max_attempts: 2,
            backoff_base: Duration::from_millis(10),
            backoff_cap: Duration::from_millis(20),
        },
        deadline_margin: Duration::from_millis(100),
        saga_timeout: Duration::from_secs(5),
        compensation_reserve: Duration::from_millis(500),
        aws: None,
    };
    let deps =
        std::sync::Arc::new(AppState::with_ecs(config, Some(ecs_client(&moto))).expect("deps"));
    let event = common::event("create-and-confirm-order.json");
    let req = lambda_http::request::from_str(&event.to_string()).expect("event");
    let res = handler(req, &deps).await.expect("answers");
    assert_eq!(res.status().as_u16(), 502);
    let body: Value = match res.body() {
        lambda_http::Body::Text(t) => serde_json::from_str(t).expect("json"),
        _ => Value::Null,
    };
    assert_eq!(body["error"]["step"], "validate_customer");
    assert_eq!(body["error"]["retriable"], true);
}

/// The ECS API as a fake that counts its calls: a burst of invocations that
/// all miss the cache makes one ListTasks and one DescribeTasks, and an
/// unhealthy task is never called.
#[tokio::test]
async fn a_burst_of_cold_lookups_asks_ecs_once_and_skips_unhealthy_tasks() {
    use wiremock::{matchers, Mock, MockServer, ResponseTemplate};
    let fake = MockServer::start().await;
    let target = |op: &str| {
        matchers::header(
            "x-amz-target",
            format!("AmazonEC2ContainerServiceV20141113.{op}").as_str(),
        )
    };
    let task = |n: u8, health: &str| {
        serde_json::json!({
            "taskArn": format!("arn:aws:ecs:us-east-1:123456789012:task/prod/{n}"),
            "lastStatus": "RUNNING",
            "healthStatus": health,
            "attachments": [{"type": "ElasticNetworkInterface",
                             "details": [{"name": "privateIPv4Address", "value": format!("10.0.0.{n}")}]}]
        })
    };
    Mock::given(target("ListTasks"))
        .respond_with(ResponseTemplate::new(200).set_body_json(serde_json::json!({
            "taskArns": ["arn:aws:ecs:us-east-1:123456789012:task/prod/1",
                         "arn:aws:ecs:us-east-1:123456789012:task/prod/2"]
        })))
        .expect(1)
        .mount(&fake)
        .await;
    Mock::given(target("DescribeTasks"))
        .respond_with(
            ResponseTemplate::new(200).set_body_json(
                serde_json::json!({"tasks": [task(1, "HEALTHY"), task(2, "UNHEALTHY")], "failures": []}),
            ),
        )
        .expect(1)
        .mount(&fake)
        .await;
    let config = aws_sdk_ecs::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(fake.uri())
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    let endpoint = Endpoint::new(
        "ecs://prod/orders-api:3002".parse().expect("spec"),
        Some(aws_sdk_ecs::Client::from_conf(config)),
    );
    let bases = futures_util::future::join_all((0..20).map(|_| endpoint.base())).await;
    for base in bases {
        assert_eq!(base.expect("resolved"), "http://10.0.0.1:3002");
    }
}
