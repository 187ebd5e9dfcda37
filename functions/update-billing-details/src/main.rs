//! `POST /v1/{tenant}/tools/update_billing_details` (a write: preview, then confirm)
use shared::endpoints::write::UpdateBillingDetails;
use shared::pipeline::two_phase::Write;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, Write(UpdateBillingDetails)).await
}
