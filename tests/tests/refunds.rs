//! `request_refund`: money moves once however often a confirmation is replayed or raced,
//! the caps hold under concurrency (reserved when the confirmation is claimed), and every
//! refusal (window, disputed, failed, fully refunded, too much, another's payment) leaves
//! Stripe without a refund.
use futures::future::join_all;
use integration::{Harness, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::write::RequestRefund;
use shared::pipeline::two_phase::Write;

const DAY: i64 = 86_400;

struct R {
    h: Harness,
    me: String,
    price: String,
}

async fn world() -> R {
    world_on(Harness::new().await).await
}

async fn world_on(h: Harness) -> R {
    let price = h.stripe.price("Growth", 4900, "usd").await;
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    R { h, me, price }
}

impl R {
    /// A new paid charge of `customer` (each subscription pays its first invoice).
    async fn charge(&self, customer: &str) -> String {
        self.h.stripe.subscribe(customer, &self.price, &[]).await;
        let list = self
            .h
            .stripe
            .get(&format!("/v1/charges?customer={customer}&limit=1"))
            .await;
        list["data"][0]["id"].as_str().unwrap().to_string()
    }

    async fn refund(&self, user: &str, customer: &str, body: Value) -> (u16, Value) {
        let token = self.h.token(visitor_claims(
            user,
            json!({"stripe_customer_id": customer}),
        ));
        self.h
            .call(&Write(RequestRefund), Some(&token), &body.to_string())
            .await
    }

    async fn mine(&self, body: Value) -> (u16, Value) {
        self.refund("user_1", &self.me.clone(), body).await
    }

    /// Refunds Stripe holds (a request resent under the same idempotency key makes none).
    async fn refunds_made(&self) -> usize {
        let list = self.h.stripe.get("/v1/refunds?limit=100").await;
        list["data"].as_array().unwrap().len()
    }

    async fn refunded_on(&self, charge: &str) -> i64 {
        self.h.stripe.get(&format!("/v1/charges/{charge}")).await["amount_refunded"]
            .as_i64()
            .unwrap()
    }
}

fn token_of(body: &Value) -> String {
    assert_eq!(body["status"], "confirmation_required", "{body}");
    body["confirmation"]["token"].as_str().unwrap().to_string()
}

fn refusal(answer: &(u16, Value)) -> (u16, String, String) {
    let e = &answer.1["error"];
    (
        answer.0,
        e["code"].as_str().unwrap_or_default().to_string(),
        e["reason"].as_str().unwrap_or_default().to_string(),
    )
}

#[tokio::test]
async fn a_preview_refunds_nothing_and_a_confirmation_refunds_once_however_replayed() {
    let r = world().await;
    let ch = r.charge(&r.me).await;
    let (status, body) = r.mine(json!({"payment_id": ch, "amount": 1500})).await;
    assert_eq!(status, 200, "{body}");
    let s = body["summary"].as_str().unwrap();
    assert!(s.contains("$15.00 of your $49.00 payment"), "{s}");
    assert_eq!(r.refunds_made().await, 0, "a preview refunds nothing");
    let confirm = json!({"confirm": token_of(&body)});

    let mut answers = Vec::new();
    for _ in 0..100 {
        answers.push(r.mine(confirm.clone()).await);
    }
    answers.extend(join_all((0..50).map(|_| r.mine(confirm.clone()))).await);
    assert!(answers.iter().all(|(s, _)| *s == 200), "{:?}", answers[0]);
    let summaries: std::collections::BTreeSet<&str> = answers
        .iter()
        .map(|(_, b)| b["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries.len(), 1, "{summaries:?}");
    assert!(summaries.iter().next().unwrap().starts_with("Done: $15.00"));
    assert_eq!(r.refunds_made().await, 1, "150 confirmations, one refund");
    assert_eq!(r.refunded_on(&ch).await, 1500);

    // The rest of it, then nothing is left.
    let (_, body) = r.mine(json!({"payment_id": ch})).await;
    assert_eq!(body["confirmation"]["preview"]["amount"]["amount"], 3400);
    let (status, _) = r.mine(json!({"confirm": token_of(&body)})).await;
    assert_eq!(status, 200);
    assert_eq!(r.refunded_on(&ch).await, 4900);
    let again = r.mine(json!({"payment_id": ch})).await;
    assert_eq!(
        refusal(&again),
        (403, "policy_denied".into(), "already_refunded".into())
    );
    assert_eq!(again.1["error"]["escalate"], true);
}

#[tokio::test]
async fn fifty_concurrent_refunds_never_pass_the_customers_30_day_cap() {
    // Fifty Stripe refunds at once: on a loaded 2-core runner the emulator's answers can
    // take longer than the fault tests' short timeout, which this test is not about.
    let r = world_on(Harness::new().await.patient()).await;
    r.h.configure(|c| {
        // The hard cap: no person to lift it (tests/tests/approvals.rs has those).
        c.policy.approval_for.clear();
        c.policy.refund_max_per_30_days = 20_000;
        c.policy.refunds_per_hour = 1_000;
        c.policy.refunds_per_customer_per_hour = 1_000;
    });
    let mut tokens = Vec::new();
    for _ in 0..50 {
        let ch = r.charge(&r.me).await;
        let (_, body) = r.mine(json!({"payment_id": ch})).await;
        tokens.push(token_of(&body));
    }
    let answers = join_all(tokens.iter().map(|t| r.mine(json!({"confirm": t})))).await;
    let done = answers.iter().filter(|(s, _)| *s == 200).count();
    let capped = answers
        .iter()
        .filter(|a| refusal(a).2 == "refund_cap_exceeded")
        .count();
    println!("30-day cap 200.00, 50 concurrent refunds of 49.00: {done} done, {capped} refused");
    // 4 × 49.00 = 196.00 fits under 200.00; a fifth would not.
    assert_eq!(
        done,
        4,
        "{:?}",
        answers.iter().map(refusal).collect::<Vec<_>>()
    );
    assert_eq!(r.refunds_made().await, 4);
    // A customer with several logins shares the one cap.
    let ch = r.charge(&r.me).await;
    let other_login = r
        .refund("user_2", &r.me.clone(), json!({"payment_id": ch}))
        .await;
    assert_eq!(refusal(&other_login).2, "refund_cap_exceeded");
}

#[tokio::test]
async fn the_tenants_hourly_count_holds_under_concurrency() {
    let r = world().await;
    r.h.configure(|c| c.policy.refunds_per_hour = 3);
    let mut tokens = Vec::new();
    for i in 0..10 {
        let who =
            r.h.stripe
                .customer(&format!("c{i}@example.com"), Some("pm_card_visa"))
                .await;
        let ch = r.charge(&who).await;
        let user = format!("user_{i}");
        let (_, body) = r.refund(&user, &who, json!({"payment_id": ch})).await;
        tokens.push((user, who, token_of(&body)));
    }
    let answers = join_all(
        tokens
            .iter()
            .map(|(user, who, t)| r.refund(user, who, json!({"confirm": t}))),
    )
    .await;
    let done = answers.iter().filter(|(s, _)| *s == 200).count();
    println!("hourly cap 3, 10 concurrent refunds: {done} done");
    assert_eq!(done, 3);
    assert!(
        answers
            .iter()
            .filter(|(s, _)| *s != 200)
            .all(|a| refusal(a).2 == "refund_rate_exceeded")
    );
    assert_eq!(r.refunds_made().await, 3);
}

#[tokio::test]
async fn the_window_edge_is_exact() {
    let r = world().await;
    r.h.configure(|c| c.policy.approval_for.clear());
    // The emulator's clock, set so that one charge is just outside 14 days and one inside.
    r.h.stripe
        .control("reset", json!({"offset": -(14 * DAY + 120)}))
        .await;
    let price = r.h.stripe.price("Growth", 4900, "usd").await;
    let me =
        r.h.stripe
            .customer("old@example.com", Some("pm_card_visa"))
            .await;
    let r = R { price, me, ..r };
    let outside = r.charge(&r.me).await;
    r.h.stripe
        .control("clock/advance", json!({"seconds": 240}))
        .await;
    let inside = r.charge(&r.me).await;
    let late = r.mine(json!({"payment_id": outside})).await;
    assert_eq!(
        refusal(&late),
        (403, "policy_denied".into(), "refund_window_passed".into())
    );
    let (status, body) = r.mine(json!({"payment_id": inside})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(r.refunds_made().await, 0);
}

#[tokio::test]
async fn refusals_refund_nothing() {
    let r = world().await;
    let ch = r.charge(&r.me).await;
    let too_much = r.mine(json!({"payment_id": ch, "amount": 5000})).await;
    assert_eq!(
        refusal(&too_much),
        (400, "invalid_request".into(), "amount_too_large".into())
    );
    assert!(
        too_much.1["error"]["message"]
            .as_str()
            .unwrap()
            .contains("`amount`")
    );

    let disputer =
        r.h.stripe
            .customer("d@example.com", Some("pm_card_createDispute"))
            .await;
    let disputed = r.charge(&disputer).await;
    let answer = r
        .refund("user_d", &disputer, json!({"payment_id": disputed}))
        .await;
    assert_eq!(refusal(&answer).2, "charge_disputed");

    let them =
        r.h.stripe
            .customer("them@example.com", Some("pm_card_visa"))
            .await;
    let theirs = r.charge(&them).await;
    let answer = r.mine(json!({"payment_id": theirs})).await;
    assert_eq!(refusal(&answer), (403, "not_owner".into(), String::new()));
    let foreign_price = r.h.other.price("F", 500, "usd").await;
    let oc =
        r.h.other
            .customer("f@example.com", Some("pm_card_visa"))
            .await;
    r.h.other.subscribe(&oc, &foreign_price, &[]).await;
    let foreign = r.h.other.get(&format!("/v1/charges?customer={oc}")).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let answer = r.mine(json!({"payment_id": foreign})).await;
    assert_eq!(answer.0, 403, "another tenant's charge: {}", answer.1);

    for (body, field) in [
        (json!({"payment_id": "in_123"}), "payment_id"),
        (json!({"payment_id": ch, "amount": 0}), "amount"),
        (json!({"payment_id": ch, "reason": "fraudulent"}), "reason"),
    ] {
        let (status, b) = r.mine(body).await;
        assert_eq!(status, 400, "{b}");
        assert!(
            b["error"]["message"].as_str().unwrap().contains(field),
            "{b}"
        );
    }
    assert_eq!(r.refunds_made().await, 0);
}
