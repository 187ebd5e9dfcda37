//! `GET /v1/{tenant}/widget.js`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::config_only().await?;
    shared::edge::serve(app, shared::edge::faces::widget).await
}
