use customers_api::startup;
use kit_runtime::config::HttpSettings;
use kit_server::http;

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    http::start("customers-api", 3001);
    // Only customers-api serves `/internal/*`: it alone reads SERVICE_TOKENS.
    let settings = HttpSettings::from_env(3001).and_then(|mut s| {
        s.auth = s.auth.with_services_from_env()?;
        Ok(s)
    });
    http::run_service(settings, startup::build).await
}
