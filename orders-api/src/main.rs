use orders_api::{config::Settings, startup::Application};
use service_kit::{config, telemetry};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    if let Some(code) = service_kit::http::healthcheck_command(3002) {
        std::process::exit(code);
    }
    config::load_dotenv();
    telemetry::init("orders-api");
    if std::env::args().nth(1).as_deref() == Some("seed") {
        let url = config::required("DATABASE_URL")?;
        let done = orders_api::seed::run(&url)
            .await
            .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "seeding failed"))?;
        tracing::info!(outcome = ?done, "seed");
        return Ok(());
    }
    let settings = Settings::from_env().inspect_err(|e| {
        tracing::error!(error = %e, "invalid configuration");
    })?;
    let app = Application::build(settings).await.inspect_err(|e| {
        tracing::error!(error = ?e, "start-up failed");
    })?;
    app.run_until_stopped().await?;
    Ok(())
}
