//! `GET /v1/{tenant}/agent/insight`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, shared::insight::Insight).await
}
