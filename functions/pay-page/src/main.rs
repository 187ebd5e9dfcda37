//! `GET /v1/{tenant}/pay/{token}`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve(app, shared::edge::pay::page).await
}
