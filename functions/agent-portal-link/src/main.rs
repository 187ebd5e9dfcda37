//! `POST /v1/{tenant}/agent/portal_link`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, shared::endpoints::agent_portal::AgentPortalLink).await
}
