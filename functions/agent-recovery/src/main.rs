//! `GET /v1/{tenant}/agent/recovery`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, shared::endpoints::agent_recovery::RecoveryQueue).await
}
