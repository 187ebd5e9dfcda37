//! The routes this deployment serves, and the answer for every request that matches none
//! of them (the REST API's greedy `/{proxy+}` and the local router's catch-all send those
//! to the `route-fallback` function): a wrong method is a 405 with `Allow`, anything else a
//! 404 that says where to go, always in the envelope.
use lambda_http::{Body, Request, Response};

use crate::edge::{request_id, response};
use crate::endpoints::registry::ENDPOINTS;
use crate::error::ApiError;
use crate::ports::tenants::valid_tenant_id;

/// The edge's own routes, beside the registry's endpoints: the tool list, MCP, and the
/// faces (the agent panel's page and the widget's script).
const EDGE_ROUTES: &[(&str, &str)] = &[
    ("GET", "/v1/{tenant}/tools"),
    ("POST", "/v1/{tenant}/mcp"),
    ("GET", "/v1/{tenant}/agent/panel"),
    ("GET", "/v1/{tenant}/widget.js"),
];

/// `(method, path)` of every route; `{tenant}` stands for a tenant id.
pub fn all() -> Vec<(&'static str, String)> {
    ENDPOINTS
        .iter()
        .map(|e| (e.method, e.path()))
        .chain(EDGE_ROUTES.iter().map(|(m, p)| (*m, p.to_string())))
        .collect()
}

/// The method a concrete path takes, when some route has that path.
fn method_of(path: &str) -> Option<&'static str> {
    let segments: Vec<&str> = path.split('/').collect();
    all().into_iter().find_map(|(method, pattern)| {
        let want: Vec<&str> = pattern.split('/').skip(1).collect();
        // API Gateway may mount the API under a stage prefix: match the tail.
        let tail = segments.get(segments.len().checked_sub(want.len())?..)?;
        let matches = tail.iter().zip(&want).all(|(seg, w)| {
            if w.starts_with('{') {
                // Any tenant (or id) segment routes; the handler answers `unknown_tenant`
                // (or `not_found`).
                !seg.is_empty()
            } else {
                seg == w
            }
        });
        matches.then_some(method)
    })
}

/// `Ok` when `method path` is a route; otherwise the contract's answer for it.
pub fn check(method: &str, path: &str) -> Result<(), ApiError> {
    match method_of(path) {
        Some(m) if m == method => Ok(()),
        Some(m) => Err(ApiError::method_not_allowed(m)),
        None => Err(unrouted(path)),
    }
}

fn unrouted(path: &str) -> ApiError {
    let trimmed = path.trim_end_matches('/');
    if trimmed.len() < path.len() && method_of(trimmed).is_some() {
        return ApiError::not_found(format!(
            "There is no route with a trailing slash; call `{trimmed}`."
        ))
        .with_reason("trailing_slash");
    }
    let segments: Vec<&str> = trimmed.split('/').collect();
    if let [.., "v1", tenant, "tools", tool] = segments.as_slice() {
        let tenant = if valid_tenant_id(tenant) {
            tenant
        } else {
            "{tenant}"
        };
        // Echo the name only when it looks like a tool name, so no input is reflected.
        let named = tool.len() <= 64
            && tool
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-');
        let what = if named {
            format!("There is no tool named `{tool}`.")
        } else {
            "There is no such tool.".into()
        };
        return ApiError::not_found(format!(
            "{what} `GET /v1/{tenant}/tools` lists the tools this merchant offers."
        ))
        .with_reason("unknown_tool");
    }
    ApiError::not_found(
        "No such route. Tools are called with `POST /v1/{tenant}/tools/{tool}`; `GET /v1/{tenant}/tools` lists them.",
    )
    .with_reason("unknown_route")
}

/// The `route-fallback` function: every request no route took.
pub async fn fallback(req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    let err = match check(req.method().as_str(), req.uri().path()) {
        Err(e) => e,
        // A route's own function should have taken it; say so rather than pretend.
        Ok(()) => ApiError::not_found("That route is not deployed here.").with_reason("unrouted"),
    };
    response::failure(&err, &request_id)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn code(method: &str, path: &str) -> (u16, &'static str, Option<String>) {
        let e = check(method, path).unwrap_err();
        (e.status, e.code, e.reason)
    }

    #[test]
    fn known_routes_pass_and_the_rest_get_the_right_answer() {
        assert!(check("POST", "/v1/demo/tools/get_subscription_status").is_ok());
        assert!(check("GET", "/v1/demo/tools").is_ok());
        assert!(check("GET", "/prod/v1/demo/agent/insight").is_ok());
        assert!(check("POST", "/v1/demo/agent/approvals/apr_x").is_ok());
        assert!(check("GET", "/v1/demo/agent/approvals").is_ok());
        let e = check("GET", "/v1/demo/tools/get_invoice_history").unwrap_err();
        assert_eq!((e.status, e.allow), (405, Some("POST")));
        assert_eq!(
            check("POST", "/v1/demo/tools").unwrap_err().allow,
            Some("GET")
        );
        assert_eq!(
            code("POST", "/v1/demo/tools/cancel_everything"),
            (404, "not_found", Some("unknown_tool".into()))
        );
        assert_eq!(
            code("POST", "/v1/demo/tools/get_invoice_history/"),
            (404, "not_found", Some("trailing_slash".into()))
        );
        assert!(check("POST", "/v1/BAD/tools/get_invoice_history").is_ok());
        for path in [
            "/",
            "",
            "/v1/demo/nope",
            "/v2/demo/tools",
            "/v1/BAD/tools/x",
        ] {
            assert_eq!(code("GET", path).0, 404, "{path}");
        }
        let e = check("POST", "/v1/demo/tools/<script>").unwrap_err();
        assert!(!e.message.contains("<script>"));
    }
}
