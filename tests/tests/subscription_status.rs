//! get_subscription_status through the whole pipeline, in process, against the emulator.
use std::time::{Duration, Instant};

use integration::{Harness, OTHER_TENANT, StripeAccount, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::read::GetSubscriptionStatus;

const TOOL: GetSubscriptionStatus = GetSubscriptionStatus;
const DAY: i64 = 86_400;

async fn call_as(h: &Harness, customer: &str, body: &str) -> (u16, Value) {
    let token = h.token(visitor_claims(
        "user_1",
        json!({"stripe_customer_id": customer}),
    ));
    h.call(&TOOL, Some(&token), body).await
}

fn first_sub(body: &Value) -> &Value {
    &body["data"]["subscriptions"][0]
}

#[tokio::test]
async fn answers_for_each_state() {
    let h = Harness::new().await;
    let s = &h.stripe;
    let growth = s.price("Growth", 4900, "usd").await;
    let starter = s.price("Starter", 1900, "usd").await;

    // Past due first: it needs a renewal the failing card cannot pay.
    let past_due = s.customer("pat@example.com", Some("pm_card_visa")).await;
    let sub = s.subscribe(&past_due, &starter, &[]).await;
    let failing = s.set_card(&past_due, "pm_card_chargeCustomerFail").await;
    s.post(
        &format!("/v1/subscriptions/{}", sub["id"].as_str().unwrap()),
        &[("default_payment_method", &failing)],
    )
    .await;
    s.control("clock/advance", json!({"seconds": 32 * DAY}))
        .await;

    let active = s.customer("ada@example.com", Some("pm_card_visa")).await;
    s.subscribe(&active, &growth, &[]).await;
    let trialing = s.customer("tara@example.com", Some("pm_card_visa")).await;
    s.subscribe(&trialing, &growth, &[("trial_period_days", "14")])
        .await;
    let canceling = s.customer("carl@example.com", Some("pm_card_visa")).await;
    s.subscribe(&canceling, &growth, &[("cancel_at_period_end", "true")])
        .await;
    let nothing = s.customer("nell@example.com", None).await;

    let (status, body) = call_as(&h, &active, "{}").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["ok"], true);
    assert_eq!(body["tool"], "get_subscription_status");
    assert_eq!(body["status"], "done");
    let sub = first_sub(&body);
    assert_eq!(sub["status"], "active");
    assert_eq!(sub["plan"]["name"], "Growth");
    assert_eq!(
        sub["amount"],
        json!({"amount": 4900, "currency": "usd", "formatted": "$49.00"})
    );
    assert_eq!(sub["interval"], "month");
    assert!(sub["next_payment_date"].as_str().unwrap().ends_with('Z'));
    assert_eq!(sub["latest_invoice"]["status"], "paid");
    assert!(
        sub["latest_invoice"]["hosted_invoice_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.starts_with("You're on the Growth plan ($49.00/month)."),
        "{summary}"
    );
    assert!(summary.contains("next payment is due on"), "{summary}");

    let (_, body) = call_as(&h, &trialing, "{}").await;
    let sub = first_sub(&body);
    assert_eq!(sub["status"], "trialing");
    assert_eq!(sub["next_payment_date"], sub["trial_end"]);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("free trial of the Growth plan until"),
        "{body}"
    );

    let (_, body) = call_as(&h, &canceling, "{}").await;
    let sub = first_sub(&body);
    assert_eq!(sub["cancel_at_period_end"], true);
    assert!(sub["cancels_at"].is_string());
    assert!(sub["next_payment_date"].is_null());
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("set to cancel on"),
        "{body}"
    );

    let (_, body) = call_as(&h, &past_due, "{}").await;
    let sub = first_sub(&body);
    assert_eq!(sub["status"], "past_due");
    assert_eq!(sub["latest_invoice"]["status"], "open");
    assert_eq!(
        sub["latest_invoice"]["amount_remaining"]["formatted"],
        "$19.00"
    );
    let summary = body["summary"].as_str().unwrap();
    assert!(
        summary.contains("past due") && summary.contains("$19.00"),
        "{summary}"
    );

    let (status, body) = call_as(&h, &nothing, "{}").await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["subscriptions"], json!([]));
    assert_eq!(body["summary"], "You don't have a subscription.");

    // A specific subscription of the visitor's own.
    let subs = s.get(&format!("/v1/subscriptions?customer={active}")).await;
    let id = subs["data"][0]["id"].as_str().unwrap();
    let (status, body) = call_as(&h, &active, &json!({"subscription_id": id}).to_string()).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(first_sub(&body)["id"], id);
}

#[tokio::test]
async fn resolves_customers_by_mapping_and_email_and_never_guesses() {
    let h = Harness::new().await;
    let s = &h.stripe;
    let price = s.price("Growth", 4900, "usd").await;
    let mapped = s.customer("mapped@example.com", Some("pm_card_visa")).await;
    s.subscribe(&mapped, &price, &[]).await;
    h.map_contact("user_mapped", &mapped);
    let token = h.token(visitor_claims("user_mapped", json!({})));
    let (status, body) = h.call(&TOOL, Some(&token), "{}").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["customer_id"], mapped.as_str());

    // The email as the merchant signed it, in another case than Stripe has it.
    let by_email = s
        .customer("Mixed.Case@Example.com", Some("pm_card_visa"))
        .await;
    let token = h.token(visitor_claims(
        "user_x",
        json!({"email": "mixed.case@example.com", "email_verified": true}),
    ));
    let (status, body) = h.call(&TOOL, Some(&token), "{}").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["customer_id"], by_email.as_str());
    // The same email, not marked verified, finds nobody...
    let unverified = h.token(visitor_claims(
        "user_x",
        json!({"email": "mixed.case@example.com"}),
    ));
    let (status, _) = h.call(&TOOL, Some(&unverified), "{}").await;
    assert_eq!(status, 404);
    // ...unless the tenant vouches for every email it signs.
    h.configure(|c| c.trust_email_claim = true);
    let (status, body) = h.call(&TOOL, Some(&unverified), "{}").await;
    assert_eq!(
        body["data"]["customer_id"],
        by_email.as_str(),
        "{status} {body}"
    );
    h.configure(|c| c.trust_email_claim = false);

    let token = h.token(visitor_claims(
        "user_y",
        json!({"email": "nobody@example.com", "email_verified": true}),
    ));
    let (status, body) = h.call(&TOOL, Some(&token), "{}").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("customer_not_found"))
    );

    let token = h.token(visitor_claims("user_z", json!({})));
    let (status, body) = h.call(&TOOL, Some(&token), "{}").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("customer_not_found"))
    );

    s.customer("shared@example.com", None).await;
    s.customer("Shared@Example.com", None).await;
    let token = h.token(visitor_claims(
        "user_s",
        json!({"email": "shared@example.com", "email_verified": true}),
    ));
    let (status, body) = h.call(&TOOL, Some(&token), "{}").await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(body["error"]["code"], "ambiguous_customer");
    assert_eq!(body["error"]["escalate"], true);
    assert!(
        !body.to_string().contains("cus_"),
        "no customer id leaks: {body}"
    );
}

#[tokio::test]
async fn refuses_subscriptions_of_others_and_leaks_nothing() {
    let h = Harness::new().await;
    let price = h.stripe.price("Growth", 4900, "usd").await;
    let mine = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    h.stripe.subscribe(&mine, &price, &[]).await;
    let theirs = h
        .stripe
        .customer("them@example.com", Some("pm_card_visa"))
        .await;
    let their_sub = h.stripe.subscribe(&theirs, &price, &[]).await;
    let their_sub = their_sub["id"].as_str().unwrap();

    let other_price = h.other.price("Other", 1000, "usd").await;
    let foreign = h
        .other
        .customer("x@example.com", Some("pm_card_visa"))
        .await;
    let foreign_sub = h.other.subscribe(&foreign, &other_price, &[]).await;
    let foreign_sub = foreign_sub["id"].as_str().unwrap();

    for id in [their_sub, foreign_sub] {
        let (status, body) = call_as(&h, &mine, &json!({"subscription_id": id}).to_string()).await;
        assert_eq!(status, 403, "{body}");
        assert_eq!(body["error"]["code"], "not_owner");
        let text = body.to_string();
        assert!(
            !text.contains(&theirs) && !text.contains(&foreign) && !text.contains("Growth"),
            "{text}"
        );
    }
}

#[tokio::test]
async fn bad_arguments_name_the_field_and_change_nothing() {
    let h = Harness::new().await;
    let me = h.stripe.customer("me@example.com", None).await;
    let cases = [
        (r#"{"foo": 1}"#, "foo"),
        (r#"{"subscription_id": 5}"#, "subscription_id"),
        (r#"{"subscription_id": "../customers"}"#, "subscription_id"),
        ("[1, 2]", "object"),
        ("{not json", "JSON"),
    ];
    let before = h.stripe.request_count().await;
    for (body, needle) in cases {
        let (status, resp) = call_as(&h, &me, body).await;
        assert_eq!(status, 400, "{body}: {resp}");
        assert_eq!(resp["error"]["code"], "invalid_request");
        assert!(
            resp["error"]["message"].as_str().unwrap().contains(needle),
            "{body}: {resp}"
        );
    }
    assert_eq!(
        h.stripe.request_count().await,
        before,
        "bad input never reaches Stripe"
    );

    let (status, resp) = call_as(
        &h,
        &me,
        &format!(r#"{{"pad": "{}"}}"#, "x".repeat(70 * 1024)),
    )
    .await;
    assert_eq!(
        (status, resp["error"]["code"].as_str()),
        (413, Some("payload_too_large"))
    );

    let token = h.token(visitor_claims("u", json!({"stripe_customer_id": me})));
    let (status, resp) = h.call_at(&TOOL, "no-such-tenant", Some(&token), "{}").await;
    assert_eq!(
        (status, resp["error"]["code"].as_str()),
        (404, Some("unknown_tenant"))
    );
    // A valid token of one tenant is no good at another.
    let (status, resp) = h.call_at(&TOOL, OTHER_TENANT, Some(&token), "{}").await;
    assert_eq!(
        (status, resp["error"]["code"].as_str()),
        (401, Some("identity_invalid"))
    );

    h.disable("get_subscription_status");
    let (status, resp) = call_as(&h, &me, "{}").await;
    assert_eq!(
        (status, resp["error"]["code"].as_str()),
        (403, Some("tool_disabled"))
    );
}

#[tokio::test]
async fn one_stripe_round_trip_once_warm() {
    let h = Harness::new().await;
    let price = h.stripe.price("Growth", 4900, "usd").await;
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    h.stripe.subscribe(&me, &price, &[]).await;
    let before = h.stripe.request_count().await;
    call_as(&h, &me, "{}").await;
    let cold = h.stripe.request_count().await - before;
    call_as(&h, &me, "{}").await;
    let warm = h.stripe.request_count().await - before - cold;
    assert_eq!(cold, 2, "subscriptions, then product names once");
    assert_eq!(warm, 1, "product names come from the warm cache");
    let records = h.audit.records.lock().unwrap();
    let last = records.last().unwrap();
    assert_eq!(last.stripe_requests, 1);
    assert_eq!(last.stripe_request_ids.len(), 1);
    assert!(last.stripe_request_ids[0].starts_with("req_"));
    assert_eq!(last.customer.as_deref(), Some(me.as_str()));
    assert_eq!(last.actor, "visitor:user_1");
    assert_eq!(
        (last.decision.as_str(), last.outcome.as_str()),
        ("allowed", "ok")
    );
}

async fn faulted(
    h: &Harness,
    account: &StripeAccount,
    customer: &str,
    kind: &str,
    count: u32,
) -> (u16, Value, Duration) {
    account.fault(kind, count).await;
    let started = Instant::now();
    let (status, body) = call_as(h, customer, "{}").await;
    let took = started.elapsed();
    account.clear_faults().await;
    (status, body, took)
}

#[tokio::test]
async fn stripe_failures_escalate_within_a_bounded_time() {
    let h = Harness::new().await;
    let me = h.stripe.customer("me@example.com", None).await;
    for kind in ["500", "429", "hang", "reset"] {
        let (status, body, took) = faulted(&h, &h.stripe, &me, kind, 10).await;
        assert!(status == 502 || status == 503, "{kind}: {status} {body}");
        assert_eq!(body["error"]["code"], "billing_unavailable", "{kind}");
        assert_eq!(body["error"]["escalate"], true, "{kind}");
        assert!(took < Duration::from_secs(4), "{kind} took {took:?}");
        let records = h.audit.records.lock().unwrap();
        let last = records.last().unwrap();
        assert_eq!(last.outcome, "billing_unavailable", "{kind}");
        assert!(
            last.stripe_requests >= 2,
            "{kind}: retried ({})",
            last.stripe_requests
        );
    }
}

#[tokio::test]
async fn a_single_stripe_hiccup_is_retried_invisibly() {
    let h = Harness::new().await;
    let me = h.stripe.customer("me@example.com", None).await;
    for kind in ["500", "429", "reset"] {
        let (status, body, _) = faulted(&h, &h.stripe, &me, kind, 1).await;
        assert_eq!(status, 200, "{kind}: {body}");
    }
}
