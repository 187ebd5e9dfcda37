//! `POST /v1/{tenant}/tools/resend_invoice`
use shared::endpoints::read::ResendInvoice;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, ResendInvoice).await
}
