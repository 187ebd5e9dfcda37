//! The money policy across tools: each attack a visitor could make by chaining calls that
//! are allowed one by one, reproduced against the emulator, and what stops it. Also the
//! budgets no caller can spend for the others, and "once" past Stripe's idempotency window.
//! Run against the code before the policy (5dd7bd2d), 26 of these failed; the ones that
//! did not are `resume_undoes_what_the_bot_did` (what must keep working) and the lost answer
//! past 24 h, which needed the emulator to forget idempotency keys as Stripe may first.
use futures::future::join_all;
use integration::{Harness, TENANT, agent_token, now, random, visitor_claims};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::auth::signature::sign;
use shared::endpoints::read::{GetBillingInfo, GetSubscriptionStatus};
use shared::endpoints::registry;
use shared::endpoints::stripe_webhook::StripeWebhook;
use shared::endpoints::write::{
    ApplyCoupon, ChangePlan, PauseSubscription, RequestRefund, ResumeSubscription,
    UpdateBillingDetails,
};
use shared::pipeline::two_phase::{Write, WriteTool};
use shared::ports::tenants::TenantConfig;

const DAY: i64 = 86_400;

/// A Scale subscriber ($99.00 a month, paid), with Starter and Growth to move to.
struct P {
    h: Harness,
    me: String,
    sub: String,
    starter: String,
    growth: String,
    #[allow(dead_code)]
    scale: String,
}

async fn world() -> P {
    let h = Harness::new().await;
    let starter = h.stripe.price("Starter", 1900, "usd").await;
    let growth = h.stripe.price("Growth", 4900, "usd").await;
    let scale = h.stripe.price("Scale", 9900, "usd").await;
    let prices = vec![starter.clone(), growth.clone(), scale.clone()];
    h.configure(|c| c.allowed_prices = prices);
    let me = h
        .stripe
        .customer(
            &format!("me-{}@example.com", random(6)),
            Some("pm_card_visa"),
        )
        .await;
    let sub = h.stripe.subscribe(&me, &scale, &[]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    P {
        h,
        me,
        sub,
        starter,
        growth,
        scale,
    }
}

fn token_of(body: &Value) -> String {
    assert_eq!(body["status"], "confirmation_required", "{body}");
    body["confirmation"]["token"].as_str().unwrap().to_string()
}

fn reason(answer: &(u16, Value)) -> (u16, String) {
    (
        answer.0,
        answer.1["error"]["reason"]
            .as_str()
            .unwrap_or_default()
            .to_string(),
    )
}

impl P {
    fn token_as(&self, user: &str, customer: &str) -> String {
        self.h.token(visitor_claims(
            user,
            json!({"stripe_customer_id": customer}),
        ))
    }

    async fn write_as<T: WriteTool>(
        &self,
        tool: T,
        user: &str,
        customer: &str,
        body: Value,
    ) -> (u16, Value) {
        let token = self.token_as(user, customer);
        self.h
            .call(&Write(tool), Some(&token), &body.to_string())
            .await
    }

    async fn write<T: WriteTool>(&self, tool: T, body: Value) -> (u16, Value) {
        self.write_as(tool, "user_1", &self.me.clone(), body).await
    }

    /// Proposes, then confirms what was proposed (as a model that goes ahead would).
    async fn propose_confirm<T: WriteTool + Default>(&self, tool: T, body: Value) -> (u16, Value) {
        let (status, proposed) = self.write(tool, body).await;
        if status != 200 || proposed["status"] != "confirmation_required" {
            return (status, proposed);
        }
        self.write(T::default(), json!({"confirm": token_of(&proposed)}))
            .await
    }

    async fn latest_charge(&self, customer: &str) -> Value {
        let list = self
            .h
            .stripe
            .get(&format!("/v1/charges?customer={customer}&limit=1"))
            .await;
        list["data"][0].clone()
    }

    async fn sub(&self) -> Value {
        self.h
            .stripe
            .get(&format!("/v1/subscriptions/{}", self.sub))
            .await
    }

    /// Stripe writes (POSTs) to `path`, counted at the emulator.
    async fn posts(&self, path: &str) -> usize {
        let want = format!("POST {path}");
        self.h
            .stripe
            .request_log()
            .await
            .iter()
            .filter(|r| **r == want)
            .count()
    }

    /// Refunds Stripe holds for the customer's charges (not requests: objects).
    async fn refunds_of(&self, charge: &str) -> usize {
        self.h
            .stripe
            .get(&format!("/v1/refunds?charge={charge}&limit=100"))
            .await["data"]
            .as_array()
            .unwrap()
            .len()
    }

    /// Credit the customer was granted: what the pending invoice items (a plan change's
    /// prorations: unused time credited, the new plan's rest of the period charged) come
    /// to when they credit, and a negative balance.
    async fn credit_granted(&self) -> i64 {
        let items = self
            .h
            .stripe
            .get(&format!("/v1/invoiceitems?customer={}&limit=100", self.me))
            .await;
        let net: i64 = items["data"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|i| i["invoice"].is_null())
            .filter_map(|i| i["amount"].as_i64())
            .sum();
        let pending = (-net).max(0);
        let balance = self
            .h
            .stripe
            .get(&format!("/v1/customers/{}", self.me))
            .await["balance"]
            .as_i64()
            .unwrap_or(0);
        pending + (-balance).max(0)
    }
}

// ---- A refunded period is not paid for twice -------------------------------------------

/// Refund this month's $99.00, then downgrade to Starter: the downgrade's proration would
/// credit $80.00 of Scale time that was already refunded in cash.
#[tokio::test]
async fn refund_then_downgrade_never_pays_a_period_twice() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let (status, body) = p
        .write(RequestRefund, json!({"payment_id": charge["id"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let confirmed = p
        .write(RequestRefund, json!({"confirm": token_of(&body)}))
        .await;
    assert_eq!(confirmed.0, 200, "{}", confirmed.1);
    let _ = p
        .propose_confirm(ChangePlan, json!({"price_id": p.starter}))
        .await;
    let refunded =
        p.h.stripe
            .get(&format!("/v1/charges/{}", charge["id"].as_str().unwrap()))
            .await["amount_refunded"]
            .as_i64()
            .unwrap();
    let credit = p.credit_granted().await;
    assert_eq!(refunded, 9900);
    assert!(
        refunded + credit <= 9900,
        "cash {refunded} + credit {credit} for a period paid 9900"
    );
}

/// The default (`refund_current_period: cancel_now`): the refund's preview says the plan
/// ends now, and the confirmed call refunds and ends it, once.
#[tokio::test]
async fn a_full_refund_of_the_current_period_ends_its_service_as_the_preview_says() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let (_, body) = p
        .write(RequestRefund, json!({"payment_id": charge["id"]}))
        .await;
    let preview = &body["confirmation"]["preview"];
    assert_eq!(
        preview["ends_subscription"]["subscription_id"],
        p.sub.as_str(),
        "{body}"
    );
    assert_eq!(preview["ends_subscription"]["ends"], "now");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("Scale plan ends now"), "{summary}");
    assert_eq!(
        p.sub().await["status"],
        "active",
        "a preview changes nothing"
    );
    let token = token_of(&body);
    let answers = join_all((0..5).map(|_| p.write(RequestRefund, json!({"confirm": token})))).await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    let done = &answers[0].1;
    assert_eq!(done["data"]["subscription"]["status"], "canceled", "{done}");
    assert!(done["summary"].as_str().unwrap().contains("has ended"));
    assert_eq!(p.sub().await["status"], "canceled");
    assert_eq!(p.refunds_of(charge["id"].as_str().unwrap()).await, 1);
    // Stripe's cancel without proration: no credit for the refunded time.
    assert_eq!(p.credit_granted().await, 0);
}

#[tokio::test]
async fn after_a_partial_refund_of_the_period_a_plan_change_is_escalated() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let (status, body) = p
        .propose_confirm(
            RequestRefund,
            json!({"payment_id": charge["id"], "amount": 5000}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        p.sub().await["status"],
        "active",
        "a partial refund keeps the plan"
    );
    let path = format!("/v1/subscriptions/{}", p.sub);
    let before = p.posts(&path).await;
    let answer = p.write(ChangePlan, json!({"price_id": p.starter})).await;
    assert_eq!(
        reason(&answer),
        (403, "period_refunded".into()),
        "{}",
        answer.1
    );
    assert_eq!(answer.1["error"]["escalate"], true);
    assert_eq!(p.posts(&path).await, before);
    assert!(5000 + p.credit_granted().await <= 9900);
}

#[tokio::test]
async fn keep_leaves_the_plan_but_still_refuses_the_credit() {
    let p = world().await;
    p.h.configure(|c| {
        c.policy.refund_current_period = shared::ports::tenants::RefundCurrentPeriod::Keep;
    });
    let charge = p.latest_charge(&p.me).await;
    let (_, body) = p
        .write(RequestRefund, json!({"payment_id": charge["id"]}))
        .await;
    assert_eq!(
        body["confirmation"]["preview"]["ends_subscription"],
        Value::Null
    );
    p.write(RequestRefund, json!({"confirm": token_of(&body)}))
        .await;
    assert_eq!(p.sub().await["status"], "active");
    let answer = p.write(ChangePlan, json!({"price_id": p.growth})).await;
    assert_eq!(reason(&answer), (403, "period_refunded".into()));
}

#[tokio::test]
async fn cancel_at_period_end_schedules_the_end_of_the_refunded_period() {
    let p = world().await;
    p.h.configure(|c| {
        c.policy.refund_current_period =
            shared::ports::tenants::RefundCurrentPeriod::CancelAtPeriodEnd;
    });
    let charge = p.latest_charge(&p.me).await;
    let (status, body) = p
        .propose_confirm(RequestRefund, json!({"payment_id": charge["id"]}))
        .await;
    assert_eq!(status, 200, "{body}");
    let sub = p.sub().await;
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["cancel_at_period_end"], true, "{sub}");
}

/// The other way round: a downgrade's credit, then a refund of the same period.
#[tokio::test]
async fn downgrade_then_refund_never_pays_a_period_twice() {
    let p = world().await;
    let (status, body) = p
        .propose_confirm(ChangePlan, json!({"price_id": p.starter}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let credit = p.credit_granted().await;
    assert!(credit > 0, "a downgrade credits unused time");
    let charge = p.latest_charge(&p.me).await;
    let answer = p
        .propose_confirm(RequestRefund, json!({"payment_id": charge["id"]}))
        .await;
    assert_eq!(
        reason(&answer),
        (403, "period_credited".into()),
        "{}",
        answer.1
    );
    let most = 9900 - credit;
    let (status, body) = p
        .propose_confirm(
            RequestRefund,
            json!({"payment_id": charge["id"], "amount": most}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
}

// ---- Pauses are bounded ---------------------------------------------------------------

#[tokio::test]
async fn pause_resume_pause_is_one_pause_a_year() {
    let p = world().await;
    let path = format!("/v1/subscriptions/{}", p.sub);
    let (status, body) = p.propose_confirm(PauseSubscription, json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let (status, body) = p.propose_confirm(ResumeSubscription, json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let again = p.propose_confirm(PauseSubscription, json!({})).await;
    assert_eq!(reason(&again), (403, "pause_limit".into()), "{}", again.1);
    assert_eq!(again.1["error"]["escalate"], true);
    assert_eq!(
        p.posts(&path).await,
        2,
        "one pause and one resume reached Stripe"
    );
    assert!(p.sub().await["pause_collection"].is_null());
}

#[tokio::test]
async fn a_pause_never_spans_a_yearly_renewal() {
    let h = Harness::new().await;
    // Subscribed 335 days ago (the emulator's clock starts there): it renews in 30 days, and
    // a 90-day pause would swallow that renewal.
    h.stripe
        .control("reset", json!({"offset": -335 * DAY}))
        .await;
    let product = h.stripe.post("/v1/products", &[("name", "Annual")]).await;
    let yearly = h
        .stripe
        .post(
            "/v1/prices",
            &[
                ("product", product["id"].as_str().unwrap()),
                ("unit_amount", "99000"),
                ("currency", "usd"),
                ("recurring[interval]", "year"),
            ],
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let me = h
        .stripe
        .customer("y@example.com", Some("pm_card_visa"))
        .await;
    h.stripe.subscribe(&me, &yearly, &[]).await;
    let token = h.token(visitor_claims("u", json!({"stripe_customer_id": me})));
    let (status, body) = h.call(&Write(PauseSubscription), Some(&token), "{}").await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (403, Some("pause_spans_renewal")),
        "{body}"
    );
}

#[tokio::test]
async fn paused_days_are_counted_across_pauses() {
    let p = world().await;
    p.h.configure(|c| c.policy.pauses_per_year = 4);
    let in_days = |d: i64| shared::timefmt::rfc3339(now() + d * DAY).unwrap();
    let (status, body) = p
        .propose_confirm(PauseSubscription, json!({"resumes_at": in_days(60)}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    p.propose_confirm(ResumeSubscription, json!({})).await;
    // Resumed at once: that pause used a day, not 60; 89 days remain.
    let answer = p
        .propose_confirm(PauseSubscription, json!({"resumes_at": in_days(90)}))
        .await;
    assert_eq!(
        reason(&answer),
        (403, "pause_days_exceeded".into()),
        "{}",
        answer.1
    );
    let (status, body) = p
        .propose_confirm(PauseSubscription, json!({"resumes_at": in_days(85)}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
}

// ---- resume_subscription never undoes what the merchant set ---------------------------

#[tokio::test]
async fn resume_never_clears_an_end_date_the_merchant_set() {
    let p = world().await;
    let end = (now() + 20 * DAY).to_string();
    p.h.stripe
        .post(
            &format!("/v1/subscriptions/{}", p.sub),
            &[("cancel_at", &end)],
        )
        .await;
    let path = format!("/v1/subscriptions/{}", p.sub);
    let before = p.posts(&path).await;
    let answer = p.propose_confirm(ResumeSubscription, json!({})).await;
    assert_eq!(
        reason(&answer),
        (403, "set_by_merchant".into()),
        "{}",
        answer.1
    );
    assert_eq!(p.posts(&path).await, before);
    assert_eq!(p.sub().await["cancel_at"].as_i64(), end.parse().ok());
}

#[tokio::test]
async fn resume_never_ends_a_pause_the_merchant_set() {
    let p = world().await;
    p.h.stripe
        .post(
            &format!("/v1/subscriptions/{}", p.sub),
            &[("pause_collection[behavior]", "void")],
        )
        .await;
    let answer = p.propose_confirm(ResumeSubscription, json!({})).await;
    assert_eq!(
        reason(&answer),
        (403, "set_by_merchant".into()),
        "{}",
        answer.1
    );
    assert!(p.sub().await["pause_collection"].is_object());
}

#[tokio::test]
async fn resume_undoes_what_the_bot_did() {
    let p = world().await;
    let (status, body) = p
        .propose_confirm(shared::endpoints::write::CancelSubscription, json!({}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let (status, body) = p.propose_confirm(ResumeSubscription, json!({})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let sub = p.sub().await;
    assert_eq!(sub["cancel_at_period_end"], false);
    assert!(sub["cancel_at"].is_null(), "{sub}");
}

// ---- Codes do not stack, and are no oracle --------------------------------------------

async fn promo(h: &Harness, code: &str, percent: &str, extra: &[(&str, &str)]) -> String {
    let mut coupon = vec![("percent_off", percent), ("duration", "forever")];
    coupon.extend_from_slice(extra);
    let c = h.stripe.post("/v1/coupons", &coupon).await;
    h.stripe
        .post(
            "/v1/promotion_codes",
            &[
                ("promotion[type]", "coupon"),
                ("promotion[coupon]", c["id"].as_str().unwrap()),
                ("code", code),
            ],
        )
        .await["id"]
        .as_str()
        .unwrap()
        .to_string()
}

#[tokio::test]
async fn two_public_codes_do_not_stack() {
    let p = world().await;
    promo(&p.h, "HALF1", "50", &[]).await;
    promo(&p.h, "HALF2", "50", &[]).await;
    let (status, body) = p
        .propose_confirm(ApplyCoupon, json!({"code": "HALF1"}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let answer = p
        .propose_confirm(ApplyCoupon, json!({"code": "HALF2"}))
        .await;
    assert_eq!(
        reason(&answer),
        (403, "code_not_combinable".into()),
        "{}",
        answer.1
    );
    assert_eq!(p.sub().await["discounts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn two_codes_confirmed_at_once_make_one_discount() {
    let p = world().await;
    promo(&p.h, "RACE1", "50", &[]).await;
    promo(&p.h, "RACE2", "50", &[]).await;
    let (_, a) = p.write(ApplyCoupon, json!({"code": "RACE1"})).await;
    let (_, b) = p.write(ApplyCoupon, json!({"code": "RACE2"})).await;
    let (ta, tb) = (token_of(&a), token_of(&b));
    let answers = join_all([
        p.write(ApplyCoupon, json!({"confirm": ta})),
        p.write(ApplyCoupon, json!({"confirm": tb})),
    ])
    .await;
    let done = answers
        .iter()
        .filter(|(s, b)| *s == 200 && b["status"] == "done")
        .count();
    assert_eq!(done, 1, "{answers:?}");
    assert_eq!(p.sub().await["discounts"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn another_customers_code_answers_as_an_unknown_one() {
    let p = world().await;
    let other = p.h.stripe.customer("o@example.com", None).await;
    let c =
        p.h.stripe
            .post(
                "/v1/coupons",
                &[("percent_off", "90"), ("duration", "forever")],
            )
            .await;
    p.h.stripe
        .post(
            "/v1/promotion_codes",
            &[
                ("promotion[type]", "coupon"),
                ("promotion[coupon]", c["id"].as_str().unwrap()),
                ("code", "VIPONLY"),
                ("customer", &other),
            ],
        )
        .await;
    let (s1, theirs) = p.write(ApplyCoupon, json!({"code": "VIPONLY"})).await;
    let (s2, unknown) = p.write(ApplyCoupon, json!({"code": "NOSUCHCODE"})).await;
    assert_eq!(s1, s2);
    assert_eq!(theirs["error"], unknown["error"], "indistinguishable");
}

#[tokio::test]
async fn guessing_codes_is_bounded_per_customer_per_hour() {
    let p = world().await;
    for i in 0..10 {
        let (status, body) = p
            .write(ApplyCoupon, json!({"code": format!("GUESS{i}")}))
            .await;
        assert_eq!(
            (status, body["error"]["reason"].as_str()),
            (400, Some("code_unknown"))
        );
    }
    promo(&p.h, "REAL", "10", &[]).await;
    // The 11th attempt, even with a real code, from another login of the same customer.
    let answer = p
        .write_as(
            ApplyCoupon,
            "user_2",
            &p.me.clone(),
            json!({"code": "REAL"}),
        )
        .await;
    assert_eq!(
        reason(&answer),
        (403, "code_attempt_limit".into()),
        "{}",
        answer.1
    );
}

#[tokio::test]
async fn a_code_for_another_product_is_quoted_as_stripe_applies_it() {
    let p = world().await;
    let other = p.h.stripe.post("/v1/products", &[("name", "Add-on")]).await;
    promo(
        &p.h,
        "ADDON50",
        "50",
        &[("applies_to[products][0]", other["id"].as_str().unwrap())],
    )
    .await;
    let path = format!("/v1/subscriptions/{}", p.sub);
    let answer = p.write(ApplyCoupon, json!({"code": "ADDON50"})).await;
    assert_eq!(
        reason(&answer),
        (400, "code_not_applicable".into()),
        "{}",
        answer.1
    );
    assert_eq!(p.posts(&path).await, 0);
    // And Stripe (the emulator) agrees: the code takes nothing off this plan's invoice.
    let promo_id = p.h.stripe.get("/v1/promotion_codes?code=ADDON50").await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let preview =
        p.h.stripe
            .post(
                "/v1/invoices/create_preview",
                &[
                    ("customer", &p.me),
                    ("subscription", &p.sub),
                    ("discounts[0][promotion_code]", &promo_id),
                ],
            )
            .await;
    assert_eq!(preview["amount_due"], 9900, "{preview}");
}

// ---- The same write twice is done once ------------------------------------------------

#[tokio::test]
async fn the_same_refund_asked_twice_is_made_once() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let ch = charge["id"].as_str().unwrap();
    let ask = json!({"payment_id": ch, "amount": 500});
    let (status, first) = p.propose_confirm(RequestRefund, ask.clone()).await;
    assert_eq!(
        (status, first["status"].as_str()),
        (200, Some("done")),
        "{first}"
    );
    // A model that lost track proposes and confirms the same refund again.
    let (status, second) = p.propose_confirm(RequestRefund, ask.clone()).await;
    assert_eq!(status, 200, "{second}");
    assert_eq!(second["status"], "done");
    assert!(second["data"]["duplicate_of"].is_object(), "{second}");
    assert_eq!(second["data"]["refund"], first["data"]["refund"]);
    assert!(second["summary"].as_str().unwrap().contains("already done"));
    assert_eq!(p.refunds_of(ch).await, 1);
}

#[tokio::test]
async fn identical_proposals_confirmed_at_once_refund_once() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let ch = charge["id"].as_str().unwrap();
    let mut tokens = Vec::new();
    for _ in 0..10 {
        let (_, body) = p
            .write(RequestRefund, json!({"payment_id": ch, "amount": 500}))
            .await;
        tokens.push(token_of(&body));
    }
    let answers = join_all(
        tokens
            .iter()
            .map(|t| p.write(RequestRefund, json!({"confirm": t}))),
    )
    .await;
    assert!(answers.iter().all(|(s, _)| *s == 200), "{answers:?}");
    assert_eq!(p.refunds_of(ch).await, 1);
    let dups = answers
        .iter()
        .filter(|(_, b)| b["data"]["duplicate_of"].is_object())
        .count();
    assert_eq!(dups, 9);
}

// ---- No email takeover ----------------------------------------------------------------

#[tokio::test]
async fn no_visitor_takes_another_customers_email() {
    let p = world().await;
    let victim = p.h.stripe.customer("victim@example.com", None).await;
    let path = format!("/v1/customers/{}", p.me);
    let before = p.posts(&path).await;
    let answer = p
        .propose_confirm(UpdateBillingDetails, json!({"email": "Victim@Example.com"}))
        .await;
    assert_eq!(
        reason(&answer),
        (403, "email_in_use".into()),
        "{}",
        answer.1
    );
    assert_eq!(p.posts(&path).await, before);
    // The victim still signs in by email.
    let token = p.h.token(visitor_claims(
        "victim",
        json!({"email": "victim@example.com", "email_verified": true}),
    ));
    let (status, body) = p.h.call(&GetBillingInfo, Some(&token), "{}").await;
    assert_eq!(status, 200, "{body}");
    let audit = p.h.audit.records.lock().unwrap().clone();
    assert_eq!(
        audit.last().unwrap().customer.as_deref(),
        Some(victim.as_str())
    );
}

#[tokio::test]
async fn one_email_change_in_30_days() {
    let p = world().await;
    let (status, body) = p
        .propose_confirm(UpdateBillingDetails, json!({"email": "new@example.com"}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let answer = p
        .propose_confirm(UpdateBillingDetails, json!({"email": "newer@example.com"}))
        .await;
    assert_eq!(
        reason(&answer),
        (403, "email_change_limit".into()),
        "{}",
        answer.1
    );
    // Other details may still change.
    let (status, body) = p
        .propose_confirm(UpdateBillingDetails, json!({"name": "Ada"}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    p.h.configure(|c| c.policy.email_changes = false);
    let answer = p
        .write_as(
            UpdateBillingDetails,
            "u9",
            &p.h.stripe.customer("z@example.com", None).await,
            json!({"email": "zz@example.com"}),
        )
        .await;
    assert_eq!(reason(&answer), (403, "email_changes_off".into()));
}

// ---- Fail closed ----------------------------------------------------------------------

#[test]
fn a_new_tenant_serves_no_write_tool_and_a_later_tool_starts_off() {
    let fresh = TenantConfig::new("fresh");
    for tool in ["request_refund", "change_plan", "get_subscription_status"] {
        assert!(
            !registry::served(&fresh, tool),
            "{tool} served by a tenant that lists nothing"
        );
    }
    // A config stored before the list: what it served then, and nothing newer.
    let old: TenantConfig = serde_json::from_value(json!({"tenant": "old"})).unwrap();
    assert!(registry::served(&old, "request_refund"));
    // A tool of a later release, which the registry marks as not served by old configs.
    assert!(
        !old.serves("start_subscription", false),
        "a later release's tool starts off"
    );
}

#[tokio::test]
async fn no_listed_prices_is_no_plan_change() {
    let p = world().await;
    p.h.configure(|c| c.allowed_prices.clear());
    // A $0 internal price, active in the account: never reachable.
    let free = p.h.stripe.price("Internal", 0, "usd").await;
    for price in [&free, &p.starter] {
        let answer = p.write(ChangePlan, json!({"price_id": price})).await;
        assert_eq!(
            reason(&answer),
            (403, "no_prices_allowed".into()),
            "{}",
            answer.1
        );
    }
    assert_eq!(p.posts(&format!("/v1/subscriptions/{}", p.sub)).await, 0);
}

// ---- Budgets no caller can spend for others ---------------------------------------------

#[tokio::test]
async fn one_customers_refunds_do_not_use_up_the_tenants() {
    let p = world().await;
    p.h.configure(|c| c.policy.refunds_per_hour = 4);
    let charge = p.latest_charge(&p.me).await;
    let ch = charge["id"].as_str().unwrap();
    let mut answers = Vec::new();
    for cents in [1, 2, 3, 4, 5] {
        answers.push(
            p.propose_confirm(RequestRefund, json!({"payment_id": ch, "amount": cents}))
                .await,
        );
    }
    let done = answers.iter().filter(|(s, _)| *s == 200).count();
    assert_eq!(done, 3, "{answers:?}");
    assert_eq!(
        reason(&answers[3]),
        (403, "customer_refund_rate_exceeded".into())
    );
    // The tenant's other customers still get theirs.
    let them =
        p.h.stripe
            .customer("them@example.com", Some("pm_card_visa"))
            .await;
    p.h.stripe.subscribe(&them, &p.growth, &[]).await;
    let theirs = p.latest_charge(&them).await;
    let (_, body) = p
        .write_as(
            RequestRefund,
            "user_9",
            &them,
            json!({"payment_id": theirs["id"], "amount": 100}),
        )
        .await;
    let (status, body) = p
        .write_as(
            RequestRefund,
            "user_9",
            &them,
            json!({"confirm": token_of(&body)}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
}

#[tokio::test]
async fn a_flooding_visitor_never_spends_the_others_budget() {
    let p = world().await;
    p.h.configure(|c| {
        c.rate_limits.per_visitor_per_minute = 5;
        c.rate_limits.per_tenant_per_minute = 12;
    });
    let flood = p.token_as("flood", &p.me);
    let mut statuses = Vec::new();
    for _ in 0..30 {
        statuses.push(p.h.call(&GetBillingInfo, Some(&flood), "{}").await.0);
    }
    assert!(
        statuses.iter().filter(|s| **s == 429).count() >= 25,
        "{statuses:?}"
    );
    for i in 0..3 {
        let calm = p.token_as(&format!("calm{i}"), &p.me);
        let (status, body) = p.h.call(&GetSubscriptionStatus, Some(&calm), "{}").await;
        assert_eq!(status, 200, "{body}");
    }
}

fn mcp_request(token: &str, body: &Value) -> Request {
    lambda_http::http::Request::builder()
        .method("POST")
        .uri(format!("/v1/{TENANT}/mcp"))
        .header("authorization", format!("Bearer {token}"))
        .header("content-type", "application/json")
        .header("accept", "application/json")
        .header("mcp-protocol-version", "2025-03-26")
        .body(Body::Text(body.to_string()))
        .unwrap()
}

fn tool_calls(n: usize) -> Value {
    Value::Array(
        (0..n)
            .map(|i| {
                json!({"jsonrpc": "2.0", "id": i, "method": "tools/call",
                            "params": {"name": "get_billing_info", "arguments": {}}})
            })
            .collect(),
    )
}

#[tokio::test]
async fn an_mcp_batch_is_bounded_and_counted_before_it_runs() {
    let p = world().await;
    p.h.configure(|c| c.rate_limits.per_visitor_per_minute = 12);
    // Rates are counted per calendar minute: start well inside one, so the batches below
    // are counted in the same minute (a run that crossed one saw its counter start over).
    let second = shared::timefmt::now_unix().rem_euclid(60);
    if second > 45 {
        tokio::time::sleep(std::time::Duration::from_secs((61 - second) as u64)).await;
    }
    let token = p.token_as("mcp_user", &p.me);
    let asked = p.h.stripe.request_count().await;
    let resp = shared::edge::mcp::handle(&p.h.app, mcp_request(&token, &tool_calls(11))).await;
    assert_eq!(resp.status(), 400);
    assert_eq!(p.h.stripe.request_count().await, asked, "nothing of it ran");
    let resp = shared::edge::mcp::handle(&p.h.app, mcp_request(&token, &tool_calls(10))).await;
    assert_eq!(resp.status(), 200);
    let asked = p.h.stripe.request_count().await;
    // 10 of 12 used: a batch of 5 does not fit, and none of it runs.
    let resp = shared::edge::mcp::handle(&p.h.app, mcp_request(&token, &tool_calls(5))).await;
    assert_eq!(resp.status(), 429);
    assert_eq!(p.h.stripe.request_count().await, asked);
}

// ---- Once, for good ---------------------------------------------------------------------

async fn fault(p: &P, kind: &str, after: bool) {
    p.h.stripe
        .control(
            "faults",
            json!({"kind": kind, "count": 3, "key": p.h.stripe.key, "method": "POST",
                   "after": after, "hang_ms": 1000}),
        )
        .await;
}

#[tokio::test]
async fn a_claimed_confirmation_past_its_life_expires_instead_of_acting() {
    let p = world().await;
    p.h.configure(|c| c.policy.confirmation_ttl_secs = 2);
    let charge = p.latest_charge(&p.me).await;
    let ch = charge["id"].as_str().unwrap();
    let (_, body) = p
        .write(RequestRefund, json!({"payment_id": ch, "amount": 700}))
        .await;
    let confirm = json!({"confirm": token_of(&body)});
    fault(&p, "hang", false).await;
    let (status, _) = p.write(RequestRefund, confirm.clone()).await;
    assert_eq!(status, 503);
    p.h.stripe.clear_faults().await;
    tokio::time::sleep(std::time::Duration::from_millis(2500)).await;
    let answer = p.write(RequestRefund, confirm.clone()).await;
    assert_eq!(
        answer.1["error"]["code"], "confirmation_expired",
        "{}",
        answer.1
    );
    assert_eq!(
        p.refunds_of(ch).await,
        0,
        "nothing happened, and nothing will"
    );
    // What it held is given back: the same refund can be asked afresh.
    p.h.configure(|c| c.policy.confirmation_ttl_secs = 600);
    let (status, body) = p
        .propose_confirm(RequestRefund, json!({"payment_id": ch, "amount": 700}))
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    assert_eq!(p.refunds_of(ch).await, 1);
}

/// Stripe applied the refund but its answer was lost; Stripe forgets the idempotency key
/// after 24 h. The retry looks for the refund first (the confirmation id is in its
/// metadata), so it does not refund again. (Needed the emulator to prune keys after 24 h,
/// as Stripe may.)
#[tokio::test]
async fn a_lost_answer_retried_after_stripes_idempotency_window_acts_once() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let ch = charge["id"].as_str().unwrap();
    let (_, body) = p
        .write(RequestRefund, json!({"payment_id": ch, "amount": 800}))
        .await;
    let confirm = json!({"confirm": token_of(&body)});
    fault(&p, "reset", true).await;
    let (status, _) = p.write(RequestRefund, confirm.clone()).await;
    assert_eq!(status, 503);
    p.h.stripe.clear_faults().await;
    assert_eq!(p.refunds_of(ch).await, 1, "Stripe did refund");
    p.h.stripe
        .control("clock/advance", json!({"seconds": 25 * 3600}))
        .await;
    let (status, body) = p.write(RequestRefund, confirm).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    assert_eq!(p.refunds_of(ch).await, 1, "and only once");
}

// ---- The smaller ones -------------------------------------------------------------------

#[tokio::test]
async fn reads_never_push_a_refund_out_of_agent_insight() {
    let p = world().await;
    for _ in 0..2 {
        p.h.stripe.subscribe(&p.me, &p.starter, &[]).await;
    }
    let charge = p.latest_charge(&p.me).await;
    let (status, body) = p
        .propose_confirm(
            RequestRefund,
            json!({"payment_id": charge["id"], "amount": 100}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let token = p.token_as("user_1", &p.me);
    for _ in 0..12 {
        p.h.call(&GetBillingInfo, Some(&token), "{}").await;
    }
    let agent = agent_token(TENANT, json!({}));
    let (status, insight) = p.h.insight(Some(&agent), &[("customer_id", &p.me)]).await;
    assert_eq!(status, 200, "{insight}");
    let actions = insight["recent_actions"].as_array().unwrap();
    assert_eq!(
        actions[0]["tool"], "request_refund",
        "writes first: {actions:?}"
    );
    assert!(actions.len() <= 10);
    assert_eq!(
        insight["recent_payments"].as_array().unwrap().len(),
        3,
        "{insight}"
    );
}

fn dispute_event(charge: &str) -> Value {
    json!({
        "id": format!("evt_{}", random(16)), "object": "event", "type": "charge.dispute.created",
        "created": now(), "livemode": false,
        "data": {"object": {"id": format!("dp_{}", random(12)), "object": "dispute",
                            "charge": charge, "amount": 9900, "currency": "usd",
                            "status": "needs_response", "reason": "fraudulent"}},
    })
}

async fn deliver(h: &Harness, event: &Value) -> (u16, Value) {
    let secret = h.webhook_secrets(TENANT)[0].clone();
    let body = event.to_string();
    h.request(
        &StripeWebhook,
        TENANT,
        "POST",
        &[
            ("stripe-signature", &sign(&secret, now(), body.as_bytes())),
            ("content-type", "application/json"),
        ],
        &[],
        body.as_bytes(),
    )
    .await
}

#[tokio::test]
async fn a_dispute_is_found_through_its_charge() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let event = dispute_event(charge["id"].as_str().unwrap());
    let (status, body) = deliver(&p.h, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    let facts = p.h.app.state.facts(TENANT, &p.me).await.unwrap();
    assert!(
        facts.iter().any(|f| f.key.starts_with("dispute#")),
        "{facts:?}"
    );
}

#[tokio::test]
async fn an_event_over_64_kib_is_taken() {
    let p = world().await;
    let charge = p.latest_charge(&p.me).await;
    let mut event = dispute_event(charge["id"].as_str().unwrap());
    // Stripe's objects can be large (an invoice's lines, metadata): 200 KiB here.
    event["data"]["object"]["evidence_details"] = json!({"note": "x".repeat(200 * 1024)});
    let (status, body) = deliver(&p.h, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
}
