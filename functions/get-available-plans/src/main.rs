//! `POST /v1/{tenant}/tools/get_available_plans`
use shared::endpoints::read::GetAvailablePlans;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetAvailablePlans).await
}
