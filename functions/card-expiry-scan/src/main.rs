//! The expiring-card scan, run daily by EventBridge Scheduler (no route).
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::scheduled::serve(app, shared::endpoints::card_expiry::scan).await
}
