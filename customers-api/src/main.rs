use customers_api::startup;
use service_kit::{config::HttpSettings, http};

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    http::start("customers-api", 3001);
    http::run_service(HttpSettings::from_env(3001), startup::build).await
}
