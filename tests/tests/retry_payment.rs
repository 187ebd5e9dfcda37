//! `retry_payment`: an open invoice paid with the saved card once confirmed; a decline is
//! said in plain words with a link to change the card; after the card is changed, the retry
//! pays; at most 3 attempts per invoice a day; another customer's invoice is refused.
use integration::{Harness, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::write::RetryPayment;
use shared::pipeline::two_phase::Write;

const DAY: i64 = 86_400;

/// A customer whose renewal a failing card could not pay (past due, one open invoice).
async fn past_due(h: &Harness, email: &str) -> (String, String) {
    past_due_with(h, email, "pm_card_chargeCustomerFail").await
}

/// The same, the renewal left open by `card` (a decline, or a bank asking for 3-D Secure).
async fn past_due_with(h: &Harness, email: &str, card: &str) -> (String, String) {
    let price = h.stripe.price("Starter", 1900, "usd").await;
    let me = h.stripe.customer(email, Some("pm_card_visa")).await;
    h.stripe.subscribe(&me, &price, &[]).await;
    h.stripe.set_card(&me, card).await;
    h.stripe
        .control("clock/advance", json!({"seconds": 32 * DAY}))
        .await;
    let open = h
        .stripe
        .get(&format!("/v1/invoices?customer={me}&status=open"))
        .await;
    let inv = open["data"][0]["id"]
        .as_str()
        .expect("an open invoice")
        .to_string();
    (me, inv)
}

async fn retry(h: &Harness, customer: &str, body: Value) -> (u16, Value) {
    let token = h.token(visitor_claims(
        "user_1",
        json!({"stripe_customer_id": customer}),
    ));
    h.call(&Write(RetryPayment), Some(&token), &body.to_string())
        .await
}

async fn attempt(h: &Harness, customer: &str) -> (u16, Value) {
    let (status, body) = retry(h, customer, json!({})).await;
    if body["status"] != "confirmation_required" {
        return (status, body);
    }
    let token = body["confirmation"]["token"].as_str().unwrap().to_string();
    retry(h, customer, json!({"confirm": token})).await
}

async fn pays(h: &Harness, inv: &str) -> usize {
    let want = format!("POST /v1/invoices/{inv}/pay");
    h.stripe
        .request_log()
        .await
        .iter()
        .filter(|r| **r == want)
        .count()
}

#[tokio::test]
async fn a_decline_is_explained_then_a_new_card_pays() {
    let h = Harness::new().await;
    let (me, inv) = past_due(&h, "late@example.com").await;
    let (status, body) = retry(&h, &me, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let s = body["summary"].as_str().unwrap();
    assert!(
        s.contains("$19.00") && s.contains("Visa ending 0341"),
        "{s}"
    );
    assert_eq!(pays(&h, &inv).await, 0, "a preview pays nothing");
    let token = body["confirmation"]["token"].as_str().unwrap().to_string();
    let (status, body) = retry(&h, &me, json!({"confirm": token})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["paid"], false);
    let s = body["summary"].as_str().unwrap();
    assert!(
        s.contains("didn't go through: the card was declined"),
        "{s}"
    );
    assert!(
        body["data"]["portal_url"]
            .as_str()
            .unwrap()
            .starts_with("https://"),
        "{body}"
    );
    // The card is changed (as the portal would), and the retry pays.
    let pm = h.stripe.set_card(&me, "pm_card_visa").await;
    let sub = h
        .stripe
        .get(&format!("/v1/subscriptions?customer={me}"))
        .await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    h.stripe
        .post(
            &format!("/v1/subscriptions/{sub}"),
            &[("default_payment_method", &pm)],
        )
        .await;
    let (status, body) = attempt(&h, &me).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["paid"], true, "{body}");
    assert!(body["summary"].as_str().unwrap().starts_with("Done:"));
    assert_eq!(
        h.stripe.get(&format!("/v1/invoices/{inv}")).await["status"],
        "paid"
    );
    assert_eq!(pays(&h, &inv).await, 2);
    let (_, body) = retry(&h, &me, json!({})).await;
    assert_eq!(body["status"], "done", "nothing left to pay: {body}");
}

#[tokio::test]
async fn a_fourth_attempt_in_a_day_is_refused_before_stripe() {
    let h = Harness::new().await;
    let (me, inv) = past_due(&h, "tries@example.com").await;
    for _ in 0..3 {
        let (status, body) = attempt(&h, &me).await;
        assert_eq!(
            (status, &body["data"]["paid"]),
            (200, &json!(false)),
            "{body}"
        );
    }
    let (status, body) = attempt(&h, &me).await;
    assert_eq!(
        (status, body["error"]["reason"].as_str()),
        (403, Some("retry_limit")),
        "{body}"
    );
    assert_eq!(body["error"]["escalate"], true);
    assert_eq!(pays(&h, &inv).await, 3);
}

#[tokio::test]
async fn another_customers_invoice_is_refused() {
    let h = Harness::new().await;
    let (_, theirs) = past_due(&h, "them@example.com").await;
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    let (status, body) = retry(&h, &me, json!({"invoice_id": theirs})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("not_owner")),
        "{body}"
    );
    let (status, body) = retry(&h, &me, json!({"invoice_id": "sub_123"})).await;
    assert_eq!(status, 400, "{body}");
    assert_eq!(pays(&h, &theirs).await, 0);
}

#[tokio::test]
async fn a_bank_asking_for_3d_secure_gets_the_hosted_invoice_link() {
    let h = Harness::new().await;
    let (me, inv) = past_due_with(&h, "secure@example.com", "pm_card_authenticationRequired").await;
    let hosted = h.stripe.get(&format!("/v1/invoices/{inv}")).await["hosted_invoice_url"]
        .as_str()
        .expect("a hosted invoice page")
        .to_string();
    let (status, body) = attempt(&h, &me).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (&body["data"]["paid"], &body["data"]["requires_action"]),
        (&json!(false), &json!(true)),
        "{body}"
    );
    assert_eq!(body["data"]["hosted_invoice_url"], hosted.as_str());
    let s = body["summary"].as_str().unwrap();
    assert!(
        s.contains("bank wants to confirm") && s.contains(&hosted),
        "{s}"
    );
    assert_eq!(pays(&h, &inv).await, 1);
    assert_eq!(
        h.stripe.get(&format!("/v1/invoices/{inv}")).await["status"],
        "open",
        "nothing was charged"
    );
}
