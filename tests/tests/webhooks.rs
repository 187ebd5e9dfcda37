//! The webhook endpoint: signatures checked on the raw body (any `v1`, any active secret,
//! 300 s both ways), each event applied once however often and in whatever order it
//! arrives, an older event never over a newer one, recovery records opened and resolved,
//! and what the recovery queue and the audience tags show.
use futures::future::join_all;
use integration::{Harness, OTHER_TENANT, TENANT, agent_token, now, visitor_claims};
use serde_json::{Value, json};
use shared::auth::signature::sign;
use shared::endpoints::agent_recovery::RecoveryQueue;
use shared::endpoints::stripe_webhook::StripeWebhook;
use shared::endpoints::visitor_tags::VisitorTags;

fn sub_event(evt: &str, customer: &str, sub: &str, status: &str, created: i64) -> Value {
    json!({
        "id": evt, "object": "event", "type": "customer.subscription.updated",
        "created": created, "livemode": false, "api_version": "2025-09-30.clover",
        "data": {"object": {
            "id": sub, "object": "subscription", "customer": customer, "status": status,
            "created": 1_700_000_000, "cancel_at_period_end": status == "canceling",
            "trial_end": null, "cancel_at": null,
            "items": {"object": "list", "data": [{"price": {"id": "price_pro", "product": "prod_x"},
                                                  "current_period_end": created + 86_400}]},
        }, "previous_attributes": {}},
        "request": {"id": null, "idempotency_key": null},
    })
}

fn invoice_event(
    evt: &str,
    kind: &str,
    customer: &str,
    invoice: &str,
    attempts: i64,
    created: i64,
) -> Value {
    json!({
        "id": evt, "object": "event", "type": kind, "created": created, "livemode": false,
        "data": {"object": {
            "id": invoice, "object": "invoice", "customer": customer, "amount_due": 1900,
            "currency": "usd", "attempt_count": attempts, "next_payment_attempt": created + 3 * 86_400,
            "hosted_invoice_url": format!("https://invoice.stripe.com/i/{invoice}"),
            "status": if kind == "invoice.payment_failed" { "open" } else { "paid" },
        }},
    })
}

async fn deliver_raw(h: &Harness, tenant: &str, body: &[u8], header: &str) -> (u16, Value) {
    h.request(
        &StripeWebhook,
        tenant,
        "POST",
        &[
            ("stripe-signature", header),
            ("content-type", "application/json"),
        ],
        &[],
        body,
    )
    .await
}

/// Delivered as Stripe would: signed now with the tenant's active secret.
async fn send(h: &Harness, event: &Value) -> (u16, Value) {
    let secret = h.webhook_secrets(TENANT)[0].clone();
    let body = event.to_string();
    deliver_raw(
        h,
        TENANT,
        body.as_bytes(),
        &sign(&secret, now(), body.as_bytes()),
    )
    .await
}

async fn tags(h: &Harness, customer: &str) -> (u16, Value) {
    let token = h.token(visitor_claims(
        "user_t",
        json!({"stripe_customer_id": customer}),
    ));
    h.request(
        &VisitorTags,
        TENANT,
        "GET",
        &[("authorization", &format!("Bearer {token}"))],
        &[],
        b"",
    )
    .await
}

async fn recovery(h: &Harness, token: &str, tenant: &str, status: &str) -> (u16, Value) {
    h.request(
        &RecoveryQueue,
        tenant,
        "GET",
        &[("authorization", &format!("Bearer {token}"))],
        &[("status", status)],
        b"",
    )
    .await
}

fn pro_tier(h: &Harness) {
    h.configure(|c| {
        c.price_tiers.insert("price_pro".into(), "pro".into());
    });
}

#[tokio::test]
async fn the_signature_matrix_refuses_and_changes_nothing() {
    let h = Harness::new().await;
    pro_tier(&h);
    let secret = h.webhook_secrets(TENANT)[0].clone();
    let event = sub_event("evt_sig1", "cus_Sig", "sub_sig", "past_due", now());
    let body = event.to_string();
    let b = body.as_bytes();
    let t = now();
    let good = sign(&secret, t, b);
    let bogus_v1 = format!("v1={}", "ab".repeat(32));
    let cases: Vec<(String, &[u8], &str)> = vec![
        (
            sign("whsec_notthetenantssecretnotthetenants", t, b),
            b,
            "no_matching_signature",
        ),
        (
            good.clone(),
            br#"{"id":"evt_sig1","changed":true}"#,
            "no_matching_signature",
        ),
        (sign(&secret, t - 301, b), b, "timestamp_out_of_tolerance"),
        (sign(&secret, t + 301, b), b, "timestamp_out_of_tolerance"),
        (good.replace("v1=", "v0="), b, "no_v1_signature"),
        ("t=,v1=zz".into(), b, "malformed_signature"),
        ("".into(), b, "malformed_signature"),
    ];
    for (header, body, reason) in cases {
        let (status, answer) = deliver_raw(&h, TENANT, body, &header).await;
        assert_eq!(
            (status, answer["error"]["reason"].as_str()),
            (400, Some(reason)),
            "{header}: {answer}"
        );
    }
    let (status, answer) = h.request(&StripeWebhook, TENANT, "POST", &[], &[], b).await;
    assert_eq!(
        (status, answer["error"]["reason"].as_str()),
        (400, Some("missing_signature"))
    );
    let (_, before) = tags(&h, "cus_Sig").await;
    assert_eq!(
        before["tags"]["subscription_status"],
        Value::Null,
        "nothing applied: {before}"
    );
    assert!(
        h.audit
            .records
            .lock()
            .unwrap()
            .iter()
            .all(|r| r.tool != "stripe_webhook"),
        "refusals are counted, not stored"
    );

    // Several v1, one of them good (Stripe signs with each secret while one is rolled).
    let several = format!("{good},{bogus_v1},v0=00");
    let (status, answer) = deliver_raw(&h, TENANT, b, &several).await;
    assert_eq!(
        (status, answer["outcome"].as_str()),
        (200, Some("applied")),
        "{answer}"
    );
    let (_, after) = tags(&h, "cus_Sig").await;
    assert_eq!(after["tags"]["subscription_status"], "past_due");
    assert_eq!(after["tags"]["plan_tier"], "pro");
}

#[tokio::test]
async fn rotated_secrets_both_work_until_the_old_one_is_retired() {
    let h = Harness::new().await;
    let old = h.webhook_secrets(TENANT)[0].clone();
    let new = "whsec_thenewsecretthenewsecretthenew0".to_string();
    h.set_webhook_secrets(TENANT, &[&old, &new]);
    for (i, secret) in [&old, &new].iter().enumerate() {
        let body = sub_event(
            &format!("evt_rot{i}"),
            "cus_Rot",
            "sub_rot",
            "active",
            now() + i as i64,
        )
        .to_string();
        let (status, a) = deliver_raw(
            &h,
            TENANT,
            body.as_bytes(),
            &sign(secret, now(), body.as_bytes()),
        )
        .await;
        assert_eq!(status, 200, "{a}");
    }
    h.set_webhook_secrets(TENANT, &[&new]);
    let body = sub_event("evt_rot9", "cus_Rot", "sub_rot", "canceled", now() + 5).to_string();
    let (status, _) = deliver_raw(
        &h,
        TENANT,
        body.as_bytes(),
        &sign(&old, now(), body.as_bytes()),
    )
    .await;
    assert_eq!(status, 400, "the retired secret no longer verifies");
    let (_, t) = tags(&h, "cus_Rot").await;
    assert_eq!(t["tags"]["subscription_status"], "active");
}

#[tokio::test]
async fn another_tenants_secret_and_the_wrong_mode_are_refused() {
    let h = Harness::new().await;
    let theirs = h.webhook_secrets(OTHER_TENANT)[0].clone();
    let body = sub_event("evt_ab", "cus_Ab", "sub_ab", "active", now()).to_string();
    let (status, _) = deliver_raw(
        &h,
        TENANT,
        body.as_bytes(),
        &sign(&theirs, now(), body.as_bytes()),
    )
    .await;
    assert_eq!(status, 400);
    let mut live = sub_event("evt_live", "cus_Ab", "sub_ab", "active", now());
    live["livemode"] = json!(true);
    let (status, answer) = send(&h, &live).await;
    assert_eq!(
        (status, answer["error"]["reason"].as_str()),
        (400, Some("livemode_mismatch"))
    );
    let (_, t) = tags(&h, "cus_Ab").await;
    assert_eq!(t["tags"]["subscription_status"], Value::Null);
}

#[tokio::test]
async fn a_duplicate_does_nothing_and_an_older_event_never_overwrites() {
    let h = Harness::new().await;
    let t = now();
    let newer = sub_event("evt_new", "cus_Ord", "sub_ord", "canceled", t);
    let older = sub_event("evt_old", "cus_Ord", "sub_ord", "active", t - 60);
    assert_eq!(send(&h, &newer).await.1["outcome"], "applied");
    assert_eq!(send(&h, &newer).await.1["outcome"], "duplicate");
    assert_eq!(send(&h, &older).await.1["outcome"], "stale");
    let (_, tags) = tags(&h, "cus_Ord").await;
    assert_eq!(tags["tags"]["subscription_status"], "canceled");
    assert_eq!(tags["as_of"], shared::timefmt::rfc3339(t).unwrap());
    let unknown = json!({"id": "evt_unk", "object": "event", "type": "product.created",
                         "created": t, "livemode": false, "data": {"object": {"id": "prod_1", "object": "product"}}});
    assert_eq!(send(&h, &unknown).await.1["outcome"], "ignored");
    assert_eq!(send(&h, &unknown).await.1["outcome"], "duplicate");
    let audited: Vec<_> = h
        .audit
        .records
        .lock()
        .unwrap()
        .iter()
        .filter(|r| r.tool == "stripe_webhook")
        .cloned()
        .collect();
    assert!(audited.iter().all(|r| r.actor == "stripe"));
    assert!(
        audited
            .iter()
            .any(|r| r.args["event"] == "evt_new" && r.customer.as_deref() == Some("cus_Ord"))
    );
}

#[tokio::test]
async fn a_tie_in_the_same_second_is_settled_by_stripe() {
    let h = Harness::new().await;
    let price = h.stripe.price("Tie", 1900, "usd").await;
    let me = h
        .stripe
        .customer("tie@example.com", Some("pm_card_visa"))
        .await;
    let sub = h.stripe.subscribe(&me, &price, &[]).await;
    let id = sub["id"].as_str().unwrap();
    let t = now();
    assert_eq!(
        send(&h, &sub_event("evt_t1", &me, id, "past_due", t))
            .await
            .1["outcome"],
        "applied"
    );
    let (_, second) = send(&h, &sub_event("evt_t2", &me, id, "unpaid", t)).await;
    assert_eq!(second["outcome"], "applied");
    let (_, tags) = tags(&h, &me).await;
    assert_eq!(
        tags["tags"]["subscription_status"], "active",
        "Stripe's own state: {tags}"
    );
}

#[tokio::test]
async fn a_failed_then_paid_pair_delivered_in_reverse_ends_resolved() {
    let h = Harness::new().await;
    let t = now();
    let failed = invoice_event(
        "evt_f1",
        "invoice.payment_failed",
        "cus_Rev",
        "in_rev",
        1,
        t,
    );
    let paid = invoice_event("evt_p1", "invoice.paid", "cus_Rev", "in_rev", 2, t + 60);
    assert_eq!(send(&h, &paid).await.0, 200);
    assert_eq!(send(&h, &failed).await.0, 200);
    let agent = agent_token(TENANT, json!({}));
    let (_, open) = recovery(&h, &agent, TENANT, "open").await;
    assert_eq!(open["recoveries"], json!([]), "{open}");
    let (_, resolved) = recovery(&h, &agent, TENANT, "resolved").await;
    let r = &resolved["recoveries"][0];
    assert_eq!(
        (r["invoice"].as_str(), r["status"].as_str()),
        (Some("in_rev"), Some("resolved")),
        "{resolved}"
    );
    assert!(r["opened_at"].is_string() && r["resolved_at"].is_string());

    // In order, a failure opens a recovery the queue and the tags show.
    let open_evt = invoice_event(
        "evt_f2",
        "invoice.payment_failed",
        "cus_Rev",
        "in_two",
        1,
        t,
    );
    send(&h, &open_evt).await;
    let (_, open) = recovery(&h, &agent, TENANT, "open").await;
    let r = &open["recoveries"][0];
    assert_eq!(r["invoice"], "in_two");
    assert_eq!(r["amount_due"]["formatted"], "$19.00");
    assert_eq!(
        r["hosted_invoice_url"],
        "https://invoice.stripe.com/i/in_two"
    );
    assert!(r["next_retry"].is_string());
    let (_, tags) = tags(&h, "cus_Rev").await;
    assert_eq!(tags["tags"]["delinquent"], true);
}

#[tokio::test]
async fn the_routes_admit_only_their_callers() {
    let h = Harness::new().await;
    let visitor = h.token(visitor_claims(
        "user_x",
        json!({"stripe_customer_id": "cus_X"}),
    ));
    let (status, _) = recovery(&h, &visitor, TENANT, "open").await;
    assert_eq!(status, 401, "a visitor is not an agent");
    let (status, _) = recovery(&h, &agent_token(OTHER_TENANT, json!({})), TENANT, "open").await;
    assert_eq!(status, 401, "another tenant's agent");
    let (status, body) = recovery(&h, &agent_token(TENANT, json!({})), TENANT, "sometimes").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (400, Some("invalid_request"))
    );
    let agent = agent_token(TENANT, json!({}));
    let (status, _) = h
        .request(
            &VisitorTags,
            TENANT,
            "GET",
            &[("authorization", &format!("Bearer {agent}"))],
            &[],
            b"",
        )
        .await;
    assert_eq!(status, 401, "an agent is not a visitor");
    let (status, body) = tags(&h, "cus_Nobody").await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["tags"]["subscription_status"], Value::Null);
    assert_eq!(h.stripe.request_count().await, 0, "tags ask Stripe nothing");
}

/// 1,000 deliveries of a storm: 8 customers, each with a run of subscription changes and
/// failed/paid invoices; every event delivered 1-3 times, all shuffled and concurrent.
#[tokio::test]
async fn a_storm_of_1000_deliveries_is_applied_once_and_ends_in_stripes_final_state() {
    use rand::seq::SliceRandom;
    let h = Harness::new().await;
    pro_tier(&h);
    let t0 = now() - 10_000;
    let statuses = [
        "trialing", "active", "past_due", "active", "unpaid", "active", "canceled",
    ];
    let mut events = Vec::new();
    let mut finals = Vec::new();
    for c in 0..8 {
        let customer = format!("cus_Storm{c}");
        let sub = format!("sub_storm{c}");
        let mut last = "";
        for (i, status) in statuses.iter().cycle().take(40 + c).enumerate() {
            events.push(sub_event(
                &format!("evt_s{c}x{i}"),
                &customer,
                &sub,
                status,
                t0 + i as i64 * 10,
            ));
            last = status;
        }
        for k in 0..4 {
            let inv = format!("in_storm{c}x{k}");
            events.push(invoice_event(
                &format!("evt_f{c}x{k}"),
                "invoice.payment_failed",
                &customer,
                &inv,
                1,
                t0 + k * 100,
            ));
            if k % 2 == 0 {
                events.push(invoice_event(
                    &format!("evt_p{c}x{k}"),
                    "invoice.paid",
                    &customer,
                    &inv,
                    2,
                    t0 + k * 100 + 50,
                ));
            }
        }
        finals.push((customer, last.to_string()));
    }
    let unique = events.len();
    let mut deliveries: Vec<Value> = Vec::new();
    let mut rng = rand::rng();
    let mut i = 0;
    while deliveries.len() < 1000 {
        let e = &events[i % unique];
        deliveries.push(e.clone());
        if i >= unique || rand::Rng::random_bool(&mut rng, 0.3) {
            deliveries.push(e.clone());
        }
        i += 1;
    }
    deliveries.truncate(1000);
    let delivered: std::collections::HashSet<String> = deliveries
        .iter()
        .map(|e| e["id"].as_str().unwrap().to_string())
        .collect();
    deliveries.shuffle(&mut rng);
    let mut outcomes = std::collections::HashMap::<String, usize>::new();
    for chunk in deliveries.chunks(50) {
        for (status, body) in join_all(chunk.iter().map(|e| send(&h, e))).await {
            assert_eq!(status, 200, "{body}");
            *outcomes
                .entry(body["outcome"].as_str().unwrap().to_string())
                .or_default() += 1;
        }
    }
    let first_time =
        outcomes.get("applied").copied().unwrap_or(0) + outcomes.get("stale").copied().unwrap_or(0);
    println!(
        "storm: {} deliveries of {} events: {outcomes:?}",
        deliveries.len(),
        delivered.len()
    );
    assert_eq!(first_time, delivered.len(), "each event applied once");
    assert_eq!(outcomes["duplicate"], 1000 - delivered.len());
    for (customer, last) in &finals {
        let (_, tags) = tags(&h, customer).await;
        assert_eq!(
            tags["tags"]["subscription_status"],
            last.as_str(),
            "{customer}: {tags}"
        );
    }
    let agent = agent_token(TENANT, json!({}));
    let (_, open) = recovery(&h, &agent, TENANT, "open").await;
    let (_, resolved) = recovery(&h, &agent, TENANT, "resolved").await;
    assert_eq!(
        open["recoveries"].as_array().unwrap().len(),
        16,
        "two unpaid invoices each"
    );
    assert_eq!(
        resolved["recoveries"].as_array().unwrap().len(),
        16,
        "two paid each"
    );
}

#[tokio::test]
async fn the_bot_and_the_agent_hear_of_an_open_recovery() {
    let h = Harness::new().await;
    let price = h.stripe.price("Starter", 1900, "usd").await;
    let me = h
        .stripe
        .customer("owing@example.com", Some("pm_card_visa"))
        .await;
    h.stripe.subscribe(&me, &price, &[]).await;
    let failed = invoice_event(
        "evt_bot1",
        "invoice.payment_failed",
        &me,
        "in_bot",
        1,
        now(),
    );
    assert_eq!(send(&h, &failed).await.1["outcome"], "applied");
    let token = h.token(visitor_claims("user_o", json!({"stripe_customer_id": me})));
    let (status, body) = h
        .call(
            &shared::endpoints::read::GetSubscriptionStatus,
            Some(&token),
            "{}",
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["payment_recovery"]["invoice"], "in_bot");
    let s = body["summary"].as_str().unwrap();
    assert!(
        s.contains("A payment of $19.00 failed") && s.contains("try it again"),
        "{s}"
    );
    let (_, insight) = h
        .insight(
            Some(&agent_token(TENANT, json!({}))),
            &[("customer_id", &me)],
        )
        .await;
    assert_eq!(
        insight["open_recoveries"][0]["invoice"], "in_bot",
        "{insight}"
    );
    let s = insight["summary"].as_str().unwrap();
    assert!(
        s.contains("$19.00 failed") && s.contains("recovery queue"),
        "{s}"
    );
}

/// A store that fails between the webhook's two writes (the subscription's fact written,
/// its renewal not): the delivery fails, and Stripe's retry of the same event writes the
/// renewal the expiring-card scan reads and tells of the change, once.
#[tokio::test]
async fn a_retry_of_an_event_whose_renewal_was_not_written_writes_it() {
    use shared::ports::state::BillingState;
    use std::sync::atomic::Ordering;
    let h = Harness::new().await;
    pro_tier(&h);
    let event = sub_event("evt_renew1", "cus_Renew", "sub_renew", "active", now());
    h.state.renewal_faults.store(1, Ordering::SeqCst);
    let (status, _) = send(&h, &event).await;
    assert_eq!(
        status, 503,
        "the failed delivery is answered as a failure, so Stripe retries"
    );
    assert!(h.state.renewals(TENANT).await.unwrap().is_empty());

    let (status, body) = send(&h, &event).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "applied", "{body}");
    let renewals = h.state.renewals(TENANT).await.unwrap();
    assert_eq!(renewals.len(), 1, "{renewals:?}");
    assert_eq!(renewals[0].subscription, "sub_renew");
    assert_eq!(
        renewals[0].period_end,
        event["data"]["object"]["items"]["data"][0]["current_period_end"]
    );
    assert_eq!(subscription_changes(&h), 1);

    // A third delivery is a duplicate: nothing is told again.
    let (_, body) = send(&h, &event).await;
    assert_eq!(body["outcome"], "duplicate", "{body}");
    assert_eq!(subscription_changes(&h), 1);
}

/// Stripe forgets nothing, but we keep an event id 4 days: the same event resent from the
/// Dashboard a week later finds its fact written and its renewal and notice done, and tells
/// nobody again.
#[tokio::test]
async fn an_event_resent_after_its_id_was_forgotten_tells_nobody_twice() {
    use shared::ports::state::BillingState;
    let h = Harness::new().await;
    pro_tier(&h);
    let event = sub_event("evt_resent1", "cus_Resent", "sub_resent", "active", now());
    let (status, body) = send(&h, &event).await;
    assert_eq!(
        (status, body["outcome"].as_str()),
        (200, Some("applied")),
        "{body}"
    );
    assert_eq!(subscription_changes(&h), 1);

    // The claim on the event id lapses (its TTL), as it does after 4 days.
    h.state.release_event(TENANT, "evt_resent1").await.unwrap();
    let (status, body) = send(&h, &event).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["outcome"], "duplicate", "{body}");
    assert_eq!(
        subscription_changes(&h),
        1,
        "the resent event told nobody again"
    );
}

/// How many `Subscription Changed` notices were published.
fn subscription_changes(h: &Harness) -> usize {
    h.outbox
        .published
        .lock()
        .unwrap()
        .iter()
        .filter(|n| n.kind == shared::ports::notices::NoticeKind::SubscriptionChanged)
        .count()
}
