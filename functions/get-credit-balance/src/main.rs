//! `POST /v1/{tenant}/tools/get_credit_balance`
use shared::endpoints::read::GetCreditBalance;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetCreditBalance).await
}
