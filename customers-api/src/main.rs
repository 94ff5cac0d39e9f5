use customers_api::startup::Application;
use service_kit::{config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(code) = service_kit::http::healthcheck_command(3001) {
        std::process::exit(code);
    }
    config::load_dotenv();
    telemetry::init("customers-api");
    let settings = config::HttpSettings::from_env(3001).inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    let app = Application::build(settings).await.inspect_err(|e| {
        tracing::error!(error = ?e, "start-up failed");
    })?;
    app.run_until_stopped().await?;
    Ok(())
}
