use kit_runtime::config;
use kit_server::http;
use orders_api::{config::Settings, migrate, startup};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    http::start("orders-api", 3002);
    let args: Vec<String> = std::env::args().skip(1).collect();
    match args.first().map(String::as_str) {
        Some("seed") => {
            let url = config::database_url()?;
            let done = orders_api::seed::run(&url)
                .await
                .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "seeding failed"))?;
            tracing::info!(outcome = ?done, "seed");
            Ok(())
        }
        Some("migrate") => {
            let report = async { migrate::run(&migrate::Plan::from_env(&args[1..])?).await }
                .await
                .inspect_err(|e| tracing::error!(error = %format!("{e:#}"), "migrate failed"))?;
            tracing::info!(users = ?report.users, seeded = ?report.seeded, "migrate done");
            Ok(())
        }
        _ => http::run_service(Settings::from_env(), startup::build).await,
    }
}
