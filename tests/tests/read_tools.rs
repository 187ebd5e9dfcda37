//! The read tools, agent insight and the tool list, in process against the emulator.
use integration::{Harness, OTHER_TENANT, TENANT, agent_token, mint, visitor_claims};
use serde_json::{Value, json};
use shared::endpoints::read::{
    GetAvailablePlans, GetBillingInfo, GetBillingPortalLink, GetCreditBalance, GetInvoiceHistory,
    GetPaymentHistory, GetSubscriptionStatus, GetUpcomingInvoice, ResendInvoice,
};
use shared::pipeline::endpoint::Tool;

const DAY: i64 = 86_400;

struct World {
    h: Harness,
    active: String,
    active_sub: String,
    nothing: String,
    neighbour: String,
    neighbour_sub: String,
    neighbour_invoice: String,
    foreign_sub: String,
    foreign_invoice: String,
    prices: Vec<String>,
}

async fn world() -> World {
    let h = Harness::new().await;
    let s = &h.stripe;
    let prices = vec![
        s.price("Starter", 1900, "usd").await,
        s.price("Growth", 4900, "usd").await,
        s.price("Scale", 9900, "usd").await,
    ];
    let active = s.customer("ada@example.com", Some("pm_card_visa")).await;
    let active_sub = s.subscribe(&active, &prices[1], &[]).await["id"]
        .as_str()
        .unwrap()
        .to_string();
    let nothing = s.customer("nell@example.com", None).await;
    let neighbour = s
        .customer("ned@example.com", Some("pm_card_mastercard"))
        .await;
    let sub = s.subscribe(&neighbour, &prices[0], &[]).await;
    let neighbour_sub = sub["id"].as_str().unwrap().to_string();
    // An invoice Stripe *would* email: refusing it proves ownership is checked before the
    // send, not that a paid invoice is never sent anyway.
    let manual = s
        .subscribe(
            &neighbour,
            &prices[2],
            &[
                ("collection_method", "send_invoice"),
                ("days_until_due", "30"),
            ],
        )
        .await;
    let neighbour_invoice = manual["latest_invoice"].as_str().unwrap().to_string();
    let o = &h.other;
    let op = o.price("Foreign", 500, "usd").await;
    let oc = o.customer("fay@example.com", Some("pm_card_visa")).await;
    let osub = o.subscribe(&oc, &op, &[]).await;
    World {
        active,
        active_sub,
        nothing,
        neighbour,
        neighbour_sub,
        neighbour_invoice,
        foreign_sub: osub["id"].as_str().unwrap().to_string(),
        foreign_invoice: osub["latest_invoice"].as_str().unwrap().to_string(),
        prices,
        h,
    }
}

impl World {
    async fn call<T: Tool>(&self, tool: T, customer: &str, args: Value) -> (u16, Value) {
        let token = self.h.token(visitor_claims(
            "user_1",
            json!({"stripe_customer_id": customer}),
        ));
        self.h.call(&tool, Some(&token), &args.to_string()).await
    }
}

#[tokio::test]
async fn invoice_history_lists_links_and_pages() {
    let w = world().await;
    let (status, body) = w.call(GetInvoiceHistory, &w.active, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let inv = &body["data"]["invoices"][0];
    assert_eq!(inv["status"], "paid");
    assert_eq!(inv["total"]["formatted"], "$49.00");
    assert!(inv["number"].is_string());
    assert!(
        inv["hosted_invoice_url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert!(inv["invoice_pdf"].as_str().unwrap().starts_with("https://"));
    assert_eq!(body["data"]["has_more"], false);

    // Three renewals later: four invoices, asked two at a time.
    for _ in 0..3 {
        w.h.stripe
            .control("clock/advance", json!({"seconds": 32 * DAY}))
            .await;
    }
    let (_, body) = w
        .call(GetInvoiceHistory, &w.active, json!({"limit": 2}))
        .await;
    assert_eq!(body["data"]["invoices"].as_array().unwrap().len(), 2);
    assert_eq!(body["data"]["has_more"], true);
    let (_, body) = w
        .call(GetInvoiceHistory, &w.active, json!({"limit": 24}))
        .await;
    assert_eq!(body["data"]["invoices"].as_array().unwrap().len(), 4);
    assert_eq!(body["data"]["has_more"], false);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("Here are your 4 invoices;"),
        "{body}"
    );
    let (_, body) = w
        .call(
            GetInvoiceHistory,
            &w.active,
            json!({"since": "2099-01-01T00:00:00Z"}),
        )
        .await;
    assert_eq!(body["data"]["invoices"], json!([]));

    for bad in [
        json!({"limit": 0}),
        json!({"limit": 25}),
        json!({"limit": "5"}),
        json!({"since": "last week"}),
    ] {
        let (status, body) = w.call(GetInvoiceHistory, &w.active, bad.clone()).await;
        assert_eq!(status, 400, "{bad}: {body}");
        let field = bad.as_object().unwrap().keys().next().unwrap().clone();
        assert!(
            body["error"]["message"].as_str().unwrap().contains(&field),
            "{body}"
        );
    }

    let (status, body) = w.call(GetInvoiceHistory, &w.nothing, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["invoices"], json!([]));
    assert_eq!(body["summary"], "You don't have any invoices yet.");
}

#[tokio::test]
async fn payment_history_shows_receipts_and_masked_card() {
    let w = world().await;
    let (status, body) = w.call(GetPaymentHistory, &w.active, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let p = &body["data"]["payments"][0];
    assert_eq!(p["status"], "succeeded");
    assert_eq!(p["amount"]["formatted"], "$49.00");
    assert_eq!(p["refunded"]["amount"], 0);
    assert!(p["receipt_url"].as_str().unwrap().starts_with("https://"));
    assert_eq!(p["card"]["brand"], "visa");
    assert_eq!(p["card"]["last4"], "4242");
    assert_eq!(
        p["card"].as_object().unwrap().keys().collect::<Vec<_>>(),
        ["brand", "exp_month", "exp_year", "last4"]
    );
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("Visa ending 4242"),
        "{body}"
    );
    let (_, body) = w.call(GetPaymentHistory, &w.nothing, json!({})).await;
    assert_eq!(body["data"]["payments"], json!([]));
    assert_eq!(body["summary"], "We don't have any payments from you yet.");
}

#[tokio::test]
async fn billing_info_shows_only_brand_last4_and_expiry_of_the_card() {
    let w = world().await;
    let (status, body) = w.call(GetBillingInfo, &w.active, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let d = &body["data"];
    assert_eq!(d["email"], "ada@example.com");
    assert_eq!(d["name"], "Test Person");
    let card = d["payment_method"].as_object().unwrap();
    assert_eq!(
        card.keys().collect::<Vec<_>>(),
        ["brand", "exp_month", "exp_year", "last4"]
    );
    assert_eq!(card["last4"], "4242");
    let text = body.to_string();
    assert!(
        !text.contains("fingerprint") && !text.contains("pm_"),
        "{text}"
    );
    let (_, body) = w.call(GetBillingInfo, &w.nothing, json!({})).await;
    assert_eq!(body["data"]["payment_method"], Value::Null);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("You don't have a default card on file.")
    );
    let (status, _) = w.call(GetBillingInfo, &w.active, json!({"x": 1})).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn upcoming_invoice_previews_amount_date_lines_and_credit() {
    let w = world().await;
    let before = w.h.stripe.request_count().await;
    let (status, body) = w
        .call(
            GetUpcomingInvoice,
            &w.active,
            json!({"subscription_id": w.active_sub}),
        )
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        w.h.stripe.request_count().await - before,
        2,
        "the ownership check and the preview, asked at once"
    );
    let up = &body["data"]["upcoming_invoice"];
    assert_eq!(up["amount_due"]["formatted"], "$49.00");
    assert!(up["date"].as_str().unwrap().ends_with('Z'));
    assert!(!up["lines"].as_array().unwrap().is_empty());
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("Your next invoice will be $49.00 on")
    );

    // $10.00 of credit is applied to the next invoice.
    w.h.stripe
        .post(
            &format!("/v1/customers/{}/balance_transactions", w.active),
            &[("amount", "-1000"), ("currency", "usd")],
        )
        .await;
    let before = w.h.stripe.request_count().await;
    let (_, body) = w.call(GetUpcomingInvoice, &w.active, json!({})).await;
    assert_eq!(
        w.h.stripe.request_count().await - before,
        1,
        "Stripe picks the customer's next invoice from the preview alone"
    );
    assert_eq!(body["data"]["subscription_id"], w.active_sub.as_str());
    let up = &body["data"]["upcoming_invoice"];
    assert_eq!(up["amount_due"]["formatted"], "$39.00", "{body}");
    assert_eq!(up["applied_balance"]["amount"], -1000);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("$10.00 of account credit")
    );

    let (status, body) = w.call(GetUpcomingInvoice, &w.nothing, json!({})).await;
    assert_eq!(status, 200);
    assert_eq!(body["data"]["upcoming_invoice"], Value::Null);
}

#[tokio::test]
async fn available_plans_mark_the_current_one_and_follow_the_allow_list() {
    let w = world().await;
    // Fail closed: no price listed is no plan offered (change_plan reaches none either).
    let (status, body) = w.call(GetAvailablePlans, &w.active, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["plans"], json!([]), "{body}");
    w.h.configure(|c| c.allowed_prices = w.prices.clone());
    let (status, body) = w.call(GetAvailablePlans, &w.active, json!({})).await;
    assert_eq!(status, 200, "{body}");
    let plans = body["data"]["plans"].as_array().unwrap();
    assert_eq!(
        plans
            .iter()
            .map(|p| p["name"].as_str().unwrap())
            .collect::<Vec<_>>(),
        ["Starter", "Growth", "Scale"]
    );
    assert_eq!(
        plans
            .iter()
            .filter(|p| p["current"] == true)
            .map(|p| &p["price_id"])
            .collect::<Vec<_>>(),
        [&json!(w.prices[1])]
    );
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("Growth at $49.00/month (your current plan)")
    );
    w.h.configure(|c| c.allowed_prices = vec![w.prices[0].clone(), w.prices[2].clone()]);
    let (_, body) = w.call(GetAvailablePlans, &w.nothing, json!({})).await;
    let names: Vec<&str> = body["data"]["plans"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Starter", "Scale"]);
}

#[tokio::test]
async fn credit_balance_is_said_the_right_way_round() {
    let w = world().await;
    let (_, body) = w.call(GetCreditBalance, &w.nothing, json!({})).await;
    assert_eq!(body["data"]["kind"], "none", "{body}");
    w.h.stripe
        .post(
            &format!("/v1/customers/{}/balance_transactions", w.nothing),
            &[
                ("amount", "-2500"),
                ("currency", "usd"),
                ("description", "Goodwill"),
            ],
        )
        .await;
    let (status, body) = w.call(GetCreditBalance, &w.nothing, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["kind"], "credit");
    assert_eq!(body["data"]["credit"]["formatted"], "$25.00");
    assert_eq!(
        body["data"]["transactions"][0]["credit"]["formatted"],
        "$25.00"
    );
    assert_eq!(body["data"]["transactions"][0]["description"], "Goodwill");
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("You have $25.00 of account credit")
    );
    w.h.stripe
        .post(
            &format!("/v1/customers/{}/balance_transactions", w.nothing),
            &[("amount", "4000"), ("currency", "usd")],
        )
        .await;
    let (_, body) = w.call(GetCreditBalance, &w.nothing, json!({})).await;
    assert_eq!(body["data"]["kind"], "debt");
    assert_eq!(body["data"]["owed"]["formatted"], "$15.00");
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("You owe $15.00")
    );
}

#[tokio::test]
async fn portal_links_deep_link_and_check_ownership() {
    let w = world().await;
    w.h.configure(|c| c.return_url = Some("https://acme.example.com/account".into()));
    let (status, body) = w.call(GetBillingPortalLink, &w.active, json!({})).await;
    assert_eq!(status, 200, "{body}");
    assert!(
        body["data"]["url"]
            .as_str()
            .unwrap()
            .starts_with("https://")
    );
    assert_eq!(
        body["data"]["return_url"],
        "https://acme.example.com/account"
    );
    assert!(
        !body["summary"].as_str().unwrap().contains("minute"),
        "promises no lifetime"
    );
    for flow in [
        "payment_method_update",
        "subscription_cancel",
        "subscription_update",
    ] {
        let (status, body) = w
            .call(GetBillingPortalLink, &w.active, json!({"flow": flow}))
            .await;
        assert_eq!(status, 200, "{flow}: {body}");
        assert_eq!(body["data"]["flow"], flow);
    }
    let (_, body) = w
        .call(
            GetBillingPortalLink,
            &w.active,
            json!({"flow": "subscription_cancel"}),
        )
        .await;
    assert_eq!(body["data"]["subscription_id"], w.active_sub.as_str());
    let (status, _) = w
        .call(
            GetBillingPortalLink,
            &w.active,
            json!({"flow": "delete_everything"}),
        )
        .await;
    assert_eq!(status, 400);
    let (status, body) = w
        .call(
            GetBillingPortalLink,
            &w.nothing,
            json!({"flow": "subscription_cancel"}),
        )
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("not_found"))
    );
}

#[tokio::test]
async fn resend_invoice_sends_what_stripe_can_and_links_the_rest() {
    let w = world().await;
    let s = &w.h.stripe;
    let manual = s.customer("mia@example.com", None).await;
    let sub = s
        .subscribe(
            &manual,
            &w.prices[0],
            &[
                ("collection_method", "send_invoice"),
                ("days_until_due", "30"),
            ],
        )
        .await;
    let open_invoice = sub["latest_invoice"].as_str().unwrap().to_string();
    let (status, body) = w
        .call(ResendInvoice, &manual, json!({"invoice_id": open_invoice}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["sent"], true);
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .starts_with("We've emailed invoice")
    );

    let paid = s.get(&format!("/v1/invoices?customer={}", w.active)).await["data"][0]["id"]
        .as_str()
        .unwrap()
        .to_string();
    let (status, body) = w
        .call(ResendInvoice, &w.active, json!({"invoice_id": paid}))
        .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["data"]["sent"], false);
    assert!(body["summary"].as_str().unwrap().contains("https://"));
}

#[tokio::test]
async fn every_id_taking_tool_refuses_ids_of_others() {
    let w = world().await;
    let cases: Vec<(u16, Value)> = vec![
        w.call(
            GetSubscriptionStatus,
            &w.active,
            json!({"subscription_id": w.neighbour_sub}),
        )
        .await,
        w.call(
            GetSubscriptionStatus,
            &w.active,
            json!({"subscription_id": w.foreign_sub}),
        )
        .await,
        w.call(
            GetUpcomingInvoice,
            &w.active,
            json!({"subscription_id": w.neighbour_sub}),
        )
        .await,
        w.call(
            GetUpcomingInvoice,
            &w.active,
            json!({"subscription_id": w.foreign_sub}),
        )
        .await,
        w.call(
            GetBillingPortalLink,
            &w.active,
            json!({"flow": "subscription_cancel", "subscription_id": w.neighbour_sub}),
        )
        .await,
        w.call(
            GetBillingPortalLink,
            &w.active,
            json!({"subscription_id": w.foreign_sub}),
        )
        .await,
        w.call(
            ResendInvoice,
            &w.active,
            json!({"invoice_id": w.neighbour_invoice}),
        )
        .await,
        w.call(
            ResendInvoice,
            &w.active,
            json!({"invoice_id": w.foreign_invoice}),
        )
        .await,
    ];
    let open: Value =
        w.h.stripe
            .get(&format!("/v1/invoices/{}", w.neighbour_invoice))
            .await;
    assert_eq!(
        (open["status"].as_str(), open["collection_method"].as_str()),
        (Some("open"), Some("send_invoice")),
        "the neighbour's invoice is one Stripe could send"
    );
    let sends: Vec<String> =
        w.h.stripe
            .request_log()
            .await
            .into_iter()
            .filter(|r| r.ends_with("/send"))
            .collect();
    assert!(sends.is_empty(), "nothing was sent: {sends:?}");
    let refused =
        w.h.audit
            .records
            .lock()
            .unwrap()
            .iter()
            .filter(|r| r.outcome == "not_owner")
            .count();
    assert_eq!(refused, cases.len(), "every refusal is in the audit log");
    for (i, (status, body)) in cases.iter().enumerate() {
        assert_eq!(*status, 403, "case {i}: {body}");
        assert_eq!(body["error"]["code"], "not_owner", "case {i}");
        let text = body.to_string();
        assert!(
            !text.contains(&w.neighbour) && !text.contains("Starter") && !text.contains("Foreign"),
            "case {i}: {text}"
        );
    }
}

#[tokio::test]
async fn money_is_right_in_usd_eur_and_jpy() {
    let w = world().await;
    let s = &w.h.stripe;
    for (currency, amount, formatted) in [
        ("usd", 4900, "$49.00"),
        ("eur", 4900, "€49.00"),
        ("jpy", 4900, "¥4,900"),
    ] {
        let price = s.price(&format!("Plan {currency}"), amount, currency).await;
        let c = s
            .customer(&format!("{currency}@example.com"), Some("pm_card_visa"))
            .await;
        s.subscribe(&c, &price, &[]).await;
        let (_, body) = w.call(GetSubscriptionStatus, &c, json!({})).await;
        let sub = &body["data"]["subscriptions"][0];
        assert_eq!(
            sub["amount"],
            json!({"amount": amount, "currency": currency, "formatted": formatted})
        );
        assert!(
            body["summary"]
                .as_str()
                .unwrap()
                .contains(&format!("({formatted}/month)")),
            "{body}"
        );
        let (_, body) = w.call(GetInvoiceHistory, &c, json!({})).await;
        assert_eq!(body["data"]["invoices"][0]["total"]["formatted"], formatted);
        assert!(
            body["summary"].as_str().unwrap().contains(formatted),
            "{body}"
        );
        let (_, body) = w.call(GetPaymentHistory, &c, json!({})).await;
        assert_eq!(
            body["data"]["payments"][0]["amount"]["formatted"],
            formatted
        );
        assert!(
            body["summary"].as_str().unwrap().contains(formatted),
            "{body}"
        );
    }
}

#[tokio::test]
async fn agent_insight_for_agents_only() {
    let w = world().await;
    // Something for the audit trail to show.
    w.call(GetBillingInfo, &w.active, json!({})).await;
    let token = agent_token(TENANT, json!({}));
    let (status, body) =
        w.h.insight(Some(&token), &[("customer_id", &w.active)])
            .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["customer"]["id"], w.active.as_str());
    assert_eq!(body["subscriptions"][0]["status"], "active");
    assert_eq!(body["invoices"].as_array().unwrap().len(), 1);
    assert_eq!(body["payment_method"]["last4"], "4242");
    assert!(body["next_billing_date"].is_string());
    assert_eq!(body["recent_actions"][0]["tool"], "get_billing_info");
    assert!(
        body["summary"]
            .as_str()
            .unwrap()
            .contains("Visa ending 4242")
    );
    let (status, body) =
        w.h.insight(Some(&token), &[("email", "ada@example.com")])
            .await;
    assert_eq!(status, 200, "{body}");

    let visitor =
        w.h.token(visitor_claims("user_1", json!({"role": "agent"})));
    let other_tenant = agent_token(OTHER_TENANT, json!({}));
    let no_role = mint(
        &integration::agent_secret(TENANT),
        &json!({"sub": "a", "aud": TENANT, "iat": integration::now(), "exp": integration::now() + 60}),
    );
    for (name, token) in [
        ("visitor", visitor),
        ("other tenant", other_tenant),
        ("no role", no_role),
    ] {
        let (status, body) =
            w.h.insight(Some(&token), &[("customer_id", &w.active)])
                .await;
        assert_eq!(
            (status, body["error"]["code"].as_str()),
            (401, Some("identity_invalid")),
            "{name}"
        );
        assert!(!body.to_string().contains("4242"), "{name}");
    }
    let (status, _) = w.h.insight(None, &[("customer_id", &w.active)]).await;
    assert_eq!(status, 401);
    let (status, _) = w.h.insight(Some(&token), &[]).await;
    assert_eq!(status, 400);
}

#[tokio::test]
async fn tool_list_publishes_enabled_tools_with_schemas_that_validate() {
    let w = world().await;
    w.h.disable("get_credit_balance");
    let (status, body) = w.h.tool_list(TENANT).await;
    assert_eq!(status, 200, "{body}");
    let tools = body["tools"].as_array().unwrap();
    let names: Vec<&str> = tools
        .iter()
        .map(|t| t["function"]["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.len(), shared::endpoints::registry::tools().len() - 1);
    assert!(!names.contains(&"get_credit_balance"));
    let (status, body) = w.call(GetCreditBalance, &w.active, json!({})).await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (403, Some("tool_disabled"))
    );

    let schema_of = |name: &str| {
        let t = tools
            .iter()
            .find(|t| t["function"]["name"] == name)
            .unwrap();
        assert_eq!(t["type"], "function");
        jsonschema::validator_for(&t["function"]["parameters"]).expect("a valid JSON Schema")
    };
    // Strict mode: every property present, optional ones as null.
    let good_and_bad: [(&str, Vec<Value>, Vec<Value>); 4] = [
        (
            "get_invoice_history",
            vec![
                json!({"limit": null, "since": null}),
                json!({"limit": 24, "since": "2026-01-01T00:00:00Z"}),
            ],
            vec![
                json!({"limit": 0}),
                json!({"limit": 25}),
                json!({"limit": "x"}),
                json!({"other": 1}),
            ],
        ),
        (
            "get_billing_portal_link",
            vec![json!({"flow": "payment_method_update", "subscription_id": null})],
            vec![
                json!({"flow": "nope", "subscription_id": null}),
                json!({"flow": null, "subscription_id": 3}),
            ],
        ),
        (
            "resend_invoice",
            vec![json!({"invoice_id": "in_123"})],
            vec![json!({}), json!({"invoice_id": 1})],
        ),
        ("get_billing_info", vec![json!({})], vec![json!({"a": 1})]),
    ];
    for (name, good, bad) in good_and_bad {
        let v = schema_of(name);
        for g in good {
            assert!(v.is_valid(&g), "{name} should accept {g}");
        }
        for b in bad {
            assert!(!v.is_valid(&b), "{name} should reject {b}");
        }
    }
    let (status, body) = w.h.tool_list("nobody-here").await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("unknown_tenant"))
    );
}
