use orders_api::{config::Settings, startup};
use service_kit::{config, http};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    http::start("orders-api", 3002);
    if std::env::args().nth(1).as_deref() == Some("seed") {
        let url = config::required("DATABASE_URL")?;
        let done = orders_api::seed::run(&url)
            .await
            .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "seeding failed"))?;
        tracing::info!(outcome = ?done, "seed");
        return Ok(());
    }
    http::run_service(Settings::from_env(), startup::build).await
}
