//! `POST /v1/{tenant}/tools/get_billing_portal_link`
use shared::endpoints::read::GetBillingPortalLink;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetBillingPortalLink).await
}
