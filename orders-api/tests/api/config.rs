//! Settings that would break a rule stop the process at start, with a
//! message that names the variable.

use std::process::Command;

fn start_with(bad: &[(&str, &str)]) -> (bool, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_orders-api"));
    cmd.env_clear()
        .env("PATH", std::env::var("PATH").unwrap_or_default())
        .env("DATABASE_URL", "mysql://nobody@127.0.0.1:9/none")
        .envs(kit_testing::issuer_env())
        .env("SERVICE_TOKEN", crate::helpers::SERVICE_TOKEN)
        .env("CUSTOMERS_API_BASE", "http://127.0.0.1:9")
        .env("PORT", "0");
    for (k, v) in bad {
        cmd.env(k, v);
    }
    let out = cmd.output().expect("orders-api runs");
    (
        out.status.success(),
        format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ),
    )
}

#[test]
fn out_of_range_settings_stop_the_process_naming_the_variable() {
    for (name, value) in [
        ("CANCEL_WINDOW_SECS", "99999999999999"),
        ("RESERVATION_TTL_SECS", "0"),
        ("IDEMPOTENCY_TTL_SECS", "-5"),
        ("IDEMPOTENCY_WAIT_SECS", "600"),
        ("SWEEP_INTERVAL_SECS", "86400000"),
        ("DB_MAX_CONNECTIONS", "0"),
        ("JWT_MAX_TTL_SECS", "0"),
    ] {
        let (ok, log) = start_with(&[(name, value)]);
        assert!(!ok, "{name}={value} was accepted");
        let line = log
            .lines()
            .find(|l| l.contains("invalid configuration"))
            .unwrap_or_else(|| panic!("{name}={value}: no configuration error: {log}"));
        assert!(line.contains(name), "{name}: {line}");
        assert!(!log.contains("panicked"), "{name}: {log}");
    }
}
