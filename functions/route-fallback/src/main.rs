//! Every request no route takes (the REST API's `/{proxy+}`, the local router's
//! catch-all): 404 in the envelope, and browsers' preflights on such paths, answered from
//! the tenant's allowed origins.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::edge::telemetry::init();
    let app = shared::wiring::config_only().await?;
    shared::edge::serve(app, |_, req| shared::edge::routes::fallback(req)).await
}
