//! `POST /v1/{tenant}/tools/get_available_plans`
use shared::tools::GetAvailablePlans;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetAvailablePlans).await
}
