//! `POST /v1/{tenant}/tools/apply_coupon` (a write: preview, then confirm)
use shared::endpoints::write::ApplyCoupon;
use shared::pipeline::two_phase::Write;

#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve_endpoint(app, Write(ApplyCoupon)).await
}
