//! `POST /v1/{tenant}/tools/get_billing_info`
use shared::tools::GetBillingInfo;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetBillingInfo).await
}
