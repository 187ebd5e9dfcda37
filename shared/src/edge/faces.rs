//! The faces people use, served by the stack itself: the agent panel
//! (`GET /v1/{tenant}/agent/panel`, a page a helpdesk frames beside a conversation) and the
//! widget (`GET /v1/{tenant}/widget.js`, one script the merchant's page includes). Both are
//! static shells: they hold no data and no credential. The panel reads its key from the
//! URL's fragment (never sent to a server, never in a `Referer`) and asks agent insight;
//! the widget calls the tools with the visitor token the merchant's backend minted. Every
//! piece of data goes through the pipeline (tenant, caller, audit) as those calls.
use std::sync::OnceLock;

use base64::Engine;
use lambda_http::{Body, Request, Response};
use sha2::{Digest, Sha256};

use crate::edge::{request_id, response, routes};
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::tenant_route;

const PANEL_HTML: &str = include_str!("../../assets/panel.html");
const PANEL_JS: &str = include_str!("../../assets/panel.js");
const PANEL_CSS: &str = include_str!("../../assets/panel.css");
const WIDGET_JS: &str = include_str!("../../assets/widget.js");
/// The DOM helpers both scripts use, written once.
const DOM_JS: &str = include_str!("../../assets/dom.js");

/// A script as served: its body in one strict closure (nothing leaks into the page but
/// what it exports), after the shared helpers.
fn script(body: &str) -> String {
    format!("(function () {{\n  \"use strict\";\n{DOM_JS}{body}}})();\n")
}

/// `GET /v1/{tenant}/agent/panel`.
pub async fn panel(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    match frame_ancestors(app, &req, &["agent", "panel"]).await {
        Ok(ancestors) => page(&ancestors),
        Err(e) => response::failure(&e, &request_id),
    }
}

/// `GET /v1/{tenant}/widget.js`.
pub async fn widget(app: &App, req: Request) -> Response<Body> {
    let request_id = request_id(&req);
    match frame_ancestors(app, &req, &["widget.js"]).await {
        Ok(_) => Response::builder()
            .status(200)
            .header("content-type", "text/javascript; charset=utf-8")
            // The same script for every visitor: cached briefly, so a release reaches pages
            // within minutes.
            .header("cache-control", "public, max-age=300")
            .header("x-content-type-options", "nosniff")
            .body(Body::Text(widget_script().to_string()))
            .unwrap_or_else(|_| Response::new(Body::Empty)),
        Err(e) => response::failure(&e, &request_id),
    }
}

/// The route checked and the tenant known (config only: no secret is read), with the
/// helpdesks that may frame its panel.
async fn frame_ancestors(app: &App, req: &Request, route: &[&str]) -> Result<String, ApiError> {
    routes::check(req.method().as_str(), req.uri().path())?;
    let tenant_id = tenant_route(req.uri().path(), route)?;
    let config = app
        .tenants
        .config(tenant_id)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    Ok(config.frame_ancestors())
}

/// The panel page: its script and style inline, allowed by their hashes and nothing else
/// (no third-party script, no other origin to talk to, no form, no referrer).
fn page(ancestors: &str) -> Response<Body> {
    static BUILT: OnceLock<(String, String)> = OnceLock::new();
    let (html, hashes) = BUILT.get_or_init(|| {
        let js = script(PANEL_JS);
        let html = PANEL_HTML
            .replace("/*STYLE*/", PANEL_CSS)
            .replace("/*SCRIPT*/", &js);
        let hashes = format!(
            "script-src '{}'; style-src '{}'",
            csp_hash(&js),
            csp_hash(PANEL_CSS)
        );
        (html, hashes)
    });
    let csp = format!(
        "default-src 'none'; {hashes}; connect-src 'self'; img-src 'self' data:; \
         base-uri 'none'; form-action 'none'; frame-ancestors {ancestors}"
    );
    Response::builder()
        .status(200)
        .header("content-type", "text/html; charset=utf-8")
        .header("content-security-policy", csp)
        .header("referrer-policy", "no-referrer")
        .header("x-content-type-options", "nosniff")
        .header("cache-control", "no-store")
        .body(Body::Text(html.clone()))
        .unwrap_or_else(|_| Response::new(Body::Empty))
}

/// `'sha256-...'` of an inline script or style, as a CSP source.
fn csp_hash(text: &str) -> String {
    let digest = Sha256::digest(text.as_bytes());
    format!(
        "sha256-{}",
        base64::engine::general_purpose::STANDARD.encode(digest)
    )
}

/// The widget script as served.
fn widget_script() -> &'static str {
    static BUILT: OnceLock<String> = OnceLock::new();
    BUILT.get_or_init(|| script(WIDGET_JS))
}
