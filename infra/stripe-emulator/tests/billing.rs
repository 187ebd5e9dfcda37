//! Subscriptions, invoices and payments, including what happens as the clock advances.

mod common;

use common::Emu;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

#[tokio::test]
async fn successful_subscription_produces_paid_invoice_and_charge() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let cus = emu.customer("ok@x.com", Some("pm_card_visa")).await;
    let sub = emu
        .subscribe(&cus, &price, "&expand[]=latest_invoice")
        .await;
    assert_eq!(sub["status"], "active");
    let item = &sub["items"]["data"][0];
    assert!(item["current_period_end"].as_i64() > item["current_period_start"].as_i64());
    assert!(sub.get("current_period_end").is_none());
    let inv = &sub["latest_invoice"];
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["billing_reason"], "subscription_create");
    assert_eq!(inv["amount_paid"], 4900);
    assert_eq!(
        inv["lines"]["data"][0]["description"],
        "1 × Growth (at $49.00 / month)"
    );
    assert_eq!(
        inv["lines"]["data"][0]["pricing"]["price_details"]["price"],
        price.as_str()
    );
    let customer = emu.get(&format!("/v1/customers/{cus}")).await;
    let prefix = customer["invoice_prefix"].as_str().unwrap_or_default();
    assert_eq!(prefix.len(), 8);
    assert_eq!(inv["number"], format!("{prefix}-0001"));
    assert_eq!(customer["currency"], "usd");

    let charges = emu.get(&format!("/v1/charges?customer={cus}")).await;
    let ch = &charges["data"][0];
    assert_eq!(ch["status"], "succeeded");
    assert_eq!(ch["payment_method_details"]["card"]["brand"], "visa");
    let pi = emu
        .get(&format!(
            "/v1/payment_intents/{}",
            ch["payment_intent"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(pi["latest_charge"], ch["id"]);
    let by_pi = emu
        .get(&format!("/v1/charges?payment_intent={}", id(&pi)))
        .await;
    assert_eq!(by_pi["data"].as_array().map(Vec::len), Some(1));
    let by_sub = emu
        .get(&format!(
            "/v1/invoices?subscription={}&status=paid",
            id(&sub)
        ))
        .await;
    assert_eq!(by_sub["data"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn card_outcomes() {
    let emu = Emu::start().await;
    let cus = emu.customer("c@x.com", None).await;
    let (status, body) = emu
        .call(
            "POST",
            "/v1/payment_methods/pm_card_chargeDeclined/attach",
            &format!("customer={cus}"),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (402, json!("card_declined"))
    );
    assert_eq!(body["error"]["type"], "card_error");
    let mc = emu
        .post(
            "/v1/payment_methods/pm_card_mastercard/attach",
            &format!("customer={cus}"),
        )
        .await;
    assert_eq!(mc["card"]["last4"], "4444");
    let listed = emu
        .get(&format!("/v1/customers/{cus}/payment_methods"))
        .await;
    assert_eq!(listed["data"].as_array().map(Vec::len), Some(1));
    let detached = emu
        .post(&format!("/v1/payment_methods/{}/detach", id(&mc)), "")
        .await;
    assert_eq!(detached["customer"], json!(null));

    let price = emu.price("Growth", 4900).await;
    let failing = emu
        .customer("f@x.com", Some("pm_card_chargeCustomerFail"))
        .await;
    let sub = emu
        .subscribe(&failing, &price, "&expand[]=latest_invoice.payments")
        .await;
    assert_eq!(sub["status"], "incomplete");
    assert_eq!(sub["latest_invoice"]["status"], "open");
    assert_eq!(sub["latest_invoice"]["attempt_count"], 1);
    let charge = &emu.get(&format!("/v1/charges?customer={failing}")).await["data"][0];
    assert_eq!(charge["status"], "failed");
    assert_eq!(charge["failure_message"], "Your card was declined.");

    let (status, _) = emu
        .call(
            "POST",
            "/v1/subscriptions",
            &format!(
                "customer={failing}&items[0][price]={price}&payment_behavior=error_if_incomplete"
            ),
        )
        .await;
    assert_eq!(status, 402);
    let all = emu
        .get(&format!("/v1/subscriptions?customer={failing}&status=all"))
        .await;
    assert_eq!(all["data"].as_array().map(Vec::len), Some(1));

    // Paying the open invoice with a good card recovers the subscription.
    let good = emu
        .post(
            "/v1/payment_methods/pm_card_visa/attach",
            &format!("customer={failing}"),
        )
        .await;
    let inv = sub["latest_invoice"]["id"].as_str().unwrap_or_default();
    let paid = emu
        .post(
            &format!("/v1/invoices/{inv}/pay"),
            &format!("payment_method={}", id(&good)),
        )
        .await;
    assert_eq!(paid["status"], "paid");
    let sub = emu.get(&format!("/v1/subscriptions/{}", id(&sub))).await;
    assert_eq!(sub["status"], "active");
}

#[tokio::test]
async fn trial_renewal_and_decline_over_time() {
    let emu = Emu::start().await;
    let price = emu.price("Starter", 1900).await;
    let cus = emu.customer("t@x.com", Some("pm_card_visa")).await;
    let sub = emu.subscribe(&cus, &price, "&trial_period_days=14").await;
    assert_eq!(sub["status"], "trialing");
    let trial_inv = emu
        .get(&format!(
            "/v1/invoices/{}",
            sub["latest_invoice"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(
        (trial_inv["status"].clone(), trial_inv["total"].clone()),
        (json!("paid"), json!(0))
    );

    emu.advance(15 * DAY).await;
    let sub = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&sub)
        ))
        .await;
    assert_eq!(sub["status"], "active");
    assert_eq!(
        sub["latest_invoice"]["billing_reason"],
        "subscription_cycle"
    );
    assert_eq!(sub["latest_invoice"]["amount_paid"], 1900);

    // The card starts failing: the next renewal leaves it past due.
    let bad = emu
        .post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &format!("customer={cus}"),
        )
        .await;
    emu.post(
        &format!("/v1/subscriptions/{}", id(&sub)),
        &format!("default_payment_method={}", id(&bad)),
    )
    .await;
    emu.advance(32 * DAY).await;
    let sub = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&sub)
        ))
        .await;
    assert_eq!(sub["status"], "past_due");
    let inv = &sub["latest_invoice"];
    assert_eq!(inv["status"], "open");
    assert_eq!(inv["attempt_count"], 1);
    assert!(inv["next_payment_attempt"].as_i64().is_some());
    let invoices = emu.get(&format!("/v1/invoices?customer={cus}")).await;
    assert_eq!(invoices["data"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn cancel_pause_and_send_invoice() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let cus = emu.customer("p@x.com", Some("pm_card_visa")).await;

    let ending = emu.subscribe(&cus, &price, "").await;
    let upd = emu
        .post(
            &format!("/v1/subscriptions/{}", id(&ending)),
            "cancel_at_period_end=true",
        )
        .await;
    assert_eq!(
        upd["cancel_at"],
        upd["items"]["data"][0]["current_period_end"]
    );

    let paused = emu.subscribe(&cus, &price, "").await;
    emu.post(
        &format!("/v1/subscriptions/{}", id(&paused)),
        "pause_collection[behavior]=keep_as_draft",
    )
    .await;

    let manual = emu
        .subscribe(
            &cus,
            &price,
            "&collection_method=send_invoice&days_until_due=30&expand[]=latest_invoice",
        )
        .await;
    assert_eq!(manual["status"], "active");
    assert_eq!(manual["latest_invoice"]["status"], "open");
    assert!(manual["latest_invoice"]["due_date"].as_i64().is_some());
    let inv = manual["latest_invoice"]["id"].as_str().unwrap_or_default();
    assert_eq!(
        emu.post(&format!("/v1/invoices/{inv}/send"), "").await["status"],
        "open"
    );

    let now_canceled = emu.subscribe(&cus, &price, "").await;
    let canceled = emu
        .ok(
            "DELETE",
            &format!("/v1/subscriptions/{}", id(&now_canceled)),
            "",
        )
        .await;
    assert_eq!(canceled["status"], "canceled");
    assert!(canceled["ended_at"].as_i64().is_some());
    let default_list = emu.get(&format!("/v1/subscriptions?customer={cus}")).await;
    assert_eq!(default_list["data"].as_array().map(Vec::len), Some(3));

    emu.advance(32 * DAY).await;
    let ending = emu.get(&format!("/v1/subscriptions/{}", id(&ending))).await;
    assert_eq!(ending["status"], "canceled");
    let paused = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&paused)
        ))
        .await;
    assert_eq!(paused["latest_invoice"]["status"], "draft");

    let cust = emu
        .get(&format!("/v1/customers/{cus}?expand[]=subscriptions"))
        .await;
    assert_eq!(
        cust["subscriptions"]["data"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn credit_balance_preview_and_portal() {
    let emu = Emu::start().await;
    let price = emu.price("Starter", 1900).await;
    let cus = emu.customer("b@x.com", Some("pm_card_visa")).await;
    let sub = emu.subscribe(&cus, &price, "").await;
    let txn = emu
        .post(
            &format!("/v1/customers/{cus}/balance_transactions"),
            "amount=-1500&currency=usd&description=Goodwill",
        )
        .await;
    assert_eq!(txn["ending_balance"], -1500);
    let preview = emu
        .post(
            "/v1/invoices/create_preview",
            &format!("customer={cus}&subscription={}", id(&sub)),
        )
        .await;
    assert_eq!(preview["total"], 1900);
    assert_eq!(preview["amount_due"], 400);
    assert!(
        preview["id"]
            .as_str()
            .unwrap_or_default()
            .starts_with("upcoming_in_")
    );
    // A preview changes nothing.
    assert_eq!(
        emu.get(&format!("/v1/invoices?customer={cus}")).await["data"]
            .as_array()
            .map(Vec::len),
        Some(1)
    );

    emu.advance(32 * DAY).await;
    let customer = emu.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(customer["balance"], 0);
    let ledger = emu
        .get(&format!("/v1/customers/{cus}/balance_transactions"))
        .await;
    assert_eq!(ledger["data"][0]["type"], "applied_to_invoice");

    let session = emu
        .post(
            "/v1/billing_portal/sessions",
            &format!(
                "customer={cus}&return_url=https%3A%2F%2Fx.com&flow_data[type]=subscription_cancel&flow_data[subscription_cancel][subscription]={}",
                id(&sub)
            ),
        )
        .await;
    assert_eq!(session["object"], "billing_portal.session");
    assert_eq!(session["flow"]["type"], "subscription_cancel");
    assert!(
        session["url"]
            .as_str()
            .unwrap_or_default()
            .starts_with("https://billing.stripe.com/")
    );
}
