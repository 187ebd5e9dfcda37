//! `POST /v1/{tenant}/tools/get_billing_portal_link`
use shared::tools::GetBillingPortalLink;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, GetBillingPortalLink).await
}
