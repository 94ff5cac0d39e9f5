//! The function's secrets come from Secrets Manager (moto_server standing in
//! for it) at cold start; a missing or broken secret fails the cold start
//! with a clear log line, never a panic.

use std::process::Command;

use orchestrator_lambda::secrets;

mod common;
use common::{aws_env, moto, put_secret, Moto};

#[tokio::test]
async fn the_secret_is_read_and_parsed() {
    let moto = moto().await;
    let arn = put_secret(
        &moto,
        "order-back-office-test",
        r#"{"DATABASE_URL":"mysql://u:p@db:3306/x","SERVICE_TOKEN":"svc-from-secrets-manager-0123456789"}"#,
    )
    .await;
    let got = secrets::fetch(&common::secrets_client(&moto), &arn)
        .await
        .expect("read");
    assert_eq!(got.service_token, "svc-from-secrets-manager-0123456789");
    assert!(!format!("{got:?}").contains("from-secrets-manager"));
}

/// `APP_SECRET_ARN` may list several secrets: they are merged.
#[tokio::test]
async fn two_secrets_are_read_and_merged() {
    let moto = moto().await;
    let jwt = put_secret(
        &moto,
        "other",
        r#"{"OTHER":"other-from-secrets-manager-0123456789"}"#,
    )
    .await;
    let svc = put_secret(
        &moto,
        "svc",
        r#"{"SERVICE_TOKEN":"svc-from-secrets-manager-0123456789"}"#,
    )
    .await;
    let client = common::secrets_client(&moto);
    let got = secrets::fetch(&client, &format!("{jwt}, {svc}"))
        .await
        .expect("read");
    assert_eq!(got.service_token, "svc-from-secrets-manager-0123456789");
    let text = format!(
        "{:#}",
        secrets::fetch(&client, &jwt).await.expect_err("half")
    );
    assert!(text.contains("missing field `SERVICE_TOKEN`"), "{text}");
    assert!(!text.contains("from-secrets-manager"), "{text}");
}

#[tokio::test]
async fn a_missing_or_broken_secret_is_a_clear_error_without_its_value() {
    let moto = moto().await;
    let client = common::secrets_client(&moto);
    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:nope-AbCdEf";
    let e = secrets::fetch(&client, missing).await.expect_err("missing");
    let text = format!("{e:#}");
    assert!(
        text.contains("could not read the secret") && text.contains(missing),
        "{text}"
    );

    let no_token = put_secret(
        &moto,
        "no-token",
        r#"{"OTHER":"top-secret-value-0123456789"}"#,
    )
    .await;
    let text = format!(
        "{:#}",
        secrets::fetch(&client, &no_token)
            .await
            .expect_err("incomplete")
    );
    assert!(text.contains("missing field `SERVICE_TOKEN`"), "{text}");
    assert!(!text.contains("top-secret-value"), "{text}");

    let wrong_type = put_secret(
        &moto,
        "wrong-type",
        r#"{"OTHER":"top-secret-value-0123456789","SERVICE_TOKEN":12345678901234567}"#,
    )
    .await;
    let text = format!(
        "{:#}",
        secrets::fetch(&client, &wrong_type)
            .await
            .expect_err("a number")
    );
    assert!(
        !text.contains("12345678901234567") && !text.contains("top-secret"),
        "{text}"
    );

    let not_json = put_secret(&moto, "not-json", "top-secret-value-0123456789").await;
    let text = format!(
        "{:#}",
        secrets::fetch(&client, &not_json)
            .await
            .expect_err("not JSON")
    );
    assert!(
        text.contains("not a JSON object") && !text.contains("top-secret"),
        "{text}"
    );
}

/// The binary, started as Lambda would start it, with `APP_SECRET_ARN`.
fn cold_start(moto: &Moto, arn: &str) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator-lambda"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("APP_SECRET_ARN", arn)
        .envs(kit_testing::issuer_env())
        .env("CUSTOMERS_API_BASE", "http://127.0.0.1:9")
        .env("ORDERS_API_BASE", "http://127.0.0.1:9")
        .env("RUST_LOG", "info")
        // No runtime API to poll: a good configuration gets past loading and
        // then stops there.
        .env("AWS_LAMBDA_RUNTIME_API", "127.0.0.1:9")
        .env("AWS_LAMBDA_FUNCTION_NAME", "_")
        .env("AWS_LAMBDA_FUNCTION_VERSION", "1")
        .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128");
    for (k, v) in aws_env(moto) {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("the function runs");
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[tokio::test]
async fn the_cold_start_reads_the_secret_or_fails_clearly() {
    let moto = moto().await;
    let good = put_secret(
        &moto,
        "good",
        r#"{"SERVICE_TOKEN":"svc-from-secrets-manager-0123456789"}"#,
    )
    .await;
    let (_, log) = cold_start(&moto, &good);
    assert!(
        log.contains(r#""secrets":"secretsmanager""#) && log.contains("configuration loaded"),
        "{log}"
    );
    assert!(
        !log.contains("from-secrets-manager"),
        "no value is logged: {log}"
    );

    let missing = "arn:aws:secretsmanager:us-east-1:123456789012:secret:gone-AbCdEf";
    let (ok, log) = cold_start(&moto, missing);
    assert!(!ok, "the cold start fails");
    assert!(!log.contains("panicked"), "no panic: {log}");
    let line = log
        .lines()
        .find(|l| l.contains("invalid configuration"))
        .unwrap_or_else(|| panic!("a log line says why: {log}"));
    assert!(line.contains(r#""level":"ERROR""#), "{line}");
    assert!(
        line.contains("could not read the secret") && line.contains(missing),
        "{line}"
    );
}

/// The orchestrator's own settings, checked at cold start like the APIs'.
#[test]
fn out_of_range_settings_fail_the_cold_start_naming_the_variable() {
    for (bad, named) in [
        (vec![("RETRY_MAX_ATTEMPTS", "0")], "RETRY_MAX_ATTEMPTS"),
        (
            vec![("SAGA_TIMEOUT_MS", "99999999999999")],
            "SAGA_TIMEOUT_MS",
        ),
        (
            vec![("DOWNSTREAM_TIMEOUT_MS", "abc")],
            "DOWNSTREAM_TIMEOUT_MS",
        ),
    ] {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_orchestrator-lambda"));
        cmd.env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            .envs(kit_testing::issuer_env())
            .env("SERVICE_TOKEN", common::SERVICE_TOKEN)
            .env("CUSTOMERS_API_BASE", "http://127.0.0.1:9")
            .env("ORDERS_API_BASE", "http://127.0.0.1:9");
        for (k, v) in &bad {
            cmd.env(k, v);
        }
        let out = cmd.output().expect("the function runs");
        let log = String::from_utf8_lossy(&out.stdout).into_owned()
            + &String::from_utf8_lossy(&out.stderr);
        assert!(!out.status.success(), "{bad:?} was accepted");
        let line = log
            .lines()
            .find(|l| l.contains("invalid configuration"))
            .unwrap_or_else(|| panic!("{bad:?}: {log}"));
        assert!(line.contains(named), "{line}");
    }
}
