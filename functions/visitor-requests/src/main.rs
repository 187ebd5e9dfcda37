//! `GET /v1/{tenant}/visitor/requests`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, shared::endpoints::approvals::VisitorRequests).await
}
