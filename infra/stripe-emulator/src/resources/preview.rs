//! `POST /v1/invoices/create_preview`: the invoice a subscription (optionally with changes
//! from `subscription_details`) would produce next, computed on a scratch copy of the
//! account and thrown away, so a preview and the real change match to the cent.

use serde_json::{Map, Value, json};

use super::billing;
use super::subscription_update::{
    change_items, period_of, proration_behavior, proration_date, redeem_discounts, stage,
};
use super::subscriptions::line_specs;
use crate::clock::next_period_end;
use crate::errors::{ApiError, ApiResult};
use crate::params::{Params, allow_nested, opt_bool, opt_int, opt_obj, opt_str};
use crate::store::Ctx;
use crate::store::new_id;

const NEEDS_ONE_OF: &str = "You must provide at least one of: `subscription`, `schedule`, `subscription_details.items`, `schedule_details.phases`, `invoice_items`.";

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "customer",
        "subscription",
        "subscription_details",
        "preview_mode",
        "automatic_tax",
        "currency",
        "customer_details",
        "discounts",
        "invoice_items",
        "issuer",
        "on_behalf_of",
    ])?;
    let empty = Map::new();
    let details = match opt_obj(p.get("subscription_details"), "subscription_details")? {
        Some(Some(m)) => m,
        _ => &empty,
    };
    allow_nested(
        details,
        "subscription_details",
        &[
            "items",
            "proration_date",
            "proration_behavior",
            "cancel_at_period_end",
            "cancel_at",
            "cancel_now",
            "trial_end",
            "billing_cycle_anchor",
            "billing_mode",
            "default_tax_rates",
            "metadata",
            "resume_at",
            "start_date",
        ],
    )?;
    let Some(sub_id) = p.str("subscription")? else {
        if details.contains_key("items") {
            return Err(ApiError::invalid(
                "The emulator previews changes to existing subscriptions only: pass `subscription`.",
            )
            .with_param("subscription"));
        }
        let Some(customer) = p.str("customer")? else {
            return Err(ApiError::invalid(NEEDS_ONE_OF));
        };
        return next_for_customer(ctx, &customer, p.get("discounts"));
    };
    let sub = ctx.acct.fetch("subscription", &sub_id, "subscription")?;
    if let Some(customer) = p.str("customer")? {
        ctx.acct.fetch_live("customer", &customer, "customer")?;
        if sub["customer"] != customer.as_str() {
            return Err(ApiError::invalid_param(
                "subscription",
                format!("The subscription {sub_id} does not belong to customer {customer}."),
            ));
        }
    }
    if matches!(
        sub["status"].as_str(),
        Some("canceled" | "incomplete_expired")
    ) {
        return Err(ApiError::invalid_param(
            "subscription",
            "You can't preview the upcoming invoice for a canceled subscription.",
        ));
    }
    let behavior = proration_behavior(
        opt_str(
            details.get("proration_behavior"),
            "subscription_details[proration_behavior]",
        )?,
        "subscription_details[proration_behavior]",
    )?;
    let date_param = "subscription_details[proration_date]";
    let date = opt_int(details.get("proration_date"), date_param)?;
    if date.is_some() && behavior == "none" {
        return Err(ApiError::invalid_param(
            date_param,
            "`subscription_details[proration_date]` cannot be used when `subscription_details[proration_behavior]` is `none`.",
        ));
    }
    let at = proration_date(ctx, &sub, date, date_param)?;
    let cancel_at_period_end = opt_bool(
        details.get("cancel_at_period_end"),
        "subscription_details[cancel_at_period_end]",
    )?;
    // Build it with the real engine on a scratch copy, then throw the copy away.
    let snapshot = ctx.acct.clone();
    let now = ctx.now;
    let built = build(
        ctx,
        &sub,
        details,
        p.get("discounts"),
        &behavior,
        at,
        cancel_at_period_end,
    );
    ctx.now = now;
    *ctx.acct = snapshot;
    let (mut invoice, new_items) = built?;
    present(&mut invoice, &new_items);
    Ok(invoice)
}

/// With `customer` alone Stripe previews "the next upcoming invoice from among the
/// customer's subscriptions": the renewal that comes first, skipping subscriptions that end
/// before they renew; none left is `invoice_upcoming_none`.
fn next_for_customer(ctx: &mut Ctx, customer: &str, discounts: Option<&Value>) -> ApiResult<Value> {
    ctx.acct.fetch_live("customer", customer, "customer")?;
    let mut candidates: Vec<(i64, String)> = ctx
        .acct
        .all("subscription")
        .into_iter()
        .filter(|s| s["customer"] == customer)
        .filter(|s| {
            !matches!(
                s["status"].as_str(),
                Some("canceled" | "incomplete_expired")
            )
        })
        .map(|s| {
            let (_, end) = period_of(s, ctx.now);
            (end, s["id"].as_str().unwrap_or_default().to_string())
        })
        .collect();
    candidates.sort();
    let empty = Map::new();
    for (_, id) in candidates {
        let sub = ctx.acct.fetch("subscription", &id, "subscription")?;
        let snapshot = ctx.acct.clone();
        let now = ctx.now;
        let built = build(ctx, &sub, &empty, discounts, "none", now, None);
        ctx.now = now;
        *ctx.acct = snapshot;
        match built {
            Ok((mut invoice, new_items)) => {
                present(&mut invoice, &new_items);
                return Ok(invoice);
            }
            Err(e) if e.code == Some("invoice_upcoming_none") => continue,
            Err(e) => return Err(e),
        }
    }
    Err(upcoming_none(customer))
}

fn upcoming_none(customer: &str) -> ApiError {
    let mut e = ApiError::invalid(format!("No upcoming invoices for customer: {customer}"));
    e.status = 404;
    e.code = Some("invoice_upcoming_none");
    e
}

/// Applies the previewed changes as the update would, then builds the invoice that follows:
/// the one the change invoices at once, else the next renewal. Returns the draft and the
/// ids of invoice items that exist only in the scratch copy.
fn build(
    ctx: &mut Ctx,
    sub: &Value,
    details: &Map<String, Value>,
    discounts: Option<&Value>,
    behavior: &str,
    at: i64,
    cancel_at_period_end: Option<bool>,
) -> ApiResult<(Value, Vec<String>)> {
    let id = sub["id"].as_str().unwrap_or_default().to_string();
    let mut next = sub.clone();
    let change = change_items(ctx, &mut next, details.get("items"), at)?;
    redeem_discounts(ctx, &mut next, discounts)?;
    if let Some(flag) = cancel_at_period_end {
        next["cancel_at_period_end"] = json!(flag);
        next["cancel_at"] = if flag {
            next["items"]["data"][0]["current_period_end"].clone()
        } else {
            Value::Null
        };
    }
    ctx.acct.put(next);
    let before: Vec<String> = ctx
        .acct
        .all("invoiceitem")
        .iter()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .collect();
    let invoice_id = match stage(ctx, &id, &change, behavior) {
        Some((lines, period)) => {
            let next = ctx.acct.fetch("subscription", &id, "subscription")?;
            let invoice =
                billing::create_invoice(ctx, &next, "subscription_update", &lines, period);
            ctx.acct.update(&invoice, |i| {
                i["next_payment_attempt"] = json!(i["created"]);
            });
            invoice
        }
        None => renewal(ctx, &id)?,
    };
    let new_items: Vec<String> = ctx
        .acct
        .all("invoiceitem")
        .iter()
        .filter_map(|i| i["id"].as_str().map(String::from))
        .filter(|i| !before.contains(i))
        .collect();
    let mut invoice = ctx
        .acct
        .get(&invoice_id)
        .cloned()
        .ok_or_else(ApiError::server_error)?;
    let customer = ctx
        .acct
        .get(invoice["customer"].as_str().unwrap_or_default())
        .cloned()
        .unwrap_or(Value::Null);
    let balance = customer["balance"].as_i64().unwrap_or(0);
    let (due, delta) = billing::balance_effect(balance, invoice["total"].as_i64().unwrap_or(0));
    invoice["starting_balance"] = json!(balance);
    invoice["ending_balance"] = json!(balance + delta);
    invoice["amount_due"] = json!(due);
    invoice["amount_remaining"] = json!(due);
    Ok((invoice, new_items))
}

/// The next renewal invoice, as the clock would draft it at the period's end.
fn renewal(ctx: &mut Ctx, id: &str) -> ApiResult<String> {
    let sub = ctx.acct.fetch("subscription", id, "subscription")?;
    let (start, end) = period_of(&sub, ctx.now);
    if sub["cancel_at"].as_i64().is_some_and(|c| c <= end) {
        return Err(upcoming_none(sub["customer"].as_str().unwrap_or_default()));
    }
    let recurring = &sub["items"]["data"][0]["price"]["recurring"];
    let next_end = next_period_end(
        sub["billing_cycle_anchor"].as_i64().unwrap_or(end),
        end,
        recurring["interval"].as_str().unwrap_or("month"),
        recurring["interval_count"].as_i64().unwrap_or(1),
    );
    let mut next = sub.clone();
    if let Some(items) = next["items"]["data"].as_array_mut() {
        for i in items {
            i["current_period_start"] = json!(end);
            i["current_period_end"] = json!(next_end);
        }
    }
    ctx.now = end;
    let invoice = billing::create_invoice(
        ctx,
        &next,
        "subscription_cycle",
        &line_specs(&next, false),
        (start, end),
    );
    let automatic = sub["collection_method"] == "charge_automatically";
    let days = sub["days_until_due"].as_i64().unwrap_or(30);
    ctx.acct.update(&invoice, |i| {
        i["next_payment_attempt"] = if automatic { json!(end) } else { Value::Null };
        if !automatic {
            i["due_date"] = json!(end + days * 86_400);
        }
    });
    Ok(invoice)
}

/// Gives the preview Stripe's preview ids; prorations not yet stored as invoice items
/// point at none.
fn present(invoice: &mut Value, new_items: &[String]) {
    let preview_id = format!("upcoming_{}", new_id("in"));
    invoice["id"] = json!(preview_id);
    invoice["lines"]["url"] = json!(format!("/v1/invoices/{preview_id}/lines"));
    if let Some(lines) = invoice["lines"]["data"].as_array_mut() {
        for line in lines {
            line["id"] = json!(format!("il_tmp_{}", &new_id("il")[3..]));
            line["invoice"] = json!(preview_id);
            let details = &mut line["parent"]["subscription_item_details"];
            if details["invoice_item"]
                .as_str()
                .is_some_and(|ii| new_items.iter().any(|n| n == ii))
            {
                details["invoice_item"] = Value::Null;
            }
        }
    }
}
