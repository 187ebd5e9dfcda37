//! The contract's envelope. Every answer, success or error, is built here.
use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::pipeline::endpoint::Reply;

pub fn success(tool: &str, reply: Reply, request_id: &str) -> Response<Body> {
    let mut body = json!({
        "ok": true, "tool": tool, "status": reply.status, "data": reply.answer.data,
        "summary": reply.answer.summary, "request_id": request_id,
    });
    if let Some(obj) = body.as_object_mut() {
        if let Some(c) = reply.confirmation {
            obj.insert("confirmation".into(), c);
        }
        if let Some(a) = reply.approval {
            obj.insert("approval".into(), a);
        }
    }
    build(200, &body, &[])
}

/// A success that is not a tool call (tool list, agent insight): `ok`, the fields given,
/// and `request_id`.
pub fn ok(mut body: Value, request_id: &str) -> Response<Body> {
    if let Some(obj) = body.as_object_mut() {
        obj.insert("ok".into(), Value::Bool(true));
        obj.insert("request_id".into(), Value::String(request_id.into()));
    }
    build(200, &body, &[])
}

pub fn failure(err: &ApiError, request_id: &str) -> Response<Body> {
    let body = json!({"ok": false, "error": err, "request_id": request_id});
    let retry_after = match err.retry_after {
        Some(secs) => Some(secs.to_string()),
        None => (err.code == "billing_unavailable" || err.code == "rate_limited")
            .then(|| "5".to_string()),
    };
    let mut headers = Vec::new();
    if let Some(secs) = &retry_after {
        headers.push(("retry-after", secs.as_str()));
    }
    if let Some(allow) = err.allow {
        headers.push(("allow", allow));
    }
    build(err.status, &body, &headers)
}

/// A JSON answer (`no-store`), envelope or not.
pub(crate) fn build(status: u16, body: &Value, headers: &[(&str, &str)]) -> Response<Body> {
    let mut builder = Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .header("cache-control", "no-store");
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    builder
        .body(Body::Text(body.to_string()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}
