//! `POST /v1/{tenant}/tools/get_payment_history`
use shared::endpoints::read::GetPaymentHistory;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetPaymentHistory).await
}
