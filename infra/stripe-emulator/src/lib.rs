//! A stateful, in-memory Stripe API emulator speaking Stripe's wire format, so Stripe's own
//! SDKs and our Lambdas can run against it where Stripe itself is unreachable.
//!
//! `/v1/...` is the emulated API; `/_emulator/...` is the test control surface.

#![recursion_limit = "512"]

mod api;
mod clock;
mod control;
mod errors;
mod events;
mod expand;
mod form;
mod list;
mod outbox;
mod params;
mod record;
mod render;
mod resources;
mod restricted;
mod search;
mod seeded;
mod store;
mod wire;

use axum::Router;
use axum::http::StatusCode;
use axum::response::IntoResponse;
use axum::routing::any;
use serde_json::json;

pub use store::REQUEST_LOG_LIMIT;
pub use wire::DEFAULT_API_VERSION;

/// A router with fresh, empty state.
pub fn app() -> Router {
    Router::new()
        .route("/v1/{*rest}", any(api::handle))
        .merge(control::routes())
        .fallback(|| async {
            (
                StatusCode::NOT_FOUND,
                axum::Json(json!({"error": {
                    "type": "invalid_request_error",
                    "message": "Unrecognized request URL. Stripe API paths start with /v1/.",
                }})),
            )
                .into_response()
        })
        .layer(axum::middleware::map_response(with_request_id))
        .with_state(store::Shared::default())
}

/// Stripe puts a `Request-Id` on every response; control responses get one too.
async fn with_request_id(mut resp: axum::response::Response) -> axum::response::Response {
    if !resp.headers().contains_key("request-id")
        && let Ok(v) = format!("req_{}", store::random_alnum(14)).parse()
    {
        resp.headers_mut().insert("request-id", v);
    }
    resp
}

/// Serves a fresh emulator on an ephemeral localhost port, for in-process tests.
pub async fn spawn() -> std::io::Result<(std::net::SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let handle = tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app()).await {
            tracing::error!(error = %e, "stripe emulator stopped");
        }
    });
    Ok((addr, handle))
}
