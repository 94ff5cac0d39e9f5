//! What the orchestrator's test binaries share: the committed sample events
//! with a fresh token in place of their `${TOKEN}` placeholder.
#![allow(dead_code)]

use std::time::Duration;

use kit_identity::jwks::JwtVerifier;
use kit_testing::process::{free_port, wait_ready, Proc};
use serde_json::{json, Value};

/// The orchestrator's own token for customers-api (`orchestrator` there).
pub const SERVICE_TOKEN: &str = kit_testing::app::ORCHESTRATOR_TOKEN;
/// orders-api's own token for customers-api (`orders-api` there).
pub const ORDERS_SERVICE_TOKEN: &str = kit_testing::app::SERVICE_TOKEN;
/// The caller of the sample events.
pub const SUBJECT: &str = "ops-user";

/// The verifier the tests' orchestrator uses: the test issuer and
/// audience, as the APIs under test check them.
pub fn users() -> JwtVerifier {
    kit_testing::test_verifier()
}

/// A valid user token for `sub`, with every scope.
pub fn token_for(sub: &str) -> String {
    kit_testing::mint_token(sub, 600, json!({}))
}

/// A committed event with `Bearer ${TOKEN}` replaced by a valid token of
/// `SUBJECT`.
pub fn event(file: &str) -> Value {
    event_as(file, &token_for(SUBJECT))
}

/// A committed event carrying `token`.
pub fn event_as(file: &str, token: &str) -> Value {
    let path = format!("{}/events/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(path).expect("fixture");
    serde_json::from_str(&text.replace("${TOKEN}", token)).expect("json")
}

/// A `moto_server` standing in for AWS (ECS, Secrets Manager), killed when
/// dropped (a `Proc`, as every process of the tests).
pub struct Moto {
    _proc: Proc,
    pub url: String,
}

pub async fn moto() -> Moto {
    let port = free_port().expect("a free port");
    let mut cmd = std::process::Command::new("moto_server");
    cmd.args(["-H", "127.0.0.1", "-p", &port.to_string()]);
    let logs = std::env::temp_dir().join("order-back-office-moto");
    let proc = Proc::spawn(&format!("moto-{port}"), cmd, &logs)
        .expect("moto_server is installed (make setup puts it in .venv/)");
    let url = format!("http://127.0.0.1:{port}");
    wait_ready(
        &reqwest::Client::new(),
        &format!("{url}/moto-api/"),
        Duration::from_secs(10),
    )
    .await
    .expect("moto_server starts");
    Moto { _proc: proc, url }
}

/// The environment that points an AWS SDK (in a child process) at `moto`.
pub fn aws_env(moto: &Moto) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", moto.url.clone()),
        ("AWS_REGION", "us-east-1".into()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_EC2_METADATA_DISABLED", "true".into()),
    ]
}

pub fn secrets_client(moto: &Moto) -> aws_sdk_secretsmanager::Client {
    use aws_sdk_secretsmanager::config::{BehaviorVersion, Credentials, Region};
    let config = aws_sdk_secretsmanager::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .endpoint_url(&moto.url)
        .credentials_provider(Credentials::new("test", "test", None, None, "static"))
        .build();
    aws_sdk_secretsmanager::Client::from_conf(config)
}

/// Stores `value` as a secret named `name`; returns its ARN.
pub async fn put_secret(moto: &Moto, name: &str, value: &str) -> String {
    secrets_client(moto)
        .create_secret()
        .name(name)
        .secret_string(value)
        .send()
        .await
        .unwrap_or_else(|e| {
            panic!(
                "moto stores the secret: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })
        .arn()
        .expect("an ARN")
        .to_owned()
}
