//! `POST /v1/invoices/create_preview`: the subscription's next invoice, computed but not kept.

use serde_json::{Value, json};

use super::subscriptions::line_specs;
use super::{Ctx, billing};
use crate::clock::next_period_end;
use crate::errors::{ApiError, ApiResult};
use crate::params::Params;
use crate::store::new_id;

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
    let Some(sub_id) = p.str("subscription")? else {
        return Err(ApiError::invalid(
            "The emulator previews subscription invoices only: pass `subscription`.",
        )
        .with_param("subscription"));
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
    let item = &sub["items"]["data"][0];
    let start = item["current_period_start"].as_i64().unwrap_or(ctx.now);
    let end = item["current_period_end"].as_i64().unwrap_or(ctx.now);
    let recurring = &item["price"]["recurring"];
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
    // Build it with the real engine on a scratch copy, then throw the copy away.
    let snapshot = ctx.acct.clone();
    let now = ctx.now;
    ctx.now = end;
    let id = billing::create_invoice(
        ctx,
        &next,
        "upcoming",
        &line_specs(&next, false),
        (start, end),
    );
    let invoice = ctx.acct.get(&id).cloned();
    let balance = ctx
        .acct
        .get(sub["customer"].as_str().unwrap_or_default())
        .and_then(|c| c["balance"].as_i64())
        .unwrap_or(0);
    ctx.now = now;
    *ctx.acct = snapshot;
    let mut invoice = invoice.ok_or_else(ApiError::server_error)?;

    let total = invoice["total"].as_i64().unwrap_or(0);
    let applied = if balance < 0 {
        balance.max(-total)
    } else {
        balance
    };
    let preview_id = format!("upcoming_{}", new_id("in"));
    invoice["id"] = json!(preview_id);
    invoice["lines"]["url"] = json!(format!("/v1/invoices/{preview_id}/lines"));
    if let Some(lines) = invoice["lines"]["data"].as_array_mut() {
        for line in lines {
            line["id"] = json!(format!("il_tmp_{}", &new_id("il")[3..]));
            line["invoice"] = json!(preview_id);
        }
    }
    invoice["starting_balance"] = json!(balance);
    invoice["ending_balance"] = json!(balance - applied);
    invoice["amount_due"] = json!(total + applied);
    invoice["amount_remaining"] = json!(total + applied);
    let automatic = sub["collection_method"] == "charge_automatically";
    invoice["next_payment_attempt"] = if automatic { json!(end) } else { Value::Null };
    if !automatic {
        invoice["due_date"] = json!(end + sub["days_until_due"].as_i64().unwrap_or(30) * 86_400);
    }
    Ok(invoice)
}
