//! The function's secrets, read from AWS Secrets Manager once per cold start.
//!
//! The secret named by `APP_SECRET_ARN` is a JSON object holding at least
//! `JWT_SECRET` and `SERVICE_TOKEN` (the template's `AppSecret`, which the
//! ECS tasks read too). A rotated value reaches the function at its next
//! cold start.

use anyhow::anyhow;
use serde::Deserialize;

/// What the orchestrator needs from the secret.
#[derive(Deserialize)]
pub struct AppSecrets {
    #[serde(rename = "JWT_SECRET")]
    pub jwt_secret: String,
    #[serde(rename = "SERVICE_TOKEN")]
    pub service_token: String,
}

impl std::fmt::Debug for AppSecrets {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AppSecrets(<redacted>)")
    }
}

/// Reads and parses the secret `arn`. Errors name the secret and the cause,
/// never a value.
pub async fn fetch(
    client: &aws_sdk_secretsmanager::Client,
    arn: &str,
) -> anyhow::Result<AppSecrets> {
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
    serde_json::from_str(text).map_err(|e| {
        // Only serde's "missing field" message is safe to repeat: others may
        // quote a value.
        let message = e.to_string();
        let what = if message.starts_with("missing field") {
            message
        } else if e.is_data() {
            "JWT_SECRET and SERVICE_TOKEN must be strings".to_owned()
        } else {
            format!("not a JSON object (line {}, column {})", e.line(), e.column())
        };
        anyhow!(
            "the secret {arn} is not usable: {what}; expected {{\"JWT_SECRET\": ..., \"SERVICE_TOKEN\": ...}}"
        )
    })
}
