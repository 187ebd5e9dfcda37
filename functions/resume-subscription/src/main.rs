//! `POST /v1/{tenant}/tools/resume_subscription` (a write: preview, then confirm)
use shared::endpoints::write::ResumeSubscription;
use shared::pipeline::two_phase::Write;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, Write(ResumeSubscription)).await
}
