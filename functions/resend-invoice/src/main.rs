//! `POST /v1/{tenant}/tools/resend_invoice`
use shared::tools::ResendInvoice;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, ResendInvoice).await
}
