//! `POST /v1/{tenant}/tools/get_upcoming_invoice`
use shared::endpoints::read::GetUpcomingInvoice;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetUpcomingInvoice).await
}
