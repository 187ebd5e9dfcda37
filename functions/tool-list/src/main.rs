//! `GET /v1/{tenant}/tools`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve(app, shared::tool_list::handle).await
}
