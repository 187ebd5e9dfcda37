//! `POST /v1/{tenant}/tools/retry_payment` (a write: preview, then confirm)
use shared::write::Write;
use shared::writes::RetryPayment;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, Write(RetryPayment)).await
}
