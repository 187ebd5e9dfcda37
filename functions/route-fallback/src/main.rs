//! Every request no route takes (API Gateway's `$default` route, the local router's
//! catch-all): 404 or 405 in the envelope, and browsers' preflights (which API Gateway
//! sends here, as no route takes `OPTIONS`), answered from the tenant's allowed origins.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    let app = shared::App::from_env().await?;
    shared::serve(app, |_, req| shared::routes::fallback(req)).await
}
