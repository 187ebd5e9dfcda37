//! `GET /v1/{tenant}/agent/recovery`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, shared::webhook::RecoveryQueue).await
}
