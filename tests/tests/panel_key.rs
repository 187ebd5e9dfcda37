//! The agent panel's key: it opens agent insight (and the panel's portal link) for its own
//! tenant only, and nothing else an agent token opens.
use integration::{Harness, OTHER_TENANT, TENANT, panel_key, random};
use lambda_http::Body;
use serde_json::{Value, json};
use shared::endpoints::agent_portal::AgentPortalLink;
use shared::endpoints::agent_recovery::RecoveryQueue;

async fn agent_call<E: shared::pipeline::endpoint::Endpoint>(
    h: &Harness,
    endpoint: &E,
    method: &str,
    path: &str,
    key: &str,
    body: Value,
) -> (u16, Value) {
    let req = lambda_http::http::Request::builder()
        .method(method)
        .uri(path)
        .header("authorization", format!("Bearer {key}"))
        .header("content-type", "application/json")
        .body(Body::Text(body.to_string()))
        .unwrap();
    let resp = shared::edge::handle(&h.app, endpoint, req).await;
    let status = resp.status().as_u16();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
        _ => Value::Null,
    };
    (status, body)
}

#[tokio::test]
async fn a_panel_key_opens_insight_and_the_portal_link_for_its_tenant_only() {
    let h = Harness::new().await;
    let customer = h
        .stripe
        .customer(&format!("{}@example.com", random(8)), Some("pm_card_visa"))
        .await;
    let mine = panel_key(TENANT);

    let (status, body) = h.insight(Some(&mine), &[("customer_id", &customer)]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["id"], customer.as_str());

    // Another tenant's key, a made-up one, and a key without the prefix are refused.
    for key in [
        panel_key(OTHER_TENANT),
        format!("bbp_{}", random(32)),
        mine.trim_start_matches("bbp_").to_string(),
    ] {
        let (status, body) = h.insight(Some(&key), &[("customer_id", &customer)]).await;
        assert_eq!(status, 401, "{key}: {body}");
        assert!(body.get("customer").is_none());
    }

    let (status, body) = agent_call(
        &h,
        &AgentPortalLink,
        "POST",
        &format!("/v1/{TENANT}/agent/portal_link"),
        &mine,
        json!({"customer_id": customer}),
    )
    .await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["url"]
            .as_str()
            .is_some_and(|u| u.starts_with("https://"))
    );

    // The other tenant's customer, asked for with this tenant's key: not found, nothing shown.
    let theirs_email = format!("{}@example.com", random(8));
    let theirs = h.other.customer(&theirs_email, Some("pm_card_visa")).await;
    let (status, body) = h.insight(Some(&mine), &[("customer_id", &theirs)]).await;
    assert_eq!(status, 404, "{body}");
    assert!(!body.to_string().contains(&theirs_email) && !body.to_string().contains("4242"));
    let (status, body) = h.insight(Some(&mine), &[("email", &theirs_email)]).await;
    assert_eq!(status, 404, "{body}");

    // Scoped to the panel and insight: the recovery queue wants an agent's token.
    let (status, _) = agent_call(
        &h,
        &RecoveryQueue,
        "GET",
        &format!("/v1/{TENANT}/agent/recovery"),
        &mine,
        Value::Null,
    )
    .await;
    assert_eq!(status, 401);
}
