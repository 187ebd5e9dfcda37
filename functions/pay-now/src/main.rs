//! `POST /v1/{tenant}/pay/{token}/confirm`
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::endpoints().await?;
    shared::edge::serve(app, shared::edge::pay::pay).await
}
