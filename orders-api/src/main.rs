use orders_api::{config::Settings, startup::Application};
use service_kit::{config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(code) = service_kit::http::healthcheck_command(3002) {
        std::process::exit(code);
    }
    config::load_dotenv();
    telemetry::init("orders-api");
    let settings = Settings::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    let app = Application::build(settings).await.inspect_err(|e| {
        tracing::error!(error = ?e, "start-up failed");
    })?;
    app.run_until_stopped().await?;
    Ok(())
}
