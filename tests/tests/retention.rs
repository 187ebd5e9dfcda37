//! Retention offers: a cancel preview offers what the tenant configured for the reason
//! given, leaving out what this customer could not take; accepting is the offered tool's
//! own two-phase write under its bounds, and the cancellation is then not done; a retention
//! discount is given once per customer in 12 months.
use integration::{Harness, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::write::{ApplyCoupon, CancelSubscription, ChangePlan, PauseSubscription};
use shared::pipeline::endpoint::Endpoint;
use shared::pipeline::two_phase::Write;
use shared::ports::tenants::RetentionOffer;

struct R {
    h: Harness,
    me: String,
    token: String,
    growth: String,
    starter: String,
}

async fn world() -> R {
    let h = Harness::new().await;
    let growth = h.stripe.price("Growth", 4900, "usd").await;
    let starter = h.stripe.price("Starter", 1900, "usd").await;
    let c = h
        .stripe
        .post(
            "/v1/coupons",
            &[("percent_off", "25"), ("duration", "once")],
        )
        .await;
    h.stripe
        .post(
            "/v1/promotion_codes",
            &[
                ("promotion[type]", "coupon"),
                ("promotion[coupon]", c["id"].as_str().unwrap()),
                ("code", "STAY25"),
            ],
        )
        .await;
    let (g, s) = (growth.clone(), starter.clone());
    h.configure(move |c| {
        c.allowed_prices = vec![g.clone(), s.clone()];
        // Only the codes listed: the retention code is the tenant's to give all the same.
        c.policy.allowed_codes = vec!["WELCOME10".into()];
        c.policy.retention.insert(
            "too_expensive".into(),
            vec![
                RetentionOffer::Discount {
                    code: "STAY25".into(),
                },
                RetentionOffer::Downgrade { price: s.clone() },
            ],
        );
        c.policy
            .retention
            .insert("unused".into(), vec![RetentionOffer::Pause { days: 30 }]);
    });
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    let token = h.token(visitor_claims("user_1", json!({"stripe_customer_id": me})));
    R {
        h,
        me,
        token,
        growth,
        starter,
    }
}

impl R {
    async fn call<E: Endpoint>(&self, e: &E, body: Value) -> (u16, Value) {
        self.h.call(e, Some(&self.token), &body.to_string()).await
    }

    async fn cancel_preview(&self, reason: &str) -> Value {
        let (status, body) = self
            .call(&Write(CancelSubscription), json!({"reason": reason}))
            .await;
        assert_eq!(status, 200, "{body}");
        assert_eq!(body["status"], "confirmation_required", "{body}");
        body
    }

    /// Takes an offer: its `accept` call, then its confirmation.
    async fn accept(&self, offer: &Value) -> (u16, Value) {
        let args = offer["accept"]["arguments"].clone();
        let tool = offer["accept"]["tool"].as_str().unwrap();
        let propose = |a: Value| async move {
            match tool {
                "apply_coupon" => self.call(&Write(ApplyCoupon), a).await,
                "change_plan" => self.call(&Write(ChangePlan), a).await,
                "pause_subscription" => self.call(&Write(PauseSubscription), a).await,
                other => panic!("unexpected tool {other}"),
            }
        };
        let (status, body) = propose(args).await;
        if status != 200 || body["status"] != "confirmation_required" {
            return (status, body);
        }
        propose(json!({"confirm": body["confirmation"]["token"]})).await
    }

    async fn sub(&self) -> Value {
        let list = self
            .h
            .stripe
            .get(&format!("/v1/subscriptions?customer={}", self.me))
            .await;
        list["data"][0].clone()
    }
}

fn kinds(preview: &Value) -> Vec<String> {
    preview["data"]["offers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["kind"].as_str().unwrap().to_string())
        .collect()
}

#[tokio::test]
async fn too_expensive_offers_the_discount_and_taking_it_keeps_the_subscription() {
    let r = world().await;
    r.h.stripe.subscribe(&r.me, &r.growth, &[]).await;
    let preview = r.cancel_preview("too_expensive").await;
    assert_eq!(kinds(&preview), ["discount", "downgrade"], "{preview}");
    let summary = preview["summary"].as_str().unwrap();
    assert!(
        summary.contains("STAY25") && summary.contains("$19.00/month"),
        "{summary}"
    );
    let offers = preview["data"]["offers"].as_array().unwrap();
    assert_eq!(offers[0]["accept"]["tool"], "apply_coupon");
    assert_eq!(
        offers[1]["accept"]["arguments"]["price_id"],
        r.starter.as_str()
    );

    let (status, body) = r.accept(&offers[0]).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    let sub = r.sub().await;
    assert_eq!(sub["discounts"].as_array().unwrap().len(), 1, "{sub}");
    assert_eq!(sub["cancel_at_period_end"], false);
    assert!(sub["cancel_at"].is_null());

    // Once in 12 months: the discount is no longer offered, and asked for directly it is
    // refused.
    let again = r.cancel_preview("too_expensive").await;
    assert_eq!(kinds(&again), ["downgrade"], "{again}");
    let second = r.h.stripe.subscribe(&r.me, &r.growth, &[]).await;
    let (status, body) = r
        .call(
            &Write(ApplyCoupon),
            json!({"code": "STAY25", "subscription_id": second["id"], "offer": "discount_stay25"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (403, Some("offer_used")),
        "{body}"
    );
}

#[tokio::test]
async fn a_pause_is_offered_on_a_monthly_plan_and_left_out_on_a_yearly_one() {
    let r = world().await;
    r.h.stripe.subscribe(&r.me, &r.growth, &[]).await;
    let preview = r.cancel_preview("unused").await;
    assert_eq!(kinds(&preview), ["pause"], "{preview}");
    let (status, body) = r.accept(&preview["data"]["offers"][0]).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    assert!(!r.sub().await["pause_collection"].is_null());

    let r = world().await;
    let product = r.h.stripe.post("/v1/products", &[("name", "Yearly")]).await;
    let yearly =
        r.h.stripe
            .post(
                "/v1/prices",
                &[
                    ("product", product["id"].as_str().unwrap()),
                    ("unit_amount", "49000"),
                    ("currency", "usd"),
                    ("recurring[interval]", "year"),
                ],
            )
            .await;
    r.h.stripe
        .subscribe(&r.me, yearly["id"].as_str().unwrap(), &[])
        .await;
    let preview = r.cancel_preview("unused").await;
    assert!(kinds(&preview).is_empty(), "{preview}");
    // No reason, or one with no offers: none.
    assert!(kinds(&r.cancel_preview("other").await).is_empty());
}

#[tokio::test]
async fn confirming_the_cancel_turns_the_offers_down_and_cancels() {
    let r = world().await;
    r.h.stripe.subscribe(&r.me, &r.growth, &[]).await;
    let preview = r.cancel_preview("too_expensive").await;
    let (status, body) = r
        .call(
            &Write(CancelSubscription),
            json!({"confirm": preview["confirmation"]["token"]}),
        )
        .await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    assert_eq!(r.sub().await["cancel_at_period_end"], true);
}

#[tokio::test]
async fn an_offer_id_that_was_not_offered_is_refused_and_changes_nothing() {
    let r = world().await;
    let sub = r.h.stripe.subscribe(&r.me, &r.growth, &[]).await;
    for (tool, args) in [
        (
            "apply_coupon",
            json!({"code": "STAY25", "subscription_id": sub["id"], "offer": "pause_30d"}),
        ),
        (
            "change_plan",
            json!({"price_id": r.starter, "subscription_id": sub["id"], "offer": "downgrade_price_x"}),
        ),
        (
            "apply_coupon",
            json!({"code": "STAY25", "offer": "bad offer!"}),
        ),
    ] {
        let (status, body) = match tool {
            "apply_coupon" => r.call(&Write(ApplyCoupon), args.clone()).await,
            _ => r.call(&Write(ChangePlan), args.clone()).await,
        };
        assert_eq!(status, 400, "{args}: {body}");
    }
    assert!(r.sub().await["discounts"].as_array().unwrap().is_empty());
}
