//! `POST /v1/{tenant}/tools/get_upcoming_invoice`
use shared::tools::GetUpcomingInvoice;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetUpcomingInvoice).await
}
