//! `POST /v1/{tenant}/webhooks/stripe`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve_tool(app, shared::webhook::StripeWebhook).await
}
