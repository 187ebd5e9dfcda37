//! `POST /v1/{tenant}/tools/change_plan` (a write: preview, then confirm)
use shared::endpoints::write::ChangePlan;
use shared::pipeline::two_phase::Write;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, Write(ChangePlan)).await
}
