//! `POST /v1/{tenant}/tools/start_subscription`
use shared::endpoints::checkout::StartSubscription;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, StartSubscription).await
}
