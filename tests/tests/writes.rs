//! The write path: nothing changes without a confirmed preview, a confirmation changes
//! Stripe once however often and however concurrently it is replayed, tokens are bound
//! and expire, ownership and bad input are refused before Stripe is asked, and every write
//! is audited before and after. Stripe's side is counted at the emulator.
use integration::{Harness, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::read::{GetBillingInfo, GetSubscriptionStatus};
use shared::endpoints::write::{
    CancelSubscription, PauseSubscription, ResumeSubscription, UpdateBillingDetails,
};
use shared::pipeline::two_phase::{Write, WriteTool};

struct W {
    h: Harness,
    me: String,
    sub: String,
    neighbour_sub: String,
    foreign_sub: String,
}

async fn world() -> W {
    let h = Harness::new().await;
    let price = h.stripe.price("Growth", 4900, "usd").await;
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    let sub = h.stripe.subscribe(&me, &price, &[]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let them = h
        .stripe
        .customer("them@example.com", Some("pm_card_visa"))
        .await;
    let neighbour_sub = h.stripe.subscribe(&them, &price, &[]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let op = h.other.price("Foreign", 500, "usd").await;
    let oc = h
        .other
        .customer("f@example.com", Some("pm_card_visa"))
        .await;
    let foreign_sub = h.other.subscribe(&oc, &op, &[]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    W {
        h,
        me,
        sub,
        neighbour_sub,
        foreign_sub,
    }
}

impl W {
    fn token_for(&self, user: &str, customer: &str) -> String {
        self.h.token(visitor_claims(
            user,
            json!({"stripe_customer_id": customer}),
        ))
    }

    async fn write<T: WriteTool>(&self, tool: T, body: Value) -> (u16, Value) {
        self.write_as(tool, "user_1", &self.me.clone(), body).await
    }

    async fn write_as<T: WriteTool>(
        &self,
        tool: T,
        user: &str,
        customer: &str,
        body: Value,
    ) -> (u16, Value) {
        let token = self.token_for(user, customer);
        self.h
            .call(&Write(tool), Some(&token), &body.to_string())
            .await
    }

    /// Stripe writes (POSTs) this account received, other than the test's own set-up.
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

    async fn status(&self) -> Value {
        let token = self.token_for("user_1", &self.me);
        let (_, body) = self
            .h
            .call(&GetSubscriptionStatus, Some(&token), "{}")
            .await;
        body["data"]["subscriptions"][0].clone()
    }
}

fn token_of(body: &Value) -> String {
    assert_eq!(body["status"], "confirmation_required", "{body}");
    body["confirmation"]["token"].as_str().unwrap().to_string()
}

#[tokio::test]
async fn cancel_previews_changes_nothing_then_confirms_exactly_the_preview() {
    let w = world().await;
    let path = format!("/v1/subscriptions/{}", w.sub);
    let (status, body) = w
        .write(CancelSubscription, json!({"reason": "too_expensive"}))
        .await;
    assert_eq!(status, 200, "{body}");
    let token = token_of(&body);
    let ends = body["confirmation"]["preview"]["access_ends_at"].clone();
    assert!(ends.is_string(), "{body}");
    let summary = body["summary"].as_str().unwrap();
    assert!(summary.contains("keep access until") && summary.ends_with("Shall I go ahead?"));
    assert_eq!(w.posts(&path).await, 0, "a preview changes nothing");
    assert_eq!(w.status().await["cancels_at"], Value::Null);

    let (status, body) = w.write(CancelSubscription, json!({"confirm": token})).await;
    assert_eq!(
        (status, body["status"].as_str()),
        (200, Some("done")),
        "{body}"
    );
    assert_eq!(body["data"]["cancels_at"], ends, "what the preview said");
    assert_eq!(w.posts(&path).await, 1);
    let sub = w.status().await;
    assert_eq!(sub["cancels_at"], ends, "the read tools see it at once");
    assert_eq!(sub["canceled_at"], Value::Null);

    // Audited before and after: one record, completed, with what was sent.
    let records = w.h.audit.records.lock().unwrap().clone();
    let cancel: Vec<_> = records
        .iter()
        .filter(|r| r.tool == "cancel_subscription")
        .collect();
    let confirmed = cancel
        .iter()
        .filter(|r| r.sends.is_some())
        .map(|r| r.sk.clone())
        .collect::<std::collections::BTreeSet<_>>();
    assert_eq!(
        confirmed.len(),
        1,
        "one write-ahead record key: {cancel:#?}"
    );
    let last = cancel.iter().rev().find(|r| r.sends.is_some()).unwrap();
    assert_eq!(last.outcome, "ok", "completed after the commit");
    assert!(!last.stripe_request_ids.is_empty());
    assert_eq!(last.sends.as_ref().unwrap()["path"], path.as_str());
    assert!(
        !format!("{records:?}").contains(&token),
        "the token is never recorded"
    );

    // Undone by resume, through the same protocol.
    let (_, body) = w.write(ResumeSubscription, json!({})).await;
    let token = token_of(&body);
    let (status, body) = w.write(ResumeSubscription, json!({"confirm": token})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(w.status().await["cancels_at"], Value::Null);
}

#[tokio::test]
async fn one_confirmation_replayed_and_raced_changes_stripe_once() {
    let w = world().await;
    let path = format!("/v1/subscriptions/{}", w.sub);
    let (_, body) = w.write(PauseSubscription, json!({})).await;
    let token = token_of(&body);
    let confirm = json!({"confirm": token});
    let racing = (0..50).map(|_| w.write(PauseSubscription, confirm.clone()));
    let raced = futures::future::join_all(racing).await;
    let first = raced[0].1.clone();
    assert_eq!(first["status"], "done", "{first}");
    for (status, body) in &raced {
        assert_eq!(*status, 200, "{body}");
        assert_eq!(
            (&body["data"], &body["summary"]),
            (&first["data"], &first["summary"])
        );
    }
    for _ in 0..100 {
        let (status, body) = w.write(PauseSubscription, confirm.clone()).await;
        assert_eq!(status, 200);
        assert_eq!(
            (&body["data"], &body["summary"]),
            (&first["data"], &first["summary"])
        );
    }
    assert_eq!(
        w.posts(&path).await,
        1,
        "150 confirmations, one Stripe write"
    );
    assert!(w.status().await["pause"]["resumes_at"].is_string());
}

#[tokio::test]
async fn tokens_are_bound_to_visitor_customer_arguments_and_time() {
    let w = world().await;
    let path = format!("/v1/subscriptions/{}", w.sub);
    let (_, body) = w.write(CancelSubscription, json!({})).await;
    let token = token_of(&body);
    let them = w.h.stripe.customer("x@example.com", None).await;
    let cases = [
        (
            "user_2",
            w.me.clone(),
            json!({"confirm": token}),
            "other_visitor",
        ),
        ("user_1", them, json!({"confirm": token}), "other_customer"),
        (
            "user_1",
            w.me.clone(),
            json!({"confirm": token, "reason": "unused"}),
            "other_arguments",
        ),
        (
            "user_1",
            w.me.clone(),
            json!({"confirm": format!("{token}x")}),
            "unknown_token",
        ),
    ];
    for (user, customer, body, reason) in cases {
        let (status, answer) = w.write_as(CancelSubscription, user, &customer, body).await;
        assert_eq!(status, 409, "{reason}: {answer}");
        assert_eq!(
            (
                answer["error"]["code"].as_str(),
                answer["error"]["reason"].as_str()
            ),
            (Some("confirmation_invalid"), Some(reason))
        );
    }
    // Another tool cannot use it either.
    let (status, answer) = w.write(PauseSubscription, json!({"confirm": token})).await;
    assert_eq!(
        (status, answer["error"]["reason"].as_str()),
        (409, Some("other_tool"))
    );

    w.h.configure(|t| t.policy.confirmation_ttl_secs = 1);
    let (_, body) = w.write(CancelSubscription, json!({})).await;
    let short = token_of(&body);
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (status, answer) = w.write(CancelSubscription, json!({"confirm": short})).await;
    assert_eq!(
        (status, answer["error"]["code"].as_str()),
        (409, Some("confirmation_expired"))
    );
    assert_eq!(w.posts(&path).await, 0, "nothing was written to Stripe");
    // The right visitor with the first token still can.
    let (status, _) = w.write(CancelSubscription, json!({"confirm": token})).await;
    assert_eq!(status, 200);
    assert_eq!(w.posts(&path).await, 1);
}

#[tokio::test]
async fn write_tools_refuse_objects_of_others_before_stripe_is_asked() {
    let w = world().await;
    for sub in [&w.neighbour_sub, &w.foreign_sub] {
        let body = json!({"subscription_id": sub});
        let answers = [
            w.write(CancelSubscription, body.clone()).await,
            w.write(PauseSubscription, body.clone()).await,
            w.write(ResumeSubscription, body.clone()).await,
        ];
        for (status, answer) in answers {
            assert_eq!(
                (status, answer["error"]["code"].as_str()),
                (403, Some("not_owner"))
            );
            assert!(!answer.to_string().contains("them@example.com"));
        }
    }
    assert_eq!(
        w.posts(&format!("/v1/subscriptions/{}", w.neighbour_sub))
            .await,
        0
    );
}

#[tokio::test]
async fn bad_input_is_a_400_naming_the_field_and_stripe_is_never_asked() {
    let w = world().await;
    let before = w.h.stripe.request_count().await;
    let cases: Vec<(u16, Value, &str)> = vec![
        {
            let (s, b) = w
                .write(CancelSubscription, json!({"reason": "bored"}))
                .await;
            (s, b, "reason")
        },
        {
            let (s, b) = w
                .write(CancelSubscription, json!({"subscription_id": "in_1"}))
                .await;
            (s, b, "subscription_id")
        },
        {
            let (s, b) = w
                .write(PauseSubscription, json!({"resumes_at": "soon"}))
                .await;
            (s, b, "resumes_at")
        },
        {
            let (s, b) = w.write(ResumeSubscription, json!({"when": 1})).await;
            (s, b, "when")
        },
        {
            let (s, b) = w
                .write(
                    UpdateBillingDetails,
                    json!({"address": {"line1": "1 Main St", "country": "XX"}}),
                )
                .await;
            (s, b, "address.country")
        },
        {
            let (s, b) = w
                .write(UpdateBillingDetails, json!({"email": "not-an-email"}))
                .await;
            (s, b, "email")
        },
        {
            let (s, b) = w
                .write(UpdateBillingDetails, json!({"card": "4242424242424242"}))
                .await;
            (s, b, "card")
        },
        {
            let (s, b) = w.write(CancelSubscription, json!({"confirm": 5})).await;
            (s, b, "confirm")
        },
    ];
    for (status, body, field) in cases {
        assert_eq!(status, 400, "{field}: {body}");
        let m = body["error"]["message"].as_str().unwrap();
        assert!(m.contains(&format!("`{field}`")), "{field}: {m}");
    }
    assert_eq!(
        w.h.stripe.request_count().await,
        before,
        "Stripe was never asked"
    );
    let audit = format!("{:?}", w.h.audit.records.lock().unwrap());
    assert!(
        !audit.contains("4242424242424242"),
        "card data never recorded"
    );
}

#[tokio::test]
async fn billing_details_show_before_and_after_and_refuse_a_moved_state() {
    let w = world().await;
    let body = json!({"name": "Ada Lovelace",
                      "address": {"line1": "12 St James's Sq", "city": "London", "country": "GB"}});
    let (status, answer) = w.write(UpdateBillingDetails, body.clone()).await;
    assert_eq!(status, 200, "{answer}");
    let preview = &answer["confirmation"]["preview"];
    assert_eq!(preview["before"]["name"], "Test Person");
    assert_eq!(preview["after"]["name"], "Ada Lovelace");
    assert_eq!(preview["after"]["address"]["country"], "GB");
    let token = token_of(&answer);

    // Someone changes the name in the meantime: the confirmation must not apply a
    // preview the visitor no longer sees; it answers a fresh one.
    w.h.stripe
        .post(
            &format!("/v1/customers/{}", w.me),
            &[("name", "Someone Else")],
        )
        .await;
    let path = format!("/v1/customers/{}", w.me);
    let ours_before = w.posts(&path).await;
    let (status, answer) = w
        .write(UpdateBillingDetails, json!({"confirm": token}))
        .await;
    assert_eq!(status, 200, "{answer}");
    assert!(
        answer["summary"]
            .as_str()
            .unwrap()
            .starts_with("Something changed")
    );
    assert_eq!(
        answer["confirmation"]["preview"]["before"]["name"],
        "Someone Else"
    );
    assert_eq!(w.posts(&path).await, ours_before, "nothing was written");

    let fresh = token_of(&answer);
    let (status, _) = w
        .write(UpdateBillingDetails, json!({"confirm": fresh}))
        .await;
    assert_eq!(status, 200);
    let token = w.token_for("user_1", &w.me);
    let (_, info) = w.h.call(&GetBillingInfo, Some(&token), "{}").await;
    assert_eq!(info["data"]["name"], "Ada Lovelace");
    assert_eq!(info["data"]["address"]["city"], "London");
}

#[tokio::test]
async fn a_pause_stays_within_the_tenant_maximum() {
    let w = world().await;
    let far = shared::timefmt::rfc3339(shared::timefmt::now_unix() + 200 * 86_400).unwrap();
    let (status, body) = w.write(PauseSubscription, json!({"resumes_at": far})).await;
    assert_eq!(status, 403, "{body}");
    assert_eq!(body["error"]["reason"], "pause_too_long");
    assert_eq!(body["error"]["escalate"], true);
    w.h.configure(|t| {
        t.policy.max_pause_days = 365;
        t.policy.paused_days_per_year = 365;
    });
    let (status, body) = w.write(PauseSubscription, json!({"resumes_at": far})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["confirmation"]["preview"]["resumes_at"], far.as_str());
    assert_eq!(body["confirmation"]["preview"]["behavior"], "void");
}

mod plans {
    use super::*;
    use shared::endpoints::read::GetUpcomingInvoice;
    use shared::endpoints::write::ChangePlan;

    const DAY: i64 = 86_400;

    async fn plans_world() -> (W, Vec<String>) {
        let w = world().await;
        let starter = w.h.stripe.price("Starter", 1900, "usd").await;
        let scale = w.h.stripe.price("Scale", 9900, "usd").await;
        let growth =
            w.h.stripe
                .get(&format!("/v1/subscriptions/{}", w.sub))
                .await["items"]["data"][0]["price"]["id"]
                .as_str()
                .unwrap()
                .to_string();
        let prices = vec![starter, growth, scale];
        w.h.configure(|t| t.allowed_prices = prices.clone());
        (w, prices)
    }

    #[tokio::test]
    async fn the_visitor_pays_exactly_what_the_preview_showed() {
        let (w, prices) = plans_world().await;
        // Mid-period, so there is something to prorate.
        w.h.stripe
            .control("clock/advance", json!({"seconds": 12 * DAY}))
            .await;
        let (status, body) = w.write(ChangePlan, json!({"price_id": prices[2]})).await;
        assert_eq!(status, 200, "{body}");
        let preview = body["confirmation"]["preview"].clone();
        assert!(
            preview["proration"]["amount"].as_i64().unwrap() > 0,
            "{preview}"
        );
        let due = preview["next_invoice"]["amount_due"].clone();
        let s = body["summary"].as_str().unwrap();
        assert!(
            s.contains("from Growth") && s.contains("to Scale ($99.00/month)"),
            "{s}"
        );
        assert!(s.contains(due["formatted"].as_str().unwrap()), "{s}");
        // Time passes between the preview and the confirmation; the proration does not.
        w.h.stripe
            .control("clock/advance", json!({"seconds": 3600}))
            .await;
        let token = token_of(&body);
        let asked_before = w.h.stripe.request_log().await.len();
        let (status, body) = w.write(ChangePlan, json!({"confirm": token})).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("done")),
            "{body}"
        );
        // Nothing moved, so the confirmation reuses the quote: one read of the state, one
        // write, and no second preview.
        let asked: Vec<String> = w.h.stripe.request_log().await[asked_before..].to_vec();
        assert!(
            !asked.iter().any(|r| r.contains("create_preview")),
            "{asked:?}"
        );
        assert_eq!(
            asked.iter().filter(|r| r.starts_with("POST")).count(),
            1,
            "{asked:?}"
        );
        assert_eq!(w.status().await["plan"]["name"], "Scale");
        let t = w.token_for("user_1", &w.me);
        let (_, up) = w.h.call(&GetUpcomingInvoice, Some(&t), "{}").await;
        assert_eq!(up["data"]["upcoming_invoice"]["amount_due"], due, "{up}");
    }

    #[tokio::test]
    async fn ten_concurrent_confirmed_changes_with_a_cap_of_three_make_exactly_three() {
        let (w, mut prices) = plans_world().await;
        let path = format!("/v1/subscriptions/{}", w.sub);
        // Ten different plans: ten different writes (the same one twice is done once).
        for i in 0..10 {
            prices.push(
                w.h.stripe
                    .price(&format!("Tier {i}"), 2000 + i, "usd")
                    .await,
            );
        }
        w.h.configure(|t| t.allowed_prices = prices.clone());
        let mut tokens = Vec::new();
        for target in &prices[3..] {
            let (status, body) = w.write(ChangePlan, json!({"price_id": target})).await;
            assert_eq!(status, 200, "{body}");
            tokens.push(token_of(&body));
        }
        let confirms = tokens
            .iter()
            .map(|t| w.write(ChangePlan, json!({"confirm": t})));
        let answers = futures::future::join_all(confirms).await;
        let done = answers.iter().filter(|(s, _)| *s == 200).count();
        let denied: Vec<_> = answers
            .iter()
            .filter(|(s, b)| *s == 403 && b["error"]["reason"] == "plan_change_limit")
            .collect();
        assert_eq!((done, denied.len()), (3, 7), "{answers:#?}");
        assert!(denied.iter().all(|(_, b)| b["error"]["escalate"] == true));
        assert_eq!(
            w.posts(&path).await,
            3,
            "exactly three changes reached Stripe"
        );
        // The cap holds for a new proposal too, before anything is confirmed.
        let (status, body) = w.write(ChangePlan, json!({"price_id": prices[1]})).await;
        assert_eq!(
            (status, body["error"]["reason"].as_str()),
            (403, Some("plan_change_limit"))
        );
    }

    #[tokio::test]
    async fn plans_the_tenant_does_not_offer_or_that_cannot_apply_are_refused() {
        let (w, prices) = plans_world().await;
        let eur = w.h.stripe.price("Euro", 4900, "eur").await;
        w.h.configure(|t| {
            t.allowed_prices
                .extend([eur.clone(), "price_doesnotexist".into()])
        });
        let before = w.posts(&format!("/v1/subscriptions/{}", w.sub)).await;
        for (price, status, reason) in [
            (prices[1].as_str(), 400, "same_price"),
            (eur.as_str(), 400, "currency_mismatch"),
            ("price_doesnotexist", 400, "price_unavailable"),
        ] {
            let (s, b) = w.write(ChangePlan, json!({"price_id": price})).await;
            assert_eq!(
                (s, b["error"]["reason"].as_str()),
                (status, Some(reason)),
                "{b}"
            );
        }
        w.h.configure(|t| t.allowed_prices = vec![prices[0].clone()]);
        let (s, b) = w.write(ChangePlan, json!({"price_id": prices[2]})).await;
        assert_eq!(
            (s, b["error"]["reason"].as_str()),
            (403, Some("price_not_allowed"))
        );
        let (s, b) = w
            .write(
                ChangePlan,
                json!({"price_id": prices[0], "subscription_id": w.neighbour_sub}),
            )
            .await;
        assert_eq!((s, b["error"]["code"].as_str()), (403, Some("not_owner")));
        assert_eq!(
            w.posts(&format!("/v1/subscriptions/{}", w.sub)).await,
            before
        );
    }
}

mod crashes {
    use super::*;

    async fn arm(w: &W, kind: &str, after: bool) {
        w.h.stripe
            .control(
                "faults",
                json!({"kind": kind, "count": 3, "key": w.h.stripe.key, "method": "POST",
                       "after": after, "hang_ms": 1000}),
            )
            .await;
    }

    /// Every Stripe write to `path` carried one idempotency key, so Stripe applied it once.
    async fn keys_of_writes(w: &W, path: &str) -> std::collections::BTreeSet<String> {
        let url = format!("{}/_emulator/requests", w.h.stripe.base);
        let log: Value = reqwest::Client::new()
            .get(url)
            .query(&[("key", &w.h.stripe.key)])
            .send()
            .await
            .unwrap()
            .json()
            .await
            .unwrap();
        log["requests"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["method"] == "POST" && r["path"] == path)
            .map(|r| r["idempotency_key"].as_str().unwrap_or("none").to_string())
            .collect()
    }

    async fn crash_then_retry(kind: &str, after: bool) {
        let w = world().await;
        let path = format!("/v1/subscriptions/{}", w.sub);
        let (_, body) = w.write(CancelSubscription, json!({})).await;
        let confirm = json!({"confirm": token_of(&body)});
        arm(&w, kind, after).await;
        let (status, body) = w.write(CancelSubscription, confirm.clone()).await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (503, Some("billing_unavailable")),
            "{body}"
        );
        // The write-ahead record exists and is completed with the failure: visible.
        let failed =
            w.h.audit
                .records
                .lock()
                .unwrap()
                .iter()
                .filter(|r| r.sends.is_some())
                .map(|r| r.outcome.clone())
                .collect::<Vec<_>>();
        assert!(
            failed.contains(&"billing_unavailable".to_string()),
            "{failed:?}"
        );
        w.h.stripe.clear_faults().await;
        // The retry resends the same request; Stripe applies it once.
        let (status, body) = w.write(CancelSubscription, confirm.clone()).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("done")),
            "{body}"
        );
        assert!(w.status().await["cancels_at"].is_string());
        assert_eq!(
            keys_of_writes(&w, &path).await.len(),
            1,
            "one idempotency key"
        );
        let (_, again) = w.write(CancelSubscription, confirm).await;
        assert_eq!(
            again["data"], body["data"],
            "and a replay gets the same outcome"
        );
        let records = w.h.audit.records.lock().unwrap().clone();
        let last = records.iter().rev().find(|r| r.sends.is_some()).unwrap();
        assert_eq!(last.outcome, "ok", "the audit is complete");
    }

    #[tokio::test]
    async fn stripe_never_got_the_write_then_a_retry_makes_it_once() {
        crash_then_retry("hang", false).await;
    }

    #[tokio::test]
    async fn stripe_applied_the_write_but_the_answer_was_lost_then_a_retry_makes_it_once() {
        crash_then_retry("reset", true).await;
    }
}

mod coupons {
    use super::*;
    use shared::endpoints::read::GetUpcomingInvoice;
    use shared::endpoints::write::ApplyCoupon;

    async fn promo(w: &W, code: &str, extra: &[(&str, &str)]) -> String {
        let c =
            w.h.stripe
                .post(
                    "/v1/coupons",
                    &[
                        ("percent_off", "20"),
                        ("duration", "repeating"),
                        ("duration_in_months", "3"),
                    ],
                )
                .await;
        let mut form = vec![
            ("promotion[type]", "coupon"),
            ("promotion[coupon]", c["id"].as_str().unwrap()),
            ("code", code),
        ];
        form.extend_from_slice(extra);
        w.h.stripe.post("/v1/promotion_codes", &form).await["id"]
            .as_str()
            .unwrap()
            .to_string()
    }

    #[tokio::test]
    async fn a_code_shows_before_and_after_and_the_next_invoice_agrees() {
        let w = world().await;
        promo(&w, "SPRING20", &[]).await;
        // Typed in another case: Stripe matches promotion codes without regard to case.
        let (status, body) = w.write(ApplyCoupon, json!({"code": "spring20"})).await;
        assert_eq!(status, 200, "{body}");
        let p = body["confirmation"]["preview"].clone();
        assert_eq!(p["before"]["formatted"], "$49.00");
        assert_eq!(p["after"]["formatted"], "$39.20");
        assert_eq!(p["discount"], "20% off for 3 months");
        let s = body["summary"].as_str().unwrap();
        assert!(s.contains("from $49.00 to $39.20"), "{s}");
        let token = token_of(&body);
        let (status, body) = w.write(ApplyCoupon, json!({"confirm": token})).await;
        assert_eq!(
            (status, body["status"].as_str()),
            (200, Some("done")),
            "{body}"
        );
        let sub = w.status().await;
        assert_eq!(sub["discounts"][0]["percent_off"], 20.0, "{sub}");
        let t = w.token_for("user_1", &w.me);
        let (_, up) = w.h.call(&GetUpcomingInvoice, Some(&t), "{}").await;
        assert_eq!(
            up["data"]["upcoming_invoice"]["amount_due"], p["after"],
            "{up}"
        );
        let (_, again) = w.write(ApplyCoupon, json!({"code": "SPRING20"})).await;
        assert_eq!(again["data"]["changed"], false, "{again}");
    }

    #[tokio::test]
    async fn codes_stripe_would_refuse_are_refused_before_the_preview() {
        let w = world().await;
        let other = w.h.stripe.customer("o@example.com", None).await;
        let soon = (shared::timefmt::now_unix() + 2).to_string();
        promo(&w, "THEIRS", &[("customer", &other)]).await;
        promo(
            &w,
            "FIRSTONLY",
            &[("restrictions[first_time_transaction]", "true")],
        )
        .await;
        promo(
            &w,
            "BIGSPEND",
            &[
                ("restrictions[minimum_amount]", "10000"),
                ("restrictions[minimum_amount_currency]", "usd"),
            ],
        )
        .await;
        promo(&w, "SOON", &[("expires_at", &soon)]).await;
        // Real time, which both we and the emulator keep.
        tokio::time::sleep(std::time::Duration::from_millis(3100)).await;
        let path = format!("/v1/subscriptions/{}", w.sub);
        for (code, reason) in [
            ("NOPE", "code_unknown"),
            // Another customer's code is, to this visitor, no code at all.
            ("THEIRS", "code_unknown"),
            ("FIRSTONLY", "code_first_time_only"),
            ("BIGSPEND", "code_minimum_not_met"),
            ("SOON", "code_expired"),
        ] {
            let (status, body) = w.write(ApplyCoupon, json!({"code": code})).await;
            assert_eq!(
                (status, body["error"]["reason"].as_str()),
                (400, Some(reason)),
                "{body}"
            );
        }
        promo(&w, "OTHER10", &[]).await;
        w.h.configure(|t| t.policy.allowed_codes = vec!["welcome".into()]);
        let (status, body) = w.write(ApplyCoupon, json!({"code": "OTHER10"})).await;
        assert_eq!(
            (status, body["error"]["reason"].as_str()),
            (403, Some("code_not_allowed"))
        );
        assert_eq!(w.posts(&path).await, 0);
    }
}
