//! The widget's edge: per-visitor and per-tenant rate limits before Stripe is asked, CORS
//! per tenant (preflights as a browser sends them), and calls refused before identity kept
//! out of the audit table.
use integration::{Harness, TENANT, random, visitor_claims};
use lambda_http::{Body, Request, Response};
use serde_json::{Value, json};
use shared::edge::{edge, handle};
use shared::endpoints::read::GetBillingInfo;

const SHOP: &str = "https://shop.example.com";

fn body_of(resp: &Response<Body>) -> Value {
    match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    }
}

fn header<'a>(resp: &'a Response<Body>, name: &str) -> Option<&'a str> {
    resp.headers().get(name).and_then(|v| v.to_str().ok())
}

fn request(method: &str, path: &str, headers: &[(&str, &str)], body: &str) -> Request {
    let mut req = lambda_http::http::Request::builder()
        .method(method)
        .uri(path);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    req.body(Body::Text(body.into())).unwrap()
}

/// The harness's app for the life of the test process, as a Lambda holds it.
fn leak(h: Harness) -> &'static Harness {
    Box::leak(Box::new(h))
}

async fn through_edge(h: &'static Harness, req: Request) -> Response<Body> {
    edge(&h.app, req, &|app, req| handle(app, &GetBillingInfo, req)).await
}

#[tokio::test]
async fn one_visitor_over_the_limit_gets_429_while_another_is_served() {
    let h = Harness::new().await;
    h.configure(|c| {
        c.rate_limits.per_visitor_per_minute = 3;
        c.rate_limits.per_tenant_per_minute = 100;
    });
    let customer = h
        .stripe
        .customer(&format!("{}@example.com", random(8)), None)
        .await;
    let busy = h.token(visitor_claims(
        "busy",
        json!({"stripe_customer_id": customer}),
    ));
    let calm = h.token(visitor_claims(
        "calm",
        json!({"stripe_customer_id": customer}),
    ));
    let mut statuses = Vec::new();
    // Enough calls that even a minute boundary in between cannot hide the limit.
    for _ in 0..8 {
        statuses.push(h.call(&GetBillingInfo, Some(&busy), "{}").await.0);
    }
    assert!(statuses.contains(&429), "{statuses:?}");
    let asked = h.stripe.request_count().await;
    let (status, body) = h.call(&GetBillingInfo, Some(&busy), "{}").await;
    if status == 429 {
        assert_eq!(body["error"]["code"], "rate_limited");
        assert_eq!(body["error"]["reason"], "visitor_rate_limit");
        assert_eq!(
            h.stripe.request_count().await,
            asked,
            "refused before Stripe"
        );
    }
    let (status, body) = h.call(&GetBillingInfo, Some(&calm), "{}").await;
    assert_eq!(status, 200, "another visitor is served: {body}");
}

#[tokio::test]
async fn the_tenant_limit_holds_across_visitors_and_says_when_to_retry() {
    let h = leak(Harness::new().await);
    h.configure(|c| {
        c.rate_limits.per_visitor_per_minute = 100;
        c.rate_limits.per_tenant_per_minute = 4;
    });
    let mut last = None;
    for i in 0..10 {
        let token = h.token(visitor_claims(&format!("v{i}"), json!({})));
        let req = request(
            "POST",
            &format!("/v1/{TENANT}/tools/get_billing_info"),
            &[("authorization", &format!("Bearer {token}"))],
            "{}",
        );
        let resp = through_edge(h, req).await;
        if resp.status() == 429 {
            last = Some(resp);
            break;
        }
    }
    let resp = last.expect("the tenant's limit was reached");
    assert_eq!(body_of(&resp)["error"]["reason"], "tenant_rate_limit");
    let retry: u64 = header(&resp, "retry-after").unwrap().parse().unwrap();
    assert!((1..=60).contains(&retry), "{retry}");
}

#[tokio::test]
async fn a_browser_preflight_is_granted_only_for_the_tenants_origins() {
    let h = leak(Harness::new().await);
    h.configure(|c| c.allowed_origins = vec![SHOP.into()]);
    // What Chrome sends before a POST with a bearer token and a JSON body.
    let preflight = |origin: &str, tenant: &str| {
        request(
            "OPTIONS",
            &format!("/v1/{tenant}/tools/get_billing_info"),
            &[
                ("origin", origin),
                ("access-control-request-method", "POST"),
                (
                    "access-control-request-headers",
                    "authorization,content-type",
                ),
                ("sec-fetch-mode", "cors"),
            ],
            "",
        )
    };
    let ok = through_edge(h, preflight(SHOP, TENANT)).await;
    assert_eq!(ok.status(), 204);
    assert_eq!(header(&ok, "access-control-allow-origin"), Some(SHOP));
    assert_eq!(
        header(&ok, "access-control-allow-methods"),
        Some("POST, OPTIONS")
    );
    let allowed = header(&ok, "access-control-allow-headers").unwrap();
    assert!(allowed.contains("authorization") && allowed.contains("content-type"));
    assert_eq!(header(&ok, "vary"), Some("Origin"));

    for (origin, tenant) in [
        ("https://evil.example.com", TENANT),
        ("null", TENANT),
        (SHOP, "nosuchtenant"),
    ] {
        let no = through_edge(h, preflight(origin, tenant)).await;
        assert_eq!(
            header(&no, "access-control-allow-origin"),
            None,
            "{origin} {tenant}"
        );
    }

    // The call itself carries the grant too, and only for the allowed origin.
    let token = h.token(visitor_claims("nobody", json!({})));
    for (origin, granted) in [(SHOP, true), ("https://evil.example.com", false)] {
        let req = request(
            "POST",
            &format!("/v1/{TENANT}/tools/get_billing_info"),
            &[
                ("origin", origin),
                ("authorization", &format!("Bearer {token}")),
            ],
            "{}",
        );
        let resp = through_edge(h, req).await;
        assert_eq!(
            header(&resp, "access-control-allow-origin").is_some(),
            granted,
            "{origin}"
        );
    }
}

#[tokio::test]
async fn calls_refused_before_identity_are_counted_not_stored() {
    let h = Harness::new().await;
    for token in [None, Some("not.a.jwt")] {
        let (status, _) = h.call(&GetBillingInfo, token, "{}").await;
        assert_eq!(status, 401);
    }
    assert!(
        h.audit.records.lock().unwrap().is_empty(),
        "no audit record for an unknown caller"
    );
    // Once the caller is known, even a refusal is stored.
    let token = h.token(visitor_claims("nobody", json!({})));
    let (status, _) = h.call(&GetBillingInfo, Some(&token), "{\"x\":1}").await;
    assert_eq!(status, 400);
    assert_eq!(h.audit.records.lock().unwrap().len(), 1);
}
