//! `POST /v1/{tenant}/tools/get_subscription_status`
use shared::endpoints::read::GetSubscriptionStatus;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetSubscriptionStatus).await
}
