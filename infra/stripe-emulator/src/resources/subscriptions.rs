//! Subscriptions: create (first invoice and payment), retrieve, update, cancel, list.

use serde_json::{Map, Value, json};

use super::billing::{self, LineSpec};
use super::payments::Outcome;
use super::{coupons, payment_methods};
use crate::clock::add_interval;
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, allow_nested, apply_metadata, opt_int, opt_obj, opt_str};
use crate::render::render;
use crate::store::Ctx;
use crate::store::new_id;

pub(super) const NO_PAYMENT_METHOD: &str = "This customer has no attached payment source or default payment method. Please consider adding a default payment method. For more information, visit https://stripe.com/docs/billing/subscriptions/payment-methods-setting#payment-method-priority.";

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "customer",
        "items",
        "default_payment_method",
        "trial_period_days",
        "trial_end",
        "cancel_at_period_end",
        "metadata",
        "collection_method",
        "days_until_due",
        "payment_behavior",
        "description",
        "off_session",
        "proration_behavior",
        "payment_settings",
        "discounts",
    ])?;
    let customer = p.req_str("customer")?;
    ctx.acct.fetch_live("customer", &customer, "customer")?;
    let items = parse_new_items(ctx, p.get("items"))?;
    if items.is_empty() {
        return Err(ApiError::missing("items"));
    }
    check_compatible(&items)?;
    let default_pm = p.str("default_payment_method")?;
    if let Some(pm) = &default_pm {
        payment_methods::require_attached(ctx, pm, &customer, "default_payment_method")?;
    }
    let collection = p
        .str("collection_method")?
        .unwrap_or_else(|| "charge_automatically".into());
    let days_until_due = p.int("days_until_due")?;
    match collection.as_str() {
        "charge_automatically" if days_until_due.is_some() => {
            return Err(ApiError::invalid_param(
                "days_until_due",
                "You cannot set `days_until_due` when `collection_method` is `charge_automatically`.",
            ));
        }
        "charge_automatically" => {}
        "send_invoice" if days_until_due.is_none() => {
            return Err(ApiError::missing("days_until_due"));
        }
        "send_invoice" => {}
        other => {
            return Err(ApiError::invalid_param(
                "collection_method",
                format!(
                    "Invalid collection_method: must be one of charge_automatically or send_invoice; got {other}"
                ),
            ));
        }
    }
    let behavior = payment_behavior(p)?;
    let trial_end = trial_end_of(ctx, p)?;

    let snapshot = ctx.acct.clone();
    let now = ctx.now;
    let id = new_id("sub");
    let first = &items[0].0;
    let (interval, count) = interval_of(first);
    let period_end = match trial_end {
        Some(t) => t,
        None => add_interval(now, &interval, count),
    };
    let item_values: Vec<Value> = items
        .iter()
        .map(|(price, qty, meta)| item_json(ctx, &id, price, *qty, meta, (now, period_end)))
        .collect();
    let mut sub = json!({
        "id": id, "object": "subscription", "application": null,
        "application_fee_percent": null,
        "automatic_tax": {"enabled": false, "liability": null, "disabled_reason": null},
        "billing_cycle_anchor": if trial_end.is_some() { period_end } else { now },
        "billing_cycle_anchor_config": null, "cancel_at": null, "canceled_at": null,
        "cancellation_details": {"comment": null, "feedback": null, "feedback_option": null,
                                 "reason": null},
        "collection_method": collection, "created": now, "currency": first["currency"],
        "customer": customer, "days_until_due": days_until_due,
        "default_payment_method": default_pm, "default_source": null,
        "default_tax_rates": [], "description": p.str("description")?, "discounts": [],
        "ended_at": null,
        "invoice_settings": {"account_tax_ids": null, "issuer": {"account": null, "type": "self"},
                             "custom_fields": null, "description": null, "footer": null},
        "items": {"object": "list", "data": item_values, "has_more": false,
                  "total_count": items.len(),
                  "url": format!("/v1/subscription_items?subscription={id}")},
        "latest_invoice": null, "livemode": false, "metadata": {},
        "next_pending_invoice_item_invoice": null, "on_behalf_of": null,
        "pause_collection": null,
        "payment_settings": {"payment_method_options": null, "payment_method_types": null,
                             "save_default_payment_method": "off"},
        "pending_invoice_item_interval": null, "pending_setup_intent": null,
        "pending_update": null, "schedule": null, "start_date": now, "status": "incomplete",
        "test_clock": null, "transfer_data": null, "trial_end": trial_end,
        "trial_settings": {"end_behavior": {"billing_cycle_anchor": null,
                                            "missing_payment_method": "create_invoice"}},
        "trial_start": trial_end.map(|_| now), "cancel_at_period_end": false,
        "billing_thresholds": null,
        "billing_mode": {"type": "classic", "flexible": null, "updated_at": null},
        "presentment_details": null, "status_details": null,
        "billing_schedules": [],
        "customer_account": null, "managed_payments": null,
    });
    apply_metadata(&mut sub["metadata"], p.get("metadata"))?;
    if p.bool("cancel_at_period_end")? == Some(true) {
        sub["cancel_at_period_end"] = json!(true);
        sub["cancel_at"] = json!(period_end);
        sub["canceled_at"] = json!(now);
    }
    let amount: i64 = if trial_end.is_some() {
        0
    } else {
        items
            .iter()
            .map(|(price, qty, _)| price["unit_amount"].as_i64().unwrap_or(0) * qty)
            .sum()
    };
    let buy = coupons::Purchase {
        customer: &customer,
        subscription: &id,
        amount,
        currency: first["currency"].as_str().unwrap_or_default(),
    };
    if let Some(discounts) = coupons::redeem(ctx, p.get("discounts"), &[], &buy)? {
        sub["discounts"] = json!(discounts);
    }
    ctx.acct.put(sub.clone());

    let lines: Vec<LineSpec> = line_specs(&sub, trial_end.is_some());
    let invoice = billing::create_invoice(ctx, &sub, "subscription_create", &lines, (now, now));
    billing::finalize(ctx, &invoice);
    let status = first_invoice_status(ctx, &sub, &invoice, &behavior, trial_end.is_some());
    let status = match status {
        Ok(s) => s,
        Err(e) => {
            // `error_if_incomplete` keeps nothing of a failed creation.
            *ctx.acct = snapshot;
            return Err(e);
        }
    };
    ctx.acct.update(&id, |s| {
        s["status"] = json!(status);
        s["latest_invoice"] = json!(invoice);
    });
    ctx.acct
        .fetch("subscription", &id, "id")
        .map(|s| render(ctx.acct, &s))
}

fn first_invoice_status(
    ctx: &mut Ctx,
    sub: &Value,
    invoice: &str,
    behavior: &str,
    trial: bool,
) -> ApiResult<&'static str> {
    if trial {
        return Ok("trialing");
    }
    if sub["collection_method"] == "send_invoice" {
        return Ok("active");
    }
    if ctx.acct.get(invoice).is_some_and(|i| i["status"] == "paid") {
        return Ok("active");
    }
    if behavior == "default_incomplete" {
        billing::collect(ctx, invoice, None, None);
        return Ok("incomplete");
    }
    let pm = billing::payment_method_for(ctx, sub);
    match billing::collect(ctx, invoice, pm.as_deref(), None) {
        Outcome::Succeeded => Ok("active"),
        Outcome::Declined(code) if behavior == "error_if_incomplete" => {
            Err(ApiError::declined(code))
        }
        Outcome::RequiresAction if behavior == "error_if_incomplete" => {
            Err(ApiError::invoice_requires_action())
        }
        Outcome::NoPaymentMethod if behavior == "error_if_incomplete" => {
            Err(ApiError::invalid(NO_PAYMENT_METHOD))
        }
        Outcome::Declined(_) | Outcome::RequiresAction | Outcome::NoPaymentMethod => {
            Ok("incomplete")
        }
    }
}

pub fn line_specs(sub: &Value, trial: bool) -> Vec<LineSpec> {
    sub["items"]["data"]
        .as_array()
        .map(|items| {
            items
                .iter()
                .map(|i| LineSpec {
                    item_id: i["id"].as_str().unwrap_or_default().to_string(),
                    price: i["price"].clone(),
                    quantity: i["quantity"].as_i64().unwrap_or(1),
                    period: (
                        i["current_period_start"].as_i64().unwrap_or(0),
                        i["current_period_end"].as_i64().unwrap_or(0),
                    ),
                    trial,
                })
                .collect()
        })
        .unwrap_or_default()
}

fn trial_end_of(ctx: &Ctx, p: &Params) -> ApiResult<Option<i64>> {
    if let Some(raw) = p.str("trial_end")? {
        if raw == "now" {
            return Ok(None);
        }
        let t = raw
            .parse::<i64>()
            .map_err(|_| ApiError::invalid_integer("trial_end", &raw))?;
        if t <= ctx.now {
            return Err(ApiError::invalid_param(
                "trial_end",
                "Invalid timestamp: must be an integer Unix timestamp in the future.",
            ));
        }
        return Ok(Some(t));
    }
    match p.int("trial_period_days")? {
        Some(d) if d < 0 => Err(ApiError::invalid_param(
            "trial_period_days",
            "This value must be greater than or equal to 0.",
        )),
        Some(0) | None => Ok(None),
        Some(d) => Ok(Some(ctx.now + d * 86_400)),
    }
}

pub(super) type NewItem = (Value, i64, Value);

fn parse_new_items(ctx: &Ctx, v: Option<&Value>) -> ApiResult<Vec<NewItem>> {
    let Some(v) = v else {
        return Ok(Vec::new());
    };
    let Value::Array(list) = v else {
        return Err(ApiError::invalid_param("items", "Invalid array"));
    };
    list.iter()
        .enumerate()
        .map(|(i, item)| {
            let name = format!("items[{i}]");
            let Value::Object(m) = item else {
                return Err(ApiError::invalid_param(&name, "Invalid object"));
            };
            allow_nested(
                m,
                &name,
                &["price", "quantity", "metadata", "tax_rates", "discounts"],
            )?;
            let price_id = opt_str(m.get("price"), &format!("{name}[price]"))?
                .ok_or_else(|| ApiError::missing(&format!("{name}[price]")))?;
            let price = usable_price(ctx, &price_id, &format!("{name}[price]"))?;
            let qty = quantity(m, &name)?.unwrap_or(1);
            let mut meta = json!({});
            apply_metadata(&mut meta, m.get("metadata"))?;
            Ok((price, qty, meta))
        })
        .collect()
}

pub(super) fn quantity(m: &Map<String, Value>, name: &str) -> ApiResult<Option<i64>> {
    let param = format!("{name}[quantity]");
    match opt_int(m.get("quantity"), &param)? {
        Some(q) if q < 0 => Err(ApiError::invalid_param(
            &param,
            "This value must be greater than or equal to 0.",
        )),
        other => Ok(other),
    }
}

pub(super) fn usable_price(ctx: &Ctx, id: &str, param: &str) -> ApiResult<Value> {
    let price = ctx.acct.fetch("price", id, param)?;
    if price["type"] != "recurring" {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "The price specified ({id}) is set to `type=one_time` but this field only accepts prices with `type=recurring`."
            ),
        ));
    }
    if price["active"] != true {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "The price specified ({id}) is inactive. This field only accepts active prices."
            ),
        ));
    }
    Ok(price)
}

pub(super) fn interval_of(price: &Value) -> (String, i64) {
    (
        price["recurring"]["interval"]
            .as_str()
            .unwrap_or("month")
            .to_string(),
        price["recurring"]["interval_count"].as_i64().unwrap_or(1),
    )
}

pub(super) fn check_compatible(items: &[NewItem]) -> ApiResult<()> {
    let first = &items[0].0;
    for (price, _, _) in items.iter().skip(1) {
        if price["currency"] != first["currency"] {
            return Err(ApiError::invalid_param(
                "items",
                "All prices on a subscription must have the same currency.",
            ));
        }
        if interval_of(price) != interval_of(first) {
            return Err(ApiError::invalid_param(
                "items",
                "Currency and interval fields must match across all plans on a subscription.",
            ));
        }
    }
    Ok(())
}

pub(super) fn item_json(
    ctx: &Ctx,
    sub: &str,
    price: &Value,
    qty: i64,
    meta: &Value,
    period: (i64, i64),
) -> Value {
    json!({
        "id": new_id("si"), "object": "subscription_item", "created": ctx.now,
        "discounts": [], "metadata": meta, "price": price, "quantity": qty,
        "subscription": sub, "tax_rates": [], "plan": crate::render::plan_of(price),
        "current_period_end": period.1, "current_period_start": period.0,
        "billing_thresholds": null, "billed_until": null, "current_trial": null,
    })
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct
        .fetch("subscription", id, "id")
        .map(|s| render(ctx.acct, &s))
}

pub fn cancel(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["invoice_now", "prorate", "cancellation_details"])?;
    let sub = ctx.acct.fetch("subscription", id, "id")?;
    if sub["status"] == "canceled" {
        return Err(ApiError::invalid(format!(
            "The subscription {id} has already been canceled."
        )));
    }
    end_now(ctx, id);
    if let Some(Some(details)) = opt_obj(p.get("cancellation_details"), "cancellation_details")? {
        for k in ["comment", "feedback"] {
            let v = opt_str(details.get(k), &format!("cancellation_details[{k}]"))?;
            ctx.acct
                .update(id, |s| s["cancellation_details"][k] = json!(v));
        }
    }
    ctx.acct
        .fetch("subscription", id, "id")
        .map(|s| render(ctx.acct, &s))
}

pub fn end_now(ctx: &mut Ctx, id: &str) {
    let now = ctx.now;
    ctx.acct.update(id, |s| {
        s["status"] = json!("canceled");
        s["canceled_at"] = json!(now);
        s["ended_at"] = json!(now);
        s["cancellation_details"]["reason"] = json!("cancellation_requested");
    });
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend([
        "customer",
        "status",
        "price",
        "collection_method",
        "created",
        "test_clock",
    ]);
    p.allow(&allowed)?;
    let customer = list::customer_filter(ctx.acct, p)?;
    let status = p.str("status")?;
    let price = p.str("price")?;
    let collection = p.str("collection_method")?;
    let created = list::range_filter(p, "created")?;
    let valid = [
        "active",
        "past_due",
        "unpaid",
        "canceled",
        "incomplete",
        "incomplete_expired",
        "trialing",
        "paused",
        "all",
        "ended",
    ];
    if let Some(s) = &status
        && !valid.contains(&s.as_str())
    {
        return Err(ApiError::invalid_param(
            "status",
            format!("Invalid status: must be one of {}", valid.join(", ")),
        ));
    }
    list::page(ctx.acct, "subscription", p, "/v1/subscriptions", |s| {
        let st = s["status"].as_str().unwrap_or_default();
        let status_ok = match status.as_deref() {
            None => st != "canceled",
            Some("all") => true,
            Some("ended") => st == "canceled" || st == "incomplete_expired",
            Some(x) => st == x,
        };
        status_ok
            && customer.as_deref().is_none_or(|c| s["customer"] == c)
            && collection
                .as_deref()
                .is_none_or(|c| s["collection_method"] == c)
            && price.as_deref().is_none_or(|pr| {
                s["items"]["data"]
                    .as_array()
                    .is_some_and(|items| items.iter().any(|i| i["price"]["id"] == pr))
            })
            && created(s["created"].as_i64().unwrap_or(0))
    })
}

/// `payment_behavior` of a create or update: `allow_incomplete` unless given.
pub fn payment_behavior(p: &Params) -> ApiResult<String> {
    let behavior = p
        .str("payment_behavior")?
        .unwrap_or_else(|| "allow_incomplete".into());
    if ![
        "allow_incomplete",
        "default_incomplete",
        "error_if_incomplete",
        "pending_if_incomplete",
    ]
    .contains(&behavior.as_str())
    {
        return Err(ApiError::invalid_param(
            "payment_behavior",
            format!("Invalid payment_behavior: {behavior}"),
        ));
    }
    Ok(behavior)
}
