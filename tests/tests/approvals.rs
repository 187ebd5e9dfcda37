//! Approvals that resume: a refund a bound holds waits for a person instead of failing, and
//! the person's approval runs it exactly once (raced, repeated, or after the object
//! changed), under the approver's own cap; a denial or an expiry changes nothing; only the
//! tenant's agents decide; the visitor hears how it ended.
use futures::future::join_all;
use integration::{Harness, OTHER_TENANT, TENANT, agent_token, panel_key, visitor_claims};
use lambda_http::Body;
use serde_json::{Value, json};
use shared::endpoints::approvals::{ApprovalDecision, ApprovalList, VisitorRequests};
use shared::endpoints::read::GetSubscriptionStatus;
use shared::endpoints::write::RequestRefund;
use shared::pipeline::two_phase::Write;
use shared::ports::state::Approval;

struct W {
    h: Harness,
    me: String,
    price: String,
    visitor: String,
    agent: String,
}

async fn world() -> W {
    let h = Harness::new().await;
    // A $10.00 cap in 30 days: a $49.00 refund passes it, and a person may lift it.
    h.configure(|c| c.policy.refund_max_per_30_days = 1_000);
    let price = h.stripe.price("Growth", 4900, "usd").await;
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    let visitor = h.token(visitor_claims("user_1", json!({"stripe_customer_id": me})));
    let agent = agent_token(TENANT, json!({"sub": "agent_ann"}));
    W {
        h,
        me,
        price,
        visitor,
        agent,
    }
}

impl W {
    async fn charge(&self) -> String {
        self.h.stripe.subscribe(&self.me, &self.price, &[]).await;
        let list = self
            .h
            .stripe
            .get(&format!("/v1/charges?customer={}&limit=1", self.me))
            .await;
        list["data"][0]["id"].as_str().unwrap().to_string()
    }

    async fn refund(&self, body: Value) -> (u16, Value) {
        self.h
            .call(
                &Write(RequestRefund),
                Some(&self.visitor),
                &body.to_string(),
            )
            .await
    }

    /// Proposed and confirmed: the answer to the confirmation.
    async fn ask_refund(&self, charge: &str) -> (u16, Value) {
        self.ask_refund_keeping_token(charge).await.1
    }

    async fn ask_refund_keeping_token(&self, charge: &str) -> (String, (u16, Value)) {
        let (status, body) = self.refund(json!({"payment_id": charge})).await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["confirmation"]["needs_approval"], true, "{body}");
        let token = body["confirmation"]["token"].as_str().unwrap().to_string();
        let answer = self.refund(json!({"confirm": token})).await;
        (token, answer)
    }

    /// Refunds Stripe holds (a request resent under the same idempotency key makes none).
    async fn refunds_made(&self) -> usize {
        let list = self.h.stripe.get("/v1/refunds?limit=100").await;
        list["data"].as_array().unwrap().len()
    }

    async fn decide(&self, token: &str, tenant: &str, id: &str, body: Value) -> (u16, Value) {
        let req = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("/v1/{tenant}/agent/approvals/{id}"))
            .header("authorization", format!("Bearer {token}"))
            .header("content-type", "application/json")
            .body(Body::Text(body.to_string()))
            .unwrap();
        let decision = ApprovalDecision {
            approvers: shared::endpoints::registry::approvers,
        };
        parse(shared::edge::handle(&self.h.app, &decision, req).await)
    }

    async fn approve(&self, id: &str) -> (u16, Value) {
        self.decide(&self.agent, TENANT, id, json!({"decision": "approve"}))
            .await
    }

    async fn pending(&self) -> Vec<Value> {
        let (status, body) = self
            .h
            .request(
                &ApprovalList,
                TENANT,
                "GET",
                &[("authorization", &format!("Bearer {}", self.agent))],
                &[("status", "pending")],
                b"",
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["approvals"].as_array().unwrap().clone()
    }

    async fn my_requests(&self) -> Vec<Value> {
        let (status, body) = self
            .h
            .request(
                &VisitorRequests,
                TENANT,
                "GET",
                &[("authorization", &format!("Bearer {}", self.visitor))],
                &[],
                b"",
            )
            .await;
        assert_eq!(status, 200, "{body}");
        body["requests"].as_array().unwrap().clone()
    }

    async fn status_summary(&self) -> String {
        let (status, body) = self
            .h
            .call(&GetSubscriptionStatus, Some(&self.visitor), "{}")
            .await;
        assert_eq!(status, 200, "{body}");
        body["summary"].as_str().unwrap().to_string()
    }
}

fn parse(resp: lambda_http::Response<Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).unwrap(),
        _ => Value::Null,
    };
    (status, body)
}

fn approval_id(answer: &(u16, Value)) -> String {
    assert_eq!(answer.0, 200, "{}", answer.1);
    assert_eq!(answer.1["status"], "pending_approval", "{}", answer.1);
    answer.1["approval"]["id"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn a_refund_over_the_cap_waits_and_one_approval_of_twenty_racing_refunds_it_once() {
    let w = world().await;
    let ch = w.charge().await;
    let (token, asked) = w.ask_refund_keeping_token(&ch).await;
    let id = approval_id(&asked);
    // Confirmed again while it waits: the same approval, still nothing refunded.
    assert_eq!(approval_id(&w.refund(json!({"confirm": token})).await), id);
    assert!(
        asked.1["summary"]
            .as_str()
            .unwrap()
            .contains("asked a person"),
        "{}",
        asked.1
    );
    assert_eq!(w.refunds_made().await, 0, "waiting refunds nothing");

    // The agents' list: the preview as the visitor saw it, the bound and by how much.
    let pending = w.pending().await;
    assert_eq!(pending.len(), 1);
    assert_eq!(pending[0]["id"], id.as_str());
    assert_eq!(pending[0]["bound"]["reason"], "refund_cap_exceeded");
    assert_eq!(
        pending[0]["bound"]["over"],
        "$39.00 over the $10.00 limit in 30 days ($0.00 refunded before)"
    );
    assert_eq!(pending[0]["preview"]["amount"]["amount"], 4900);
    assert_eq!(w.my_requests().await[0]["status"], "pending");

    let answers = join_all((0..20).map(|_| w.approve(&id))).await;
    assert!(
        answers.iter().all(|(s, _)| *s == 200 || *s == 409),
        "{answers:?}"
    );
    let done: Vec<&Value> = answers
        .iter()
        .filter(|(s, _)| *s == 200)
        .map(|(_, b)| b)
        .collect();
    assert!(!done.is_empty());
    assert!(
        done.iter()
            .all(|b| b["summary"] == done[0]["summary"] && b["outcome"] == done[0]["outcome"])
    );
    assert_eq!(w.refunds_made().await, 1, "20 racing approvals, one refund");
    let again = w.approve(&id).await;
    assert!(again.0 == 200 || again.0 == 409, "{again:?}");
    assert_eq!(w.refunds_made().await, 1);
    assert_eq!(
        w.h.stripe.get(&format!("/v1/charges/{ch}")).await["amount_refunded"],
        4900
    );
    // The visitor's own confirmation again: the same outcome, nothing more.
    let (status, body) = w.refund(json!({"confirm": token})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    assert_eq!(w.refunds_made().await, 1);

    let mine = w.my_requests().await;
    assert_eq!(mine[0]["status"], "approved");
    assert_eq!(mine[0]["outcome"]["ok"], true);
    assert!(mine[0].get("note").is_none() && mine[0].get("decided_by").is_none());
    // The bot's next status says so once.
    let first = w.status_summary().await;
    assert!(first.contains("approved your request"), "{first}");
    assert!(!w.status_summary().await.contains("approved your request"));
}

#[tokio::test]
async fn a_denial_or_an_expiry_refunds_nothing_and_a_decision_is_final() {
    let w = world().await;
    let id = approval_id(&w.ask_refund(&w.charge().await).await);
    let (status, body) = w
        .decide(
            &w.agent,
            TENANT,
            &id,
            json!({"decision": "deny", "note": "Refunded by bank transfer instead"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    for decision in ["approve", "deny"] {
        let (status, body) = w
            .decide(&w.agent, TENANT, &id, json!({"decision": decision}))
            .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (409, Some("approval_closed"))
        );
        assert_eq!(body["error"]["reason"], "already_decided");
    }
    assert_eq!(w.refunds_made().await, 0);
    let mine = w.my_requests().await;
    assert_eq!(mine[0]["status"], "denied");
    assert!(
        !Value::from(mine.clone())
            .to_string()
            .contains("bank transfer"),
        "the note is the merchant's"
    );
    assert!(w.status_summary().await.contains("declined it"));

    // Expired: past its life, nobody can approve it.
    let id = approval_id(&w.ask_refund(&w.charge().await).await);
    w.h.app
        .state
        .change_approval(TENANT, &id, &|s| {
            s.map(|s| Approval {
                expires_at: integration::now() - 1,
                ..s.clone()
            })
        })
        .await
        .unwrap();
    let (status, body) = w.approve(&id).await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (409, Some("approval_expired"))
    );
    assert_eq!(w.refunds_made().await, 0);
    let mine = w.my_requests().await;
    let expired = mine.iter().find(|r| r["id"] == id.as_str()).unwrap();
    assert_eq!(expired["status"], "expired");
}

#[tokio::test]
async fn only_the_tenants_agents_decide_and_bad_input_changes_nothing() {
    let w = world().await;
    let id = approval_id(&w.ask_refund(&w.charge().await).await);
    let other_agent = agent_token(OTHER_TENANT, json!({}));
    for (who, token, tenant) in [
        ("the visitor", w.visitor.clone(), TENANT),
        ("another tenant's agent", other_agent.clone(), TENANT),
    ] {
        let (status, _) = w
            .decide(&token, tenant, &id, json!({"decision": "approve"}))
            .await;
        assert_eq!(status, 401, "{who}");
    }
    // Another tenant's agent on their own tenant's route: no such approval there.
    let (status, _) = w
        .decide(
            &other_agent,
            OTHER_TENANT,
            &id,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 404);
    let unknown = format!("apr_{}.{}", w.me, "0".repeat(24));
    let (status, body) = w.approve(&unknown).await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (404, Some("unknown_approval"))
    );
    let (status, _) = w.approve("apr_nonsense").await;
    assert_eq!(status, 404);
    for body in [
        json!({"decision": "maybe"}),
        json!({}),
        json!({"decision": "approve", "note": "x".repeat(501)}),
        json!({"decision": "approve", "amount": 1}),
    ] {
        let (status, answer) = w.decide(&w.agent, TENANT, &id, body.clone()).await;
        assert_eq!(status, 400, "{body}: {answer}");
    }
    assert_eq!(w.refunds_made().await, 0);
    assert_eq!(w.pending().await.len(), 1, "still waiting");
    // The panel's key decides too (the panel shows Approve and Deny).
    let (status, body) = w
        .decide(
            &panel_key(TENANT),
            TENANT,
            &id,
            json!({"decision": "approve"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.refunds_made().await, 1);
}

#[tokio::test]
async fn a_payment_refunded_meanwhile_is_answered_as_changed_not_refunded_again() {
    let w = world().await;
    let ch = w.charge().await;
    let id = approval_id(&w.ask_refund(&ch).await);
    // The merchant refunds it in the Dashboard before anyone approves.
    w.h.stripe
        .post("/v1/refunds", &[("charge", ch.as_str())])
        .await;
    let before = w.refunds_made().await;
    let (status, body) = w.approve(&id).await;
    assert!(status == 403 || status == 409, "{status} {body}");
    assert!(
        ["already_refunded", "object_changed"].contains(&body["error"]["reason"].as_str().unwrap()),
        "{body}"
    );
    assert_eq!(w.refunds_made().await, before, "not refunded again");
    assert_eq!(w.my_requests().await[0]["outcome"]["ok"], false);
}

#[tokio::test]
async fn an_approval_stays_under_the_approvers_own_cap() {
    let w = world().await;
    w.h.configure(|c| c.policy.agent_refund_max_per_30_days = 6_000);
    let first = approval_id(&w.ask_refund(&w.charge().await).await);
    let second = approval_id(&w.ask_refund(&w.charge().await).await);
    assert_eq!(w.approve(&first).await.0, 200);
    let (status, body) = w.approve(&second).await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (403, Some("agent_refund_cap_exceeded")),
        "{body}"
    );
    assert_eq!(w.refunds_made().await, 1);
    assert_eq!(w.pending().await.len(), 1, "left for another agent");
    // Another agent's cap is their own.
    let ben = agent_token(TENANT, json!({"sub": "agent_ben"}));
    let (status, body) = w
        .decide(&ben, TENANT, &second, json!({"decision": "approve"}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.refunds_made().await, 2);
}

#[tokio::test]
async fn without_approvals_the_bound_refuses_as_before() {
    let w = world().await;
    w.h.configure(|c| c.policy.approval_for.clear());
    let (status, body) = w.refund(json!({"payment_id": w.charge().await})).await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (403, Some("refund_cap_exceeded"))
    );
}
