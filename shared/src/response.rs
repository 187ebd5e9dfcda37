//! The contract's envelope. Every answer, success or error, is built here.
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::error::ApiError;

pub fn success(
    tool: &str,
    status: &str,
    data: Value,
    summary: &str,
    request_id: &str,
) -> Response<Body> {
    let body = json!({
        "ok": true, "tool": tool, "status": status, "data": data,
        "summary": summary, "request_id": request_id,
    });
    build(200, &body, None)
}

pub fn failure(err: &ApiError, request_id: &str) -> Response<Body> {
    let body = json!({"ok": false, "error": err, "request_id": request_id});
    let retry_after =
        (err.code == "billing_unavailable" || err.code == "rate_limited").then_some("5");
    build(err.status, &body, retry_after)
}

fn build(status: u16, body: &Value, retry_after: Option<&str>) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    if let Some(secs) = retry_after {
        builder = builder.header("retry-after", secs);
    }
    builder
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
