//! `POST /v1/{tenant}/tools/request_refund` (a write: preview, then confirm)
use shared::write::Write;
use shared::writes::RequestRefund;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, Write(RequestRefund)).await
}
