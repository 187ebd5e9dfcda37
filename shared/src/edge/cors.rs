//! The widget's edge for browsers: a preflight (`OPTIONS`) from an origin in the tenant's
//! `allowed_origins` is granted for that origin, and so are its calls; any other origin, or
//! a path with no known tenant, gets no grant. Answered by us rather than by API Gateway's
//! CORS settings, because each tenant has its own list.
use lambda_http::http::{HeaderValue, Method};
use lambda_http::{Body, Request, Response};

use crate::edge::routes;
use crate::pipeline::app::App;
use crate::ports::tenants::valid_tenant_id;

const ALLOWED_HEADERS: &str =
    "authorization, content-type, x-user-id, x-user-hash, mcp-protocol-version";
/// How long a browser may reuse a granted preflight.
const MAX_AGE_SECS: &str = "600";

/// What a call's CORS answer depends on, taken before the handler consumes the request.
pub struct Asked {
    origin: Option<String>,
    tenant: Option<String>,
}

impl Asked {
    pub fn of(req: &Request) -> Self {
        Self {
            origin: req
                .headers()
                .get("origin")
                .and_then(|v| v.to_str().ok())
                .map(str::to_string),
            tenant: tenant_of(req.uri().path()).map(str::to_string),
        }
    }

    /// The origin to grant, if the tenant allows it.
    pub async fn granted(&self, app: &App) -> Option<String> {
        let (origin, tenant) = (self.origin.as_deref()?, self.tenant.as_deref()?);
        let config = app.tenants.config(tenant).await.ok()??;
        config.allows_origin(origin).then(|| origin.to_string())
    }
}

pub fn is_preflight(req: &Request) -> bool {
    req.method() == Method::OPTIONS
}

/// `204` with the grant for an allowed origin, without it otherwise.
pub async fn preflight(app: &App, req: &Request) -> Response<Body> {
    let asked = Asked::of(req);
    let mut resp = Response::builder()
        .status(204)
        .header("cache-control", "no-store")
        .body(Body::Empty)
        .unwrap_or_else(|_| Response::new(Body::Empty));
    if let Some(origin) = asked.granted(app).await {
        let method = match routes::check("GET", req.uri().path()) {
            Ok(()) => "GET",
            Err(e) => e.allow.unwrap_or("POST"),
        };
        let h = resp.headers_mut();
        put(
            h,
            "access-control-allow-methods",
            &format!("{method}, OPTIONS"),
        );
        put(h, "access-control-allow-headers", ALLOWED_HEADERS);
        put(h, "access-control-max-age", MAX_AGE_SECS);
        grant(&mut resp, &origin);
    }
    vary(&mut resp);
    resp
}

/// Adds the grant for `origin` to a call's answer.
pub fn grant(resp: &mut Response<Body>, origin: &str) {
    let h = resp.headers_mut();
    put(h, "access-control-allow-origin", origin);
    // The widget reads these to back off and to quote the request in a support ticket.
    put(h, "access-control-expose-headers", "retry-after");
    vary(resp);
}

fn vary(resp: &mut Response<Body>) {
    put(resp.headers_mut(), "vary", "Origin");
}

fn put(h: &mut lambda_http::http::HeaderMap, name: &'static str, value: &str) {
    if let Ok(v) = HeaderValue::from_str(value) {
        h.insert(name, v);
    }
}

/// The tenant segment of `/v1/{tenant}/...`, wherever the API is mounted.
fn tenant_of(path: &str) -> Option<&str> {
    let mut segments = path.split('/');
    segments.find(|s| *s == "v1")?;
    segments.next().filter(|t| valid_tenant_id(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tenant_comes_from_the_path() {
        assert_eq!(tenant_of("/v1/demo/tools/x"), Some("demo"));
        assert_eq!(tenant_of("/prod/v1/demo/tools"), Some("demo"));
        assert_eq!(tenant_of("/v1/BAD/tools"), None);
        assert_eq!(tenant_of("/tools"), None);
    }
}
