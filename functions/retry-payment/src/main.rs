//! `POST /v1/{tenant}/tools/retry_payment` (a write: preview, then confirm)
use shared::endpoints::write::RetryPayment;
use shared::pipeline::two_phase::Write;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, Write(RetryPayment)).await
}
