//! Checkout Sessions (`/v1/checkout/sessions`: create, retrieve, list, expire), as
//! stripe-python 16.1.0's `checkout.Session` types them. A session in `subscription` mode is
//! completed by the control `POST /_emulator/checkout/sessions/{id}/complete`, as a paying
//! customer would complete it on Stripe's page: the customer is made (from
//! `customer_email`) unless one was given, pays with a test card, and the subscription is
//! created; Stripe's events follow (`customer.created`, `customer.subscription.created`,
//! the invoice's, then `checkout.session.completed`).
use serde_json::{Map, Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, apply_metadata, opt_int, opt_obj, opt_str};
use crate::resources::{customers, payment_methods, subscriptions};
use crate::store::Ctx;
use crate::store::random_alnum;

/// Every parameter `SessionCreateParams` declares; those not modelled are taken and have no
/// effect (as an account without that feature would show).
const CREATE_PARAMS: &[&str] = &[
    "adaptive_pricing",
    "after_expiration",
    "allow_promotion_codes",
    "allowed_payment_method_types",
    "automatic_tax",
    "billing_address_collection",
    "branding_settings",
    "cancel_url",
    "client_reference_id",
    "consent_collection",
    "currency",
    "custom_fields",
    "custom_text",
    "customer",
    "customer_account",
    "customer_creation",
    "customer_email",
    "customer_update",
    "discounts",
    "excluded_payment_method_types",
    "expires_at",
    "integration_identifier",
    "invoice_creation",
    "line_items",
    "locale",
    "managed_payments",
    "metadata",
    "mode",
    "name_collection",
    "optional_items",
    "origin_context",
    "payment_intent_data",
    "payment_method_collection",
    "payment_method_configuration",
    "payment_method_data",
    "payment_method_options",
    "permissions",
    "phone_number_collection",
    "redirect_on_completion",
    "return_url",
    "saved_payment_method_options",
    "setup_intent_data",
    "shipping_address_collection",
    "shipping_options",
    "submit_type",
    "subscription_data",
    "success_url",
    "tax_id_collection",
    "ui_mode",
    "wallet_options",
];

/// Stripe's bounds on `expires_at`: 30 minutes to 24 hours after creation.
const MIN_LIFE: i64 = 30 * 60;
const MAX_LIFE: i64 = 24 * 3600;

fn line_items(ctx: &Ctx, p: &Params) -> ApiResult<Vec<(Value, i64)>> {
    let list = match p.get("line_items") {
        Some(Value::Array(l)) if !l.is_empty() => l.clone(),
        None | Some(Value::Null) => return Err(ApiError::missing("line_items")),
        Some(_) => return Err(ApiError::invalid_param("line_items", "Invalid array")),
    };
    let mut out = Vec::new();
    for (i, item) in list.iter().enumerate() {
        let name = format!("line_items[{i}]");
        let Value::Object(m) = item else {
            return Err(ApiError::invalid_param(&name, "Invalid object"));
        };
        crate::params::allow_nested(
            m,
            &name,
            &[
                "price",
                "price_data",
                "quantity",
                "adjustable_quantity",
                "dynamic_tax_rates",
                "tax_rates",
            ],
        )?;
        let price_id = opt_str(m.get("price"), &format!("{name}[price]"))?
            .ok_or_else(|| ApiError::missing(&format!("{name}[price]")))?;
        let price = ctx
            .acct
            .fetch("price", &price_id, &format!("{name}[price]"))?;
        if price["active"] == false {
            return Err(ApiError::invalid_param(
                &format!("{name}[price]"),
                format!(
                    "The price specified ({price_id}) is inactive. This field only accepts active prices."
                ),
            ));
        }
        let qty = opt_int(m.get("quantity"), &format!("{name}[quantity]"))?.unwrap_or(1);
        if qty < 1 {
            return Err(ApiError::invalid_param(
                &format!("{name}[quantity]"),
                "This value must be greater than or equal to 1.",
            ));
        }
        out.push((price, qty));
    }
    Ok(out)
}

/// The discount a session shows: the first code's coupon, off the subtotal.
fn discount_of(ctx: &Ctx, discounts: &[Value], subtotal: i64) -> ApiResult<i64> {
    let Some(first) = discounts.first() else {
        return Ok(0);
    };
    let coupon = match (first["coupon"].as_str(), first["promotion_code"].as_str()) {
        (Some(c), _) => ctx.acct.fetch("coupon", c, "discounts[0][coupon]")?,
        (None, Some(pc)) => {
            let promo = ctx
                .acct
                .fetch("promotion_code", pc, "discounts[0][promotion_code]")?;
            let id = promo["promotion"]["coupon"]
                .as_str()
                .or(promo["coupon"]["id"].as_str())
                .or(promo["coupon"].as_str())
                .unwrap_or_default()
                .to_string();
            ctx.acct
                .fetch("coupon", &id, "discounts[0][promotion_code]")?
        }
        _ => return Ok(0),
    };
    let off = if let Some(pct) = coupon["percent_off"].as_f64() {
        (subtotal as f64 * pct / 100.0).round() as i64
    } else {
        coupon["amount_off"].as_i64().unwrap_or(0)
    };
    Ok(off.min(subtotal))
}

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(CREATE_PARAMS)?;
    let mode = p.req_str("mode")?;
    if !["payment", "setup", "subscription"].contains(&mode.as_str()) {
        return Err(ApiError::invalid_param(
            "mode",
            "Invalid mode: must be one of payment, setup, or subscription",
        ));
    }
    let customer = p.str("customer")?;
    let customer_email = p.str("customer_email")?;
    if customer.is_some() && customer_email.is_some() {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: customer, customer_email.",
        ));
    }
    if let Some(c) = &customer {
        ctx.acct.fetch_live("customer", c, "customer")?;
    }
    if let Some(r) = p.str("client_reference_id")?
        && r.len() > 200
    {
        return Err(ApiError::invalid_param(
            "client_reference_id",
            "client_reference_id must be at most 200 characters.",
        ));
    }
    // Stripe's names as of the pinned API version (`hosted_page`, `embedded_page`, ...).
    let ui_mode = p.str("ui_mode")?.unwrap_or_else(|| "hosted_page".into());
    let success_url = p.str("success_url")?;
    if ui_mode == "hosted_page" && success_url.is_none() && p.str("return_url")?.is_none() {
        return Err(ApiError::missing("success_url"));
    }
    let items = if mode == "setup" {
        Vec::new()
    } else {
        line_items(ctx, p)?
    };
    if mode == "subscription"
        && !items
            .iter()
            .any(|(price, _)| price["recurring"].is_object())
    {
        return Err(ApiError::invalid_param(
            "line_items",
            "You must provide at least one recurring price in `subscription` mode when using prices.",
        ));
    }
    let discounts: Vec<Value> = match p.get("discounts") {
        Some(Value::Array(d)) => d.clone(),
        _ => Vec::new(),
    };
    if !discounts.is_empty() && p.bool("allow_promotion_codes")? == Some(true) {
        return Err(ApiError::invalid(
            "You may only specify one of these parameters: allow_promotion_codes, discounts.",
        ));
    }
    let currency = items
        .first()
        .and_then(|(price, _)| price["currency"].as_str())
        .map(str::to_string)
        .or(p.str("currency")?);
    let subtotal: i64 = items
        .iter()
        .map(|(price, q)| price["unit_amount"].as_i64().unwrap_or(0) * q)
        .sum();
    let off = discount_of(ctx, &discounts, subtotal)?;
    let expires_at = match p.int("expires_at")? {
        None => ctx.now + MAX_LIFE,
        Some(t) if t >= ctx.now + MIN_LIFE && t <= ctx.now + MAX_LIFE => t,
        Some(_) => {
            return Err(ApiError::invalid_param(
                "expires_at",
                "The `expires_at` timestamp must be between 30 minutes and 24 hours from Checkout Session creation.",
            ));
        }
    };
    let mut metadata = json!({});
    apply_metadata(&mut metadata, p.get("metadata"))?;
    let id = format!("cs_test_{}", random_alnum(58));
    let prices: Vec<Value> = items
        .iter()
        .map(|(price, q)| json!({"price": price["id"], "quantity": q}))
        .collect();
    let subscription_data = match opt_obj(p.get("subscription_data"), "subscription_data")? {
        Some(Some(m)) => Value::Object(m.clone()),
        _ => json!({}),
    };
    let session = json!({
        "id": id, "object": "checkout.session",
        "adaptive_pricing": null, "after_expiration": null,
        "allow_promotion_codes": p.bool("allow_promotion_codes")?,
        "allowed_payment_method_types": null,
        "amount_subtotal": subtotal, "amount_total": subtotal - off,
        "automatic_tax": {"enabled": false, "liability": null, "provider": null, "status": null},
        "billing_address_collection": p.str("billing_address_collection")?,
        "branding_settings": null,
        "cancel_url": p.str("cancel_url")?,
        "client_reference_id": p.str("client_reference_id")?,
        "client_secret": null,
        "collected_information": null,
        "consent": null, "consent_collection": null,
        "created": ctx.now, "currency": currency, "currency_conversion": null,
        "custom_fields": [],
        "custom_text": {"after_submit": null, "shipping_address": null, "submit": null,
                        "terms_of_service_acceptance": null},
        "customer": customer, "customer_account": null,
        "customer_creation": if mode == "payment" { json!("if_required") } else { Value::Null },
        "customer_details": customer_email.as_ref().map(|e| json!({
            "address": null, "business_name": null, "email": e, "individual_name": null,
            "name": null, "phone": null, "tax_exempt": "none", "tax_ids": null,
        })),
        "customer_email": customer_email,
        "discounts": discounts.iter().map(|d| json!({
            "coupon": d["coupon"], "promotion_code": d["promotion_code"],
        })).collect::<Vec<_>>(),
        "excluded_payment_method_types": null,
        "expires_at": expires_at,
        "integration_identifier": p.str("integration_identifier")?,
        "invoice": null, "invoice_creation": null,
        "livemode": false, "locale": p.str("locale")?,
        "managed_payments": null,
        "metadata": metadata, "mode": mode,
        "name_collection": null, "optional_items": null, "origin_context": null,
        "payment_intent": null, "payment_link": null,
        "payment_method_collection": if mode == "subscription" { json!("always") } else { Value::Null },
        "payment_method_configuration_details": null,
        "payment_method_options": null,
        "payment_method_types": ["card"],
        "payment_status": if mode == "setup" { "no_payment_required" } else { "unpaid" },
        "permissions": null,
        "phone_number_collection": {"enabled": false},
        "presentment_details": null,
        "recovered_from": null, "redirect_on_completion": null,
        "return_url": p.str("return_url")?,
        "saved_payment_method_options": null,
        "setup_intent": null, "shipping_address_collection": null, "shipping_cost": null,
        "shipping_options": [],
        "status": "open", "submit_type": null, "subscription": null,
        "success_url": success_url,
        "tax_id_collection": null,
        "total_details": {"amount_discount": off, "amount_shipping": 0, "amount_tax": 0},
        "ui_mode": ui_mode,
        "url": format!("https://checkout.stripe.com/c/pay/{id}#{}", random_alnum(24)),
        "wallet_options": null,
        // What completing it needs, kept apart from what the API shows.
        "_emulator": {"line_items": prices, "subscription_data": subscription_data},
    });
    ctx.acct.put(session.clone());
    Ok(shown(session))
}

/// A session as the API shows it (the emulator's own notes left out).
fn shown(mut s: Value) -> Value {
    if let Some(o) = s.as_object_mut() {
        o.remove("_emulator");
    }
    s
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch("checkout.session", id, "session").map(shown)
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend([
        "created",
        "customer",
        "customer_account",
        "customer_details",
        "payment_intent",
        "payment_link",
        "status",
        "subscription",
    ]);
    p.allow(&allowed)?;
    let customer = p.str("customer")?;
    let status = p.str("status")?;
    let subscription = p.str("subscription")?;
    let created = list::range_filter(p, "created")?;
    let email = match opt_obj(p.get("customer_details"), "customer_details")? {
        Some(Some(m)) => opt_str(m.get("email"), "customer_details[email]")?,
        _ => None,
    };
    let mut page = list::page(
        ctx.acct,
        "checkout.session",
        p,
        "/v1/checkout/sessions",
        |s| {
            customer
                .as_ref()
                .is_none_or(|c| s["customer"] == c.as_str())
                && status.as_ref().is_none_or(|st| s["status"] == st.as_str())
                && subscription
                    .as_ref()
                    .is_none_or(|sub| s["subscription"] == sub.as_str())
                && created(s["created"].as_i64().unwrap_or(0))
                && email.as_ref().is_none_or(|e| {
                    s["customer_details"]["email"] == e.as_str()
                        || s["customer_email"] == e.as_str()
                })
        },
    )?;
    if let Some(data) = page["data"].as_array_mut() {
        for s in data.iter_mut() {
            *s = shown(s.take());
        }
    }
    Ok(page)
}

pub fn expire(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    let s = ctx.acct.fetch("checkout.session", id, "session")?;
    if s["status"] != "open" {
        return Err(ApiError::invalid(format!(
            "Only Checkout Sessions with a status of `open` can be expired. This Checkout Session has a status of `{}`.",
            s["status"].as_str().unwrap_or_default()
        )));
    }
    ctx.acct.update(id, |s| {
        s["status"] = json!("expired");
        s["url"] = Value::Null;
    });
    ctx.acct.fetch("checkout.session", id, "session").map(shown)
}

/// The control: completes an open `subscription` session as a customer paying with
/// `card` (a test token) would.
pub fn complete(ctx: &mut Ctx, id: &str, card: &str) -> ApiResult<Value> {
    let s = ctx.acct.fetch("checkout.session", id, "session")?;
    if s["status"] != "open" || s["expires_at"].as_i64().is_some_and(|t| t <= ctx.now) {
        return Err(ApiError::invalid(format!(
            "This Checkout Session is no longer open (status `{}`).",
            s["status"].as_str().unwrap_or_default()
        )));
    }
    if s["mode"] != "subscription" {
        return Err(ApiError::invalid(
            "The emulator completes `subscription` mode sessions only.",
        ));
    }
    let email = s["customer_email"].as_str().map(str::to_string);
    let customer = match s["customer"].as_str() {
        Some(c) => c.to_string(),
        None => {
            let mut m = Map::new();
            if let Some(e) = &email {
                m.insert("email".into(), json!(e));
            }
            customers::create(ctx, &Params(m))?["id"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        }
    };
    let pm = payment_methods::attach_to(ctx, card, &customer, "card")?;
    ctx.acct.update(&customer, |c| {
        c["invoice_settings"]["default_payment_method"] = json!(pm);
    });
    let notes = &s["_emulator"];
    let mut sub = Map::new();
    sub.insert("customer".into(), json!(customer));
    sub.insert("items".into(), notes["line_items"].clone());
    sub.insert("default_payment_method".into(), json!(pm));
    let data = &notes["subscription_data"];
    if data["metadata"].is_object() {
        sub.insert("metadata".into(), data["metadata"].clone());
    }
    if let Some(days) = data["trial_period_days"].as_i64().or_else(|| {
        data["trial_period_days"]
            .as_str()
            .and_then(|d| d.parse().ok())
    }) {
        sub.insert("trial_period_days".into(), json!(days));
    }
    let codes: Vec<Value> = s["discounts"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| {
            let mut o = Map::new();
            for k in ["coupon", "promotion_code"] {
                if let Some(v) = d[k].as_str() {
                    o.insert(k.into(), json!(v));
                }
            }
            Value::Object(o)
        })
        .collect();
    if !codes.is_empty() {
        sub.insert("discounts".into(), Value::Array(codes));
    }
    let created = subscriptions::create(ctx, &Params(sub))?;
    let invoice = created["latest_invoice"].clone();
    let invoice = invoice["id"]
        .as_str()
        .map(str::to_string)
        .or(invoice.as_str().map(str::to_string));
    let paid = created["status"] == "active" || created["status"] == "trialing";
    ctx.acct.update(id, |s| {
        s["status"] = json!("complete");
        s["customer"] = json!(customer);
        s["subscription"] = created["id"].clone();
        s["invoice"] = json!(invoice);
        s["payment_status"] = json!(if paid { "paid" } else { "unpaid" });
        s["url"] = Value::Null;
        s["customer_details"] = json!({
            "address": null, "business_name": null, "email": email, "individual_name": null,
            "name": null, "phone": null, "tax_exempt": "none", "tax_ids": [],
        });
    });
    ctx.acct.fetch("checkout.session", id, "session").map(shown)
}
