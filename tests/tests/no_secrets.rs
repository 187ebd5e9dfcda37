//! No secret (Stripe key, identity secret, visitor token) reaches a log line, an error
//! body or an audit record, on good calls and on every kind of failure.
use std::io::Write;
use std::sync::{Arc, Mutex};

use integration::{Harness, TENANT, agent_token, mint, visitor_claims};
use serde_json::json;
use shared::endpoints::read::GetSubscriptionStatus;
use tracing_subscriber::fmt::MakeWriter;

#[derive(Clone, Default)]
struct Capture(Arc<Mutex<Vec<u8>>>);

impl Write for Capture {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl<'a> MakeWriter<'a> for Capture {
    type Writer = Capture;
    fn make_writer(&'a self) -> Self::Writer {
        self.clone()
    }
}

#[tokio::test]
async fn secrets_never_reach_logs_errors_or_audit() {
    let capture = Capture::default();
    let _guard =
        tracing::subscriber::set_default(shared::edge::telemetry::subscriber(capture.clone()));
    let h = Harness::new().await;
    let tool = GetSubscriptionStatus;
    let price = h.stripe.price("Growth", 4900, "usd").await;
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    h.stripe.subscribe(&me, &price, &[]).await;
    let good = h.token(visitor_claims("user_1", json!({"stripe_customer_id": me})));
    let expired = h.token(visitor_claims("user_1", json!({"iat": 1, "exp": 2})));
    let forged = mint("not-the-secret", &visitor_claims("user_1", json!({})));

    let mut bodies = Vec::new();
    let (status, body) = h.call(&tool, Some(&good), "{}").await;
    assert_eq!(status, 200);
    bodies.push(body);
    for token in [&expired, &forged] {
        bodies.push(h.call(&tool, Some(token), "{}").await.1);
    }
    bodies.push(
        h.call(
            &tool,
            Some(&good),
            &json!({"token": good, "x": 1}).to_string(),
        )
        .await
        .1,
    );
    // Secrets pasted where no field name says "secret": an argument's value, an id, a
    // nested field. Name-based redaction cannot see these.
    let identity_secret = h.identity_secret(TENANT, 1);
    for body in [
        json!({"subscription_id": good}),
        json!({"subscription_id": identity_secret}),
        json!({"subscription_id": h.stripe.key}),
        json!({"subscription_id": {"nested": [identity_secret]}}),
    ] {
        let (status, b) = h.call(&tool, Some(&good), &body.to_string()).await;
        assert_eq!(status, 400, "{b}");
        bodies.push(b);
    }
    // Agents' tokens too, good and forged.
    let agent = agent_token(TENANT, json!({}));
    let forged_agent = mint(
        "not-the-agent-secret",
        &json!({"sub": "a", "role": "agent"}),
    );
    for token in [&agent, &forged_agent] {
        bodies.push(h.insight(Some(token), &[("customer_id", &me)]).await.1);
    }
    for kind in ["500", "hang", "reset"] {
        h.stripe.fault(kind, 10).await;
        bodies.push(h.call(&tool, Some(&good), "{}").await.1);
        h.stripe.clear_faults().await;
    }
    // The tenant's key stops working at Stripe: the error must not echo it.
    h.stripe
        .control("keys/revoke", json!({"key": h.stripe.key}))
        .await;
    let (status, body) = h.call(&tool, Some(&good), "{}").await;
    assert_eq!(
        body["error"]["code"], "billing_unavailable",
        "{status} {body}"
    );
    bodies.push(body);

    let logs = String::from_utf8(capture.0.lock().unwrap().clone()).unwrap();
    assert!(
        logs.contains("\"target\":\"audit\""),
        "audit lines are logged"
    );
    let audit = format!("{:?}", h.audit.records.lock().unwrap());
    let errors = format!("{bodies:?}");
    let key_tail = &h.stripe.key[h.stripe.key.len() - 12..];
    let secrets = [
        h.stripe.key.as_str(),
        key_tail,
        &h.identity_secret(TENANT, 0),
        &h.identity_secret(TENANT, 1),
        good.as_str(),
        good.split('.').nth(2).unwrap(),
        expired.as_str(),
        forged.as_str(),
        agent.as_str(),
        agent.split('.').nth(2).unwrap(),
        forged_agent.as_str(),
        &integration::agent_secret(TENANT),
    ];
    for secret in secrets {
        assert!(!logs.contains(secret), "a secret is in the logs");
        assert!(!errors.contains(secret), "a secret is in an error body");
        assert!(!audit.contains(secret), "a secret is in an audit record");
    }
    assert!(!logs.contains("stack backtrace") && !errors.contains("panicked"));
}
