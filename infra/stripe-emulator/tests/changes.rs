//! Plan changes with prorations, invoice previews of them, renewals' hour as drafts, and
//! coupons / promotion codes as subscription discounts.

mod common;

use common::Emu;
use serde_json::{Value, json};

const DAY: i64 = 86_400;

fn id(v: &Value) -> String {
    v["id"].as_str().unwrap_or_default().to_string()
}

fn len(v: &Value) -> usize {
    v.as_array().map(Vec::len).unwrap_or_default()
}

/// Stripe's proration: `unit × remaining / period`, rounded half away from zero.
fn prorate(unit: i64, at: i64, (start, end): (i64, i64)) -> i64 {
    let num = unit as f64 * (end - at) as f64 / (end - start) as f64;
    num.round() as i64
}

struct Setup {
    emu: Emu,
    growth: String,
    scale: String,
    cus: String,
    sub: Value,
    item: String,
    period: (i64, i64),
}

async fn setup(card: &str) -> Setup {
    let emu = Emu::start().await;
    let growth = emu.price("Growth", 4900).await;
    let scale = emu.price("Scale", 9900).await;
    let cus = emu.customer("swap@x.com", Some(card)).await;
    let sub = emu.subscribe(&cus, &growth, "").await;
    let item = sub["items"]["data"][0]["id"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let period = (
        sub["items"]["data"][0]["current_period_start"]
            .as_i64()
            .unwrap_or_default(),
        sub["items"]["data"][0]["current_period_end"]
            .as_i64()
            .unwrap_or_default(),
    );
    Setup {
        emu,
        growth,
        scale,
        cus,
        sub,
        item,
        period,
    }
}

#[tokio::test]
async fn price_swap_prorates_and_the_preview_matches_the_renewal() {
    let s = setup("pm_card_visa").await;
    let emu = &s.emu;
    let (start, end) = s.period;
    let at = start + (end - start) / 3 + 7;
    let credit = -prorate(4900, at, s.period);
    let debit = prorate(9900, at, s.period);

    let preview = emu
        .post(
            "/v1/invoices/create_preview",
            &format!(
                "customer={}&subscription={}&subscription_details[items][0][id]={}&subscription_details[items][0][price]={}&subscription_details[proration_date]={at}",
                s.cus,
                id(&s.sub),
                s.item,
                s.scale
            ),
        )
        .await;
    let lines = &preview["lines"]["data"];
    assert_eq!(len(lines), 3, "{preview}");
    let prorations: Vec<&Value> = lines
        .as_array()
        .into_iter()
        .flatten()
        .filter(|l| l["parent"]["subscription_item_details"]["proration"] == true)
        .collect();
    assert_eq!(prorations.len(), 2);
    assert_eq!(prorations[0]["amount"], credit);
    assert_eq!(prorations[1]["amount"], debit);
    assert!(
        prorations[0]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Unused time on Growth after ")),
        "{}",
        prorations[0]["description"]
    );
    assert!(
        prorations[1]["description"]
            .as_str()
            .is_some_and(|d| d.starts_with("Remaining time on Scale after "))
    );
    assert_eq!(prorations[0]["period"], json!({"start": at, "end": end}));
    assert_eq!(preview["total"], credit + debit + 9900);
    assert_eq!(preview["billing_reason"], "subscription_cycle");
    // The preview kept nothing.
    let pending = emu
        .get(&format!("/v1/invoiceitems?customer={}&pending=true", s.cus))
        .await;
    assert_eq!(len(&pending["data"]), 0);

    let updated = emu
        .post(
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            &format!(
                "items[0][id]={}&items[0][price]={}&proration_date={at}",
                s.item, s.scale
            ),
        )
        .await;
    assert_eq!(updated["items"]["data"][0]["price"]["id"], s.scale.as_str());
    assert_eq!(updated["items"]["data"][0]["id"], s.item.as_str());
    // create_prorations invoices nothing now.
    assert_eq!(updated["latest_invoice"], s.sub["latest_invoice"]);
    let pending = emu
        .get(&format!("/v1/invoiceitems?customer={}&pending=true", s.cus))
        .await;
    let amounts: Vec<i64> = pending["data"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|i| i["amount"].as_i64())
        .collect();
    assert_eq!(amounts.len(), 2);
    assert!(amounts.contains(&credit) && amounts.contains(&debit));
    assert!(
        pending["data"]
            .as_array()
            .into_iter()
            .flatten()
            .all(|i| i["proration"] == true && i["invoice"].is_null())
    );
    // The credit points at the line that billed the period.
    let credit_item = pending["data"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|i| i["amount"] == credit)
        .cloned()
        .unwrap_or_default();
    assert_eq!(
        credit_item["proration_details"]["credited_items"]["invoice_line_item_details"]["invoice"],
        s.sub["latest_invoice"]
    );

    // The renewal carries the prorations and the new price, as previewed, an hour later.
    let now = emu.control("GET", "clock", json!({})).await["now"]
        .as_i64()
        .unwrap_or_default();
    emu.advance(end - now + 60).await;
    let renewed = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&s.sub)
        ))
        .await;
    let inv = &renewed["latest_invoice"];
    assert_eq!(inv["status"], "draft");
    assert_eq!(
        inv["automatically_finalizes_at"].as_i64(),
        inv["created"].as_i64().map(|c| c + 3600)
    );
    assert_eq!(inv["total"], preview["total"]);
    assert_eq!(len(&inv["lines"]["data"]), 3);
    emu.advance(3600).await;
    let inv = emu
        .get(&format!(
            "/v1/invoices/{}",
            inv["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["amount_paid"], credit + debit + 9900);
    let pending = emu
        .get(&format!("/v1/invoiceitems?customer={}&pending=true", s.cus))
        .await;
    assert_eq!(len(&pending["data"]), 0);
}

#[tokio::test]
async fn always_invoice_bills_now_and_none_bills_nothing() {
    let s = setup("pm_card_visa").await;
    let emu = &s.emu;
    let (start, end) = s.period;
    let at = start + (end - start) / 2;
    let preview = emu
        .post(
            "/v1/invoices/create_preview",
            &format!(
                "subscription={}&subscription_details[items][0][id]={}&subscription_details[items][0][price]={}&subscription_details[proration_date]={at}&subscription_details[proration_behavior]=always_invoice",
                id(&s.sub),
                s.item,
                s.scale
            ),
        )
        .await;
    let expected = prorate(9900, at, s.period) - prorate(4900, at, s.period);
    assert_eq!(preview["total"], expected);
    assert_eq!(len(&preview["lines"]["data"]), 2);
    assert_eq!(preview["billing_reason"], "subscription_update");

    let updated = emu
        .post(
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            &format!(
                "items[0][id]={}&items[0][price]={}&proration_date={at}&proration_behavior=always_invoice&expand[]=latest_invoice",
                s.item, s.scale
            ),
        )
        .await;
    let inv = &updated["latest_invoice"];
    assert_eq!(inv["billing_reason"], "subscription_update");
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["amount_paid"], expected);
    assert_eq!(updated["status"], "active");

    // Back down with `none`: no prorations, the next renewal is at the new price.
    let down = emu
        .post(
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            &format!(
                "items[0][id]={}&items[0][price]={}&proration_behavior=none",
                s.item, s.growth
            ),
        )
        .await;
    assert_eq!(down["latest_invoice"], inv["id"]);
    let pending = emu
        .get(&format!("/v1/invoiceitems?customer={}&pending=true", s.cus))
        .await;
    assert_eq!(len(&pending["data"]), 0);
    let next = emu
        .post(
            "/v1/invoices/create_preview",
            &format!("subscription={}", id(&s.sub)),
        )
        .await;
    assert_eq!(next["total"], 4900);

    let (status, body) = emu
        .call(
            "POST",
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            "proration_behavior=sometimes",
        )
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("proration_behavior"))
    );
    let (status, body) = emu
        .call(
            "POST",
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            &format!("proration_date={}", end + DAY),
        )
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("proration_date"))
    );
}

#[tokio::test]
async fn an_invoiced_downgrade_becomes_credit() {
    let emu = Emu::start().await;
    let scale = emu.price("Scale", 9900).await;
    let growth = emu.price("Growth", 4900).await;
    let cus = emu.customer("down@x.com", Some("pm_card_visa")).await;
    let sub = emu.subscribe(&cus, &scale, "").await;
    let item = &sub["items"]["data"][0];
    let period = (
        item["current_period_start"].as_i64().unwrap_or_default(),
        item["current_period_end"].as_i64().unwrap_or_default(),
    );
    let at = period.0 + (period.1 - period.0) / 2;
    let updated = emu
        .post(
            &format!("/v1/subscriptions/{}", id(&sub)),
            &format!(
                "items[0][id]={}&items[0][price]={growth}&proration_date={at}&proration_behavior=always_invoice&expand[]=latest_invoice",
                id(item)
            ),
        )
        .await;
    let inv = &updated["latest_invoice"];
    let total = prorate(4900, at, period) - prorate(9900, at, period);
    assert!(total < 0);
    assert_eq!(inv["total"], total);
    assert_eq!(inv["amount_due"], 0);
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["ending_balance"], total);
    let customer = emu.get(&format!("/v1/customers/{cus}")).await;
    assert_eq!(customer["balance"], total);
    // The credit pays toward the renewal.
    let next = emu
        .post(
            "/v1/invoices/create_preview",
            &format!("subscription={}", id(&sub)),
        )
        .await;
    assert_eq!(next["total"], 4900);
    assert_eq!(next["amount_due"], 4900 + total);
}

#[tokio::test]
async fn a_declined_always_invoice_upgrade_goes_past_due_or_is_refused() {
    let s = setup("pm_card_visa").await;
    let emu = &s.emu;
    let bad = emu
        .post(
            "/v1/payment_methods/pm_card_chargeCustomerFail/attach",
            &format!("customer={}", s.cus),
        )
        .await;
    emu.post(
        &format!("/v1/subscriptions/{}", id(&s.sub)),
        &format!("default_payment_method={}", id(&bad)),
    )
    .await;
    let (status, _) = emu
        .call(
            "POST",
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            &format!(
                "items[0][id]={}&items[0][price]={}&proration_behavior=always_invoice&payment_behavior=error_if_incomplete",
                s.item, s.scale
            ),
        )
        .await;
    assert_eq!(status, 402);
    let kept = emu.get(&format!("/v1/subscriptions/{}", id(&s.sub))).await;
    assert_eq!(kept["items"]["data"][0]["price"]["id"], s.growth.as_str());
    let updated = emu
        .post(
            &format!("/v1/subscriptions/{}", id(&s.sub)),
            &format!(
                "items[0][id]={}&items[0][price]={}&proration_behavior=always_invoice&expand[]=latest_invoice",
                s.item, s.scale
            ),
        )
        .await;
    assert_eq!(updated["status"], "past_due");
    assert_eq!(updated["latest_invoice"]["status"], "open");
}

#[tokio::test]
async fn renewals_wait_an_hour_as_drafts_but_first_invoices_do_not() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let manual = emu.customer("m@x.com", None).await;
    let sub = emu
        .subscribe(
            &manual,
            &price,
            "&collection_method=send_invoice&days_until_due=30&expand[]=latest_invoice",
        )
        .await;
    assert_eq!(sub["latest_invoice"]["status"], "open");
    let end = sub["items"]["data"][0]["current_period_end"]
        .as_i64()
        .unwrap_or_default();
    let now = emu.control("GET", "clock", json!({})).await["now"]
        .as_i64()
        .unwrap_or_default();
    emu.advance(end - now + 10).await;
    let sub = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&sub)
        ))
        .await;
    assert_eq!(sub["latest_invoice"]["status"], "draft");
    assert_eq!(sub["latest_invoice"]["number"], json!(null));
    assert_eq!(sub["status"], "active");
    emu.advance(3600).await;
    let inv = emu
        .get(&format!(
            "/v1/invoices/{}",
            sub["latest_invoice"]["id"].as_str().unwrap_or_default()
        ))
        .await;
    assert_eq!(inv["status"], "open");
    assert!(inv["due_date"].as_i64().is_some());
    assert_eq!(inv["automatically_finalizes_at"], json!(null));
}

#[tokio::test]
async fn coupons_and_promotion_codes_discount_invoices() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let coupon = emu
        .post(
            "/v1/coupons",
            "percent_off=25&duration=repeating&duration_in_months=3&name=Quarter",
        )
        .await;
    assert_eq!(coupon["object"], "coupon");
    assert_eq!(coupon["valid"], true);
    assert_eq!(coupon["times_redeemed"], 0);
    assert_eq!(coupon["percent_off"], 25.0);
    let promo = emu
        .post(
            "/v1/promotion_codes",
            &format!(
                "promotion[type]=coupon&promotion[coupon]={}&code=Summer25&max_redemptions=1",
                id(&coupon)
            ),
        )
        .await;
    assert_eq!(promo["promotion"]["coupon"], coupon["id"]);
    assert_eq!(promo["active"], true);
    let found = emu.get("/v1/promotion_codes?code=SUMMER25").await;
    assert_eq!(found["data"][0]["id"], promo["id"]);
    let (status, body) = emu
        .call(
            "POST",
            "/v1/promotion_codes",
            &format!(
                "promotion[type]=coupon&promotion[coupon]={}&code=summer25",
                id(&coupon)
            ),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("resource_already_exists"))
    );

    let cus = emu.customer("d@x.com", Some("pm_card_visa")).await;
    let sub = emu
        .subscribe(
            &cus,
            &price,
            &format!(
                "&discounts[0][promotion_code]={}&expand[]=latest_invoice&expand[]=discounts.source.coupon",
                id(&promo)
            ),
        )
        .await;
    let inv = &sub["latest_invoice"];
    assert_eq!(inv["subtotal"], 4900);
    assert_eq!(inv["total"], 3675);
    assert_eq!(inv["amount_paid"], 3675);
    assert_eq!(inv["total_discount_amounts"][0]["amount"], 1225);
    assert_eq!(
        inv["lines"]["data"][0]["discount_amounts"][0]["amount"],
        1225
    );
    let discount = &sub["discounts"][0];
    assert_eq!(discount["object"], "discount");
    assert_eq!(discount["promotion_code"], promo["id"]);
    assert_eq!(discount["source"]["coupon"]["name"], "Quarter");
    assert!(discount["end"].as_i64().is_some());
    let promo = emu
        .get(&format!("/v1/promotion_codes/{}", id(&promo)))
        .await;
    assert_eq!(promo["times_redeemed"], 1);
    assert_eq!(promo["active"], false, "used up");
    assert_eq!(
        emu.get(&format!("/v1/coupons/{}", id(&coupon))).await["times_redeemed"],
        1
    );
    let other = emu.customer("o@x.com", Some("pm_card_visa")).await;
    let (status, _) = emu
        .call(
            "POST",
            "/v1/subscriptions",
            &format!(
                "customer={other}&items[0][price]={price}&discounts[0][promotion_code]={}",
                id(&promo)
            ),
        )
        .await;
    assert_eq!(status, 400);

    // A once-only amount off, added by update, takes its share of the next renewal only.
    let once = emu
        .post(
            "/v1/coupons",
            "amount_off=1000&currency=usd&duration=once&id=TENOFF",
        )
        .await;
    assert_eq!(once["id"], "TENOFF");
    let sub2 = emu.subscribe(&other, &price, "").await;
    emu.post(
        &format!("/v1/subscriptions/{}", id(&sub2)),
        "discounts[0][coupon]=TENOFF",
    )
    .await;
    let preview = emu
        .post(
            "/v1/invoices/create_preview",
            &format!("subscription={}", id(&sub2)),
        )
        .await;
    assert_eq!(preview["total"], 3900);
    assert_eq!(len(&preview["discounts"]), 1);
    emu.advance(32 * DAY).await;
    let sub2 = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&sub2)
        ))
        .await;
    assert_eq!(sub2["latest_invoice"]["amount_paid"], 3900);
    assert_eq!(sub2["discounts"], json!([]));
    emu.advance(31 * DAY).await;
    let sub2 = emu
        .get(&format!(
            "/v1/subscriptions/{}?expand[]=latest_invoice",
            id(&sub2)
        ))
        .await;
    assert_eq!(sub2["latest_invoice"]["amount_paid"], 4900);

    // Clearing discounts with an empty string.
    let cleared = emu
        .post(&format!("/v1/subscriptions/{}", id(&sub)), "discounts=")
        .await;
    assert_eq!(cleared["discounts"], json!([]));
}

#[tokio::test]
async fn promotion_code_restrictions() {
    let emu = Emu::start().await;
    let price = emu.price("Growth", 4900).await;
    let coupon = emu.post("/v1/coupons", "percent_off=10").await;
    let veteran = emu.customer("v@x.com", Some("pm_card_visa")).await;
    emu.subscribe(&veteran, &price, "").await;
    let fresh = emu.customer("f@x.com", Some("pm_card_visa")).await;
    let first_time = emu
        .post(
            "/v1/promotion_codes",
            &format!(
                "promotion[type]=coupon&promotion[coupon]={}&restrictions[first_time_transaction]=true",
                id(&coupon)
            ),
        )
        .await;
    let (status, body) = emu
        .call(
            "POST",
            "/v1/subscriptions",
            &format!(
                "customer={veteran}&items[0][price]={price}&discounts[0][promotion_code]={}",
                id(&first_time)
            ),
        )
        .await;
    assert_eq!(status, 400);
    assert!(
        body["error"]["message"]
            .as_str()
            .is_some_and(|m| m.contains("prior transactions"))
    );
    emu.subscribe(
        &fresh,
        &price,
        &format!("&discounts[0][promotion_code]={}", id(&first_time)),
    )
    .await;

    let big_spender = emu
        .post(
            "/v1/promotion_codes",
            &format!(
                "promotion[type]=coupon&promotion[coupon]={}&restrictions[minimum_amount]=10000&restrictions[minimum_amount_currency]=usd",
                id(&coupon)
            ),
        )
        .await;
    assert_eq!(big_spender["restrictions"]["minimum_amount"], 10000);
    let (status, _) = emu
        .call(
            "POST",
            "/v1/subscriptions",
            &format!(
                "customer={veteran}&items[0][price]={price}&discounts[0][promotion_code]={}",
                id(&big_spender)
            ),
        )
        .await;
    assert_eq!(status, 400);

    let personal = emu
        .post(
            "/v1/promotion_codes",
            &format!(
                "promotion[type]=coupon&promotion[coupon]={}&customer={fresh}",
                id(&coupon)
            ),
        )
        .await;
    let (status, _) = emu
        .call(
            "POST",
            "/v1/subscriptions",
            &format!(
                "customer={veteran}&items[0][price]={price}&discounts[0][promotion_code]={}",
                id(&personal)
            ),
        )
        .await;
    assert_eq!(status, 400);
    let now = emu.control("GET", "clock", json!({})).await["now"]
        .as_i64()
        .unwrap_or_default();
    let expiring = emu
        .post(
            "/v1/promotion_codes",
            &format!(
                "promotion[type]=coupon&promotion[coupon]={}&expires_at={}",
                id(&coupon),
                now + 100
            ),
        )
        .await;
    emu.advance(200).await;
    let listed = emu
        .get(&format!(
            "/v1/promotion_codes?coupon={}&active=false",
            id(&coupon)
        ))
        .await;
    assert!(
        listed["data"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|p| p["id"] == expiring["id"])
    );
    let (status, body) = emu
        .call(
            "POST",
            "/v1/subscriptions",
            &format!(
                "customer={veteran}&items[0][price]={price}&discounts[0][promotion_code]={}",
                id(&expiring)
            ),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].clone()),
        (400, json!("coupon_expired"))
    );

    for bad in [
        "duration=once",
        "percent_off=0",
        "percent_off=101",
        "amount_off=500",
        "percent_off=5&amount_off=5&currency=usd",
        "percent_off=5&duration=repeating",
    ] {
        let (status, _) = emu.call("POST", "/v1/coupons", bad).await;
        assert_eq!(status, 400, "{bad}");
    }
    let listed = emu.get("/v1/coupons?limit=1").await;
    assert_eq!(listed["has_more"], false);
}

#[tokio::test]
async fn customer_contact_and_address_update() {
    let emu = Emu::start().await;
    let cus = emu.post("/v1/customers", "email=a@x.com").await;
    let updated = emu
        .post(
            &format!("/v1/customers/{}", id(&cus)),
            "name=Ada+Lovelace&email=ada%40x.com&phone=%2B15555550100&address[line1]=1+Main+St&address[line2]=Apt+2&address[city]=Springfield&address[state]=IL&address[postal_code]=62701&address[country]=US",
        )
        .await;
    assert_eq!(updated["name"], "Ada Lovelace");
    assert_eq!(updated["email"], "ada@x.com");
    assert_eq!(updated["phone"], "+15555550100");
    assert_eq!(
        updated["address"],
        json!({"line1": "1 Main St", "line2": "Apt 2", "city": "Springfield",
               "state": "IL", "postal_code": "62701", "country": "US"})
    );
    let (status, body) = emu
        .call(
            "POST",
            &format!("/v1/customers/{}", id(&cus)),
            "address[street]=x",
        )
        .await;
    assert_eq!(
        (status, body["error"]["param"].clone()),
        (400, json!("address[street]"))
    );
    // The next invoice carries the new details.
    let price = emu.price("Growth", 4900).await;
    let sub = emu
        .subscribe(
            &id(&cus),
            &price,
            "&collection_method=send_invoice&days_until_due=7&expand[]=latest_invoice",
        )
        .await;
    assert_eq!(sub["latest_invoice"]["customer_name"], "Ada Lovelace");
    assert_eq!(
        sub["latest_invoice"]["customer_address"]["city"],
        "Springfield"
    );
}
