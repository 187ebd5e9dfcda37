//! `POST /v1/{tenant}/tools/email_invoices`
use shared::endpoints::read::EmailInvoices;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, EmailInvoices).await
}
