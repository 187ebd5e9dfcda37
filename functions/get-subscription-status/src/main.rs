//! `POST /v1/{tenant}/tools/get_subscription_status`
use shared::tools::GetSubscriptionStatus;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetSubscriptionStatus).await
}
