//! `POST /v1/{tenant}/tools/get_credit_balance`
use shared::tools::GetCreditBalance;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetCreditBalance).await
}
