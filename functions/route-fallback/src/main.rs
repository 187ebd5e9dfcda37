//! Every request no route takes (API Gateway's `$default` route, the local router's
//! catch-all): 404 or 405 in the envelope. It needs no AWS client and no tenant.
#[tokio::main]
async fn main() -> Result<(), lambda_http::Error> {
    shared::telemetry::init();
    shared::pipeline::serve_plain(shared::routes::fallback).await
}
