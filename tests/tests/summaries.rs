//! Each summary a bot says, checked against the data it describes, for the states where
//! the old wording was wrong; agent insight's facts and voice; plain-word errors.
use integration::{Harness, OTHER_TENANT, TENANT, agent_token, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::read::{
    GetBillingInfo, GetBillingPortalLink, GetCreditBalance, GetInvoiceHistory, GetPaymentHistory,
    GetSubscriptionStatus, GetUpcomingInvoice,
};
use shared::pipeline::endpoint::Tool;

const DAY: i64 = 86_400;

struct Demo {
    h: Harness,
    prices: Vec<String>,
}

impl Demo {
    async fn new() -> Self {
        let h = Harness::new().await;
        let mut prices = Vec::new();
        for (name, amount) in [("Starter", 1900), ("Growth", 4900), ("Scale", 9900)] {
            prices.push(h.stripe.price(name, amount, "usd").await);
        }
        Self { h, prices }
    }

    async fn active(&self) -> (String, Value) {
        let c = self
            .h
            .stripe
            .customer("ada@example.com", Some("pm_card_visa"))
            .await;
        let sub = self.h.stripe.subscribe(&c, &self.prices[1], &[]).await;
        (c, sub)
    }

    async fn canceling(&self) -> String {
        let (c, sub) = self.active().await;
        self.h
            .stripe
            .post(
                &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
                &[("cancel_at_period_end", "true")],
            )
            .await;
        c
    }

    /// An open invoice for manual payment, due in 30 days.
    async fn manual(&self) -> (String, String) {
        let c = self.h.stripe.customer("max@example.com", None).await;
        let sub = self
            .h
            .stripe
            .subscribe(
                &c,
                &self.prices[0],
                &[
                    ("collection_method", "send_invoice"),
                    ("days_until_due", "30"),
                ],
            )
            .await;
        (c, sub["latest_invoice"].as_str().unwrap().to_string())
    }

    /// A renewal the card declines, as in Stripe: the subscription goes past due.
    async fn past_due(&self) -> String {
        let s = &self.h.stripe;
        let c = s.customer("pat@example.com", Some("pm_card_visa")).await;
        let sub = s.subscribe(&c, &self.prices[0], &[]).await;
        let failing = s.set_card(&c, "pm_card_chargeCustomerFail").await;
        s.post(
            &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
            &[("default_payment_method", &failing)],
        )
        .await;
        s.control("clock/advance", json!({"seconds": 32 * DAY}))
            .await;
        c
    }

    async fn credit(&self, customer: &str, amount: i64) {
        self.h
            .stripe
            .post(
                &format!("/v1/customers/{customer}/balance_transactions"),
                &[("amount", &(-amount).to_string()), ("currency", "usd")],
            )
            .await;
    }

    async fn call<T: Tool>(&self, tool: T, customer: &str, args: Value) -> (u16, Value) {
        let token = self.h.token(visitor_claims(
            "user_1",
            json!({"stripe_customer_id": customer}),
        ));
        self.h.call(&tool, Some(&token), &args.to_string()).await
    }

    async fn summary<T: Tool>(&self, tool: T, customer: &str, args: Value) -> String {
        let (status, body) = self.call(tool, customer, args).await;
        assert_eq!(status, 200, "{body}");
        body["summary"].as_str().unwrap().to_string()
    }

    async fn insight(&self, customer: &str) -> Value {
        let token = agent_token(TENANT, json!({}));
        let (status, body) = self
            .h
            .insight(Some(&token), &[("customer_id", customer)])
            .await;
        assert_eq!(status, 200, "{body}");
        body
    }
}

#[tokio::test]
async fn invoice_counts_say_when_more_exist_and_since_is_not_yet() {
    let d = Demo::new().await;
    let (c, _) = d.active().await;
    d.h.stripe
        .control("clock/advance", json!({"seconds": 32 * DAY}))
        .await;
    let (_, body) = d.call(GetInvoiceHistory, &c, json!({"limit": 1})).await;
    assert_eq!(body["data"]["has_more"], true);
    let s = body["summary"].as_str().unwrap();
    assert!(!s.contains("You have one"), "{s}");
    assert!(
        s.starts_with("Your latest invoice (you have more) is invoice"),
        "{s}"
    );
    let s = d
        .summary(
            GetInvoiceHistory,
            &c,
            json!({"since": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(
        s,
        "You don't have any invoices since January 1, 2099 (UTC)."
    );
}

#[tokio::test]
async fn an_open_invoice_is_said_once_with_its_due_date() {
    let d = Demo::new().await;
    let (c, id) = d.manual().await;
    let inv = d.h.stripe.get(&format!("/v1/invoices/{id}")).await;
    let number = inv["number"].as_str().unwrap();
    let s = d.summary(GetInvoiceHistory, &c, json!({})).await;
    assert_eq!(s.matches(number).count(), 1, "{s}");
    assert!(s.contains("open with $19.00 due by"), "{s}");
}

#[tokio::test]
async fn credit_balance_never_says_nothing_is_owed_over_an_open_invoice() {
    let d = Demo::new().await;
    let (c, _) = d.manual().await;
    let (_, body) = d.call(GetCreditBalance, &c, json!({})).await;
    let s = body["summary"].as_str().unwrap();
    assert!(
        !s.contains("owe nothing") && !s.contains("nothing is owed"),
        "{s}"
    );
    assert!(s.contains("is open with $19.00 due by"), "{s}");
    assert_eq!(body["data"]["open_invoices"].as_array().unwrap().len(), 1);
    let nobody = d.h.stripe.customer("nell@example.com", None).await;
    let s = d.summary(GetCreditBalance, &nobody, json!({})).await;
    assert_eq!(s, "You have no account credit, and nothing is owed.");
}

#[tokio::test]
async fn a_canceling_customer_is_not_offered_a_cancel_link() {
    let d = Demo::new().await;
    let c = d.canceling().await;
    let (status, body) = d
        .call(
            GetBillingPortalLink,
            &c,
            json!({"flow": "subscription_cancel"}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    let s = body["summary"].as_str().unwrap();
    assert!(!s.contains("to cancel your subscription"), "{s}");
    assert!(s.contains("already set to cancel on"), "{s}");
    assert_eq!(body["data"]["flow"], Value::Null, "no cancel deep link");
    assert!(body["data"]["cancels_at"].is_string());

    // One meaning of `canceled_at`: it has ended. A scheduled cancellation is `cancels_at`.
    let (_, body) = d.call(GetSubscriptionStatus, &c, json!({})).await;
    let sub = &body["data"]["subscriptions"][0];
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["canceled_at"], Value::Null, "{sub}");
    assert!(sub["cancels_at"].is_string() && sub["cancellation_requested_at"].is_string());
}

#[tokio::test]
async fn credit_is_said_as_subtracted_not_included() {
    let d = Demo::new().await;
    let (c, _) = d.active().await;
    d.credit(&c, 1500).await;
    let (_, body) = d.call(GetUpcomingInvoice, &c, json!({})).await;
    let s = body["summary"].as_str().unwrap();
    assert!(!s.contains("includes"), "{s}");
    assert!(s.starts_with("Your next invoice will be $34.00 on"), "{s}");
    assert!(
        s.contains("after $15.00 of account credit is applied."),
        "{s}"
    );
    let up = &body["data"]["upcoming_invoice"];
    assert_eq!(up["discount_total"]["amount"], 0, "money, not a list: {up}");
    assert!(up.get("discounts").is_none());
}

#[tokio::test]
async fn a_failed_payment_says_the_card_was_declined() {
    let d = Demo::new().await;
    let c = d.past_due().await;
    let (_, body) = d.call(GetPaymentHistory, &c, json!({})).await;
    let s = body["summary"].as_str().unwrap();
    assert!(s.contains("failed: the card was declined."), "{s}");
    assert_eq!(
        body["data"]["payments"][0]["failure_reason"],
        "the card was declined"
    );
}

#[tokio::test]
async fn dates_follow_the_tenant_time_zone_or_say_utc() {
    let d = Demo::new().await;
    let (c, _) = d.active().await;
    let s = d.summary(GetSubscriptionStatus, &c, json!({})).await;
    assert!(s.contains("(UTC)"), "{s}");
    d.h.configure(|t| t.time_zone = Some("America/Los_Angeles".into()));
    let s = d.summary(GetSubscriptionStatus, &c, json!({})).await;
    assert!(
        !s.contains("UTC") && s.contains("Your next payment is due on"),
        "{s}"
    );
}

#[tokio::test]
async fn agent_insight_tells_the_facts_that_matter() {
    let d = Demo::new().await;
    let canceling = d.canceling().await;
    let s = d.insight(&canceling).await["summary"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(
        s.contains("set to cancel on") && s.contains("(requested"),
        "{s}"
    );

    let (manual, _) = d.manual().await;
    let body = d.insight(&manual).await;
    let s = body["summary"].as_str().unwrap();
    assert!(s.contains("is open with $19.00 due by"), "{s}");
    assert_eq!(body["open_invoices"].as_array().unwrap().len(), 1);

    let (credit, _) = d.active().await;
    d.credit(&credit, 1500).await;
    let body = d.insight(&credit).await;
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("Account credit: $15.00.")
    );
    assert_eq!(body["credit"]["amount"], 1500);

    let past_due = d.past_due().await;
    let body = d.insight(&past_due).await;
    let s = body["summary"].as_str().unwrap();
    assert!(s.contains("past due") && s.contains("$19.00 owed"), "{s}");
    assert!(s.contains("failed: the card was declined"), "{s}");
    assert_eq!(
        body["last_payment_failure"]["reason"],
        "the card was declined"
    );
}

#[tokio::test]
async fn agent_insight_errors_speak_to_the_agent_and_list_candidates() {
    let d = Demo::new().await;
    let (status, body) = d.h.insight(None, &[("email", "x@example.com")]).await;
    assert_eq!(status, 401);
    let m = body["error"]["message"].as_str().unwrap();
    assert!(m.contains("agent token") && !m.contains("visitor"), "{m}");

    let token = agent_token(TENANT, json!({}));
    let (status, body) =
        d.h.insight(Some(&token), &[("email", "nobody@example.com")])
            .await;
    assert_eq!(status, 404);
    let m = body["error"]["message"].as_str().unwrap();
    assert!(
        !m.contains("for you") && m.contains("No Stripe customer"),
        "{m}"
    );

    let a = d.h.stripe.customer("sam@example.com", None).await;
    let b = d.h.stripe.customer("Sam@Example.com", None).await;
    let (status, body) =
        d.h.insight(Some(&token), &[("email", "sam@example.com")])
            .await;
    assert_eq!(status, 409, "{body}");
    let mut ids: Vec<&str> = body["error"]["candidates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| {
            assert!(c["name"].is_string() && c["created"].is_string(), "{c}");
            c["id"].as_str().unwrap()
        })
        .collect();
    ids.sort();
    let mut want = [a.as_str(), b.as_str()];
    want.sort();
    assert_eq!(ids, want);
    // A visitor with the same email sees no one else's account.
    let visitor = d.h.token(visitor_claims(
        "u",
        json!({"email": "sam@example.com", "email_verified": true}),
    ));
    let (status, body) = d.h.call(&GetBillingInfo, Some(&visitor), "{}").await;
    assert_eq!(status, 409);
    assert!(body["error"].get("candidates").is_none() && !body.to_string().contains("cus_"));
}

#[tokio::test]
async fn bad_arguments_get_plain_words_that_name_the_field() {
    let d = Demo::new().await;
    let (c, _) = d.active().await;
    for (args, want) in [
        (
            json!({"limit": "5"}),
            "Invalid field `limit`: must be a whole number from 1 to 24, not a string.",
        ),
        (
            json!({"limit": 2.5}),
            "Invalid field `limit`: must be a whole number from 1 to 24, not a number with a fraction.",
        ),
        (
            json!({"limits": 5}),
            "`limits` is not an argument of get_invoice_history; it takes `limit` and `since`.",
        ),
    ] {
        let (status, body) = d.call(GetInvoiceHistory, &c, args.clone()).await;
        assert_eq!(
            (status, body["error"]["message"].as_str()),
            (400, Some(want)),
            "{args}"
        );
    }
    let (status, body) = d.call(GetInvoiceHistory, &c, json!({"limit": 2.0})).await;
    assert_eq!(status, 200, "2.0 is the whole number 2: {body}");
    let (_, body) = d.call(GetBillingInfo, &c, json!({"x": 1})).await;
    assert_eq!(
        body["error"]["message"],
        "`x` is not an argument: get_billing_info takes none; send {}."
    );
    let long = format!("sub_{}", "a".repeat(1020));
    let (status, body) = d
        .call(GetSubscriptionStatus, &c, json!({"subscription_id": long}))
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .unwrap()
            .contains("too long"),
        "{body}"
    );
}

#[tokio::test]
async fn refused_calls_are_audited_under_their_customer() {
    let d = Demo::new().await;
    let (c, _) = d.active().await;
    d.h.map_contact("user_mapped", &c);
    d.h.disable("get_billing_info");
    let token = d.h.token(visitor_claims("user_mapped", json!({})));
    let (status, _) = d.h.call(&GetBillingInfo, Some(&token), "{}").await;
    assert_eq!(status, 403);
    let (status, _) =
        d.h.call(&GetInvoiceHistory, Some(&token), r#"{"limit": 99}"#)
            .await;
    assert_eq!(status, 400);
    let records = d.h.audit.records.lock().unwrap().clone();
    let pk = format!("{TENANT}#{c}");
    for outcome in ["tool_disabled", "invalid_request"] {
        let r = records
            .iter()
            .find(|r| r.outcome == outcome)
            .unwrap_or_else(|| panic!("no {outcome} record: {records:?}"));
        assert_eq!(
            (r.pk.as_str(), r.decision.as_str()),
            (pk.as_str(), "refused")
        );
    }
}

#[tokio::test]
async fn only_aud_refuses_a_token_for_another_tenant_sharing_the_secret() {
    let d = Demo::new().await;
    let (c, _) = d.active().await;
    // The two tenants share one identity secret, so the signature alone cannot refuse.
    let shared_secret = d.h.identity_secret(TENANT, 0);
    {
        let mut secrets = d.h.tenants.secrets.lock().unwrap();
        let other = secrets.get_mut(OTHER_TENANT).unwrap();
        other.identity_secrets = vec![shared::secret::Secret::new(shared_secret.clone())];
    }
    d.h.app.tenants.forget(OTHER_TENANT);
    let mut claims = visitor_claims("user_1", json!({"stripe_customer_id": c}));
    claims["aud"] = json!(OTHER_TENANT);
    let token = integration::mint(&shared_secret, &claims);
    let (status, body) = d.h.call(&GetBillingInfo, Some(&token), "{}").await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (401, Some("wrong_audience"))
    );
    // The same token is good where its `aud` points.
    let (status, _) =
        d.h.call_at(&GetBillingInfo, OTHER_TENANT, Some(&token), "{}")
            .await;
    assert_ne!(status, 401);
}
