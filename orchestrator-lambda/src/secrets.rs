//! The function's secrets, read from AWS Secrets Manager once per cold start.
//!
//! `APP_SECRET_ARN` names one secret, or several separated by commas, each
//! a JSON object; together they hold at least `SERVICE_TOKEN`, the
//! orchestrator's own token for customers-api (the template's is generated
//! by Secrets Manager). User tokens need no secret: they are checked with
//! the issuer's public keys. A rotated value reaches the function at its
//! next cold start.

use anyhow::anyhow;
use serde::Deserialize;
use serde_json::{Map, Value};

/// What the orchestrator needs from the secrets.
#[derive(Deserialize)]
pub struct AppSecrets {
    #[serde(rename = "SERVICE_TOKEN")]
    pub service_token: String,
}

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecrets(<redacted>)")
    }
}

/// Reads and parses the secret `arn`, or the secrets of a comma-separated
/// list, merged. Errors name the secret and the cause, never a value.
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    arns: &str,
) -> anyhow::Result<AppSecrets> {
    let mut merged = Map::new();
    let arns: Vec<&str> = arns
        .split(',')
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .collect();
    for arn in &arns {
        merged.extend(fetch_object(client, arn).await?);
    }
    let names = arns.join(", ");
    serde_json::from_value(Value::Object(merged)).map_err(|e| {
        // Only serde's "missing field" message is safe to repeat: others may
        // quote a value.
        let message = e.to_string();
        let what = if message.starts_with("missing field") {
            message
        } else {
            "SERVICE_TOKEN must be a string".to_owned()
        };
        anyhow!("the secret {names} is not usable: {what}; expected {{\"SERVICE_TOKEN\": ...}}")
    })
}

async fn fetch_object(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> anyhow::Result<Map<String, Value>> {
    let out = client
        .get_secret_value()
        .secret_id(arn)
        .send()
        .await
        .map_err(|e| {
            anyhow!(
                "could not read the secret {arn} from Secrets Manager: {}",
                aws_sdk_secretsmanager::error::DisplayErrorContext(&e)
            )
        })?;
    let text = out
        .secret_string()
        .ok_or_else(|| anyhow!("the secret {arn} holds no SecretString"))?;
    match serde_json::from_str::<Value>(text) {
        Ok(Value::Object(map)) => Ok(map),
        Ok(_) => Err(anyhow!(
            "the secret {arn} is not usable: not a JSON object; expected {{\"SERVICE_TOKEN\": ...}}"
        )),
        Err(e) => Err(anyhow!(
            "the secret {arn} is not usable: not a JSON object (line {}, column {}); expected {{\"SERVICE_TOKEN\": ...}}",
            e.line(),
            e.column()
        )),
    }
}
