//! `POST /v1/{tenant}/agent/approvals/{id}`
use shared::endpoints::approvals::ApprovalDecision;
use shared::endpoints::registry::approvers;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, ApprovalDecision { approvers }).await
}
