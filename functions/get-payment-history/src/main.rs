//! `POST /v1/{tenant}/tools/get_payment_history`
use shared::tools::GetPaymentHistory;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetPaymentHistory).await
}
