//! `POST /v1/{tenant}/agent/checkout`
use shared::endpoints::checkout::AgentCheckout;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, AgentCheckout).await
}
