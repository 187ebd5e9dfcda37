//! `POST /v1/{tenant}/tools/get_invoice_history`
use shared::tools::GetInvoiceHistory;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetInvoiceHistory).await
}
