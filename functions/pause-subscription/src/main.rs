//! `POST /v1/{tenant}/tools/pause_subscription` (a write: preview, then confirm)
use shared::write::Write;
use shared::writes::PauseSubscription;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, Write(PauseSubscription)).await
}
