//! `POST /v1/{tenant}/tools/get_billing_info`
use shared::endpoints::read::GetBillingInfo;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, GetBillingInfo).await
}
