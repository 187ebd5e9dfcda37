//! `POST /v1/subscriptions/{id}`: cancellation flags, payment method, pause, item changes.

use serde_json::{Map, Value, json};

use super::subscriptions::{NewItem, check_compatible, item_json, quantity, usable_price};
use super::{Ctx, lifecycle, payment_methods, render};
use crate::errors::{ApiError, ApiResult};
use crate::params::{Params, allow_nested, apply_metadata, opt_bool, opt_int, opt_obj, opt_str};

pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "cancel_at_period_end",
        "cancel_at",
        "default_payment_method",
        "metadata",
        "pause_collection",
        "items",
        "proration_behavior",
        "payment_behavior",
        "description",
        "trial_end",
        "off_session",
        "cancellation_details",
        "days_until_due",
    ])?;
    let mut sub = ctx.acct.fetch("subscription", id, "id")?;
    if sub["status"] == "canceled"
        && p.0
            .keys()
            .any(|k| !["metadata", "cancellation_details", "expand"].contains(&k.as_str()))
    {
        return Err(ApiError::invalid(
            "A canceled subscription can only update its cancellation_details and metadata.",
        ));
    }
    let customer = sub["customer"].as_str().unwrap_or_default().to_string();
    let period_end = sub["items"]["data"][0]["current_period_end"].clone();
    if let Some(flag) = p.bool("cancel_at_period_end")? {
        sub["cancel_at_period_end"] = json!(flag);
        sub["cancel_at"] = if flag { period_end } else { Value::Null };
        sub["canceled_at"] = if flag { json!(ctx.now) } else { Value::Null };
    }
    if p.has("cancel_at") {
        let at = p.int("cancel_at")?;
        sub["cancel_at"] = json!(at);
        sub["cancel_at_period_end"] = json!(false);
        sub["canceled_at"] = if at.is_some() {
            json!(ctx.now)
        } else {
            Value::Null
        };
    }
    if p.has("default_payment_method") {
        let pm = p.str("default_payment_method")?;
        if let Some(pm) = &pm {
            payment_methods::require_attached(ctx, pm, &customer, "default_payment_method")?;
        }
        sub["default_payment_method"] = json!(pm);
    }
    if p.has("description") {
        sub["description"] = json!(p.str("description")?);
    }
    if let Some(days) = p.int("days_until_due")? {
        sub["days_until_due"] = json!(days);
    }
    if let Some(pause) = opt_obj(p.get("pause_collection"), "pause_collection")? {
        sub["pause_collection"] = match pause {
            None => Value::Null,
            Some(m) => pause_value(m)?,
        };
    }
    if let Some(Some(details)) = opt_obj(p.get("cancellation_details"), "cancellation_details")? {
        allow_nested(details, "cancellation_details", &["comment", "feedback"])?;
        for k in ["comment", "feedback"] {
            if details.contains_key(k) {
                sub["cancellation_details"][k] = json!(opt_str(
                    details.get(k),
                    &format!("cancellation_details[{k}]")
                )?);
            }
        }
    }
    apply_metadata(&mut sub["metadata"], p.get("metadata"))?;
    update_items(ctx, &mut sub, p.get("items"))?;
    ctx.acct.put(sub);
    if p.str("trial_end")?.as_deref() == Some("now") {
        lifecycle::end_trial_now(ctx, id);
    }
    ctx.acct
        .fetch("subscription", id, "id")
        .map(|s| render(ctx.acct, &s))
}

fn pause_value(m: &Map<String, Value>) -> ApiResult<Value> {
    allow_nested(m, "pause_collection", &["behavior", "resumes_at"])?;
    let behavior = opt_str(m.get("behavior"), "pause_collection[behavior]")?
        .ok_or_else(|| ApiError::missing("pause_collection[behavior]"))?;
    if !["keep_as_draft", "mark_uncollectible", "void"].contains(&behavior.as_str()) {
        return Err(ApiError::invalid_param(
            "pause_collection[behavior]",
            format!(
                "Invalid pause_collection[behavior]: must be one of keep_as_draft, mark_uncollectible, or void; got {behavior}"
            ),
        ));
    }
    let resumes_at = opt_int(m.get("resumes_at"), "pause_collection[resumes_at]")?;
    Ok(json!({"behavior": behavior, "resumes_at": resumes_at}))
}

/// `items[N][id]` changes or deletes an existing item; an entry without `id` adds one.
/// Prorations are not simulated: the change shows from the next invoice.
fn update_items(ctx: &Ctx, sub: &mut Value, v: Option<&Value>) -> ApiResult<()> {
    let Some(v) = v else {
        return Ok(());
    };
    let Value::Array(list) = v else {
        return Err(ApiError::invalid_param("items", "Invalid array"));
    };
    let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
    let period = (
        sub["items"]["data"][0]["current_period_start"]
            .as_i64()
            .unwrap_or(ctx.now),
        sub["items"]["data"][0]["current_period_end"]
            .as_i64()
            .unwrap_or(ctx.now),
    );
    let mut items: Vec<Value> = sub["items"]["data"].as_array().cloned().unwrap_or_default();
    for (i, entry) in list.iter().enumerate() {
        let name = format!("items[{i}]");
        let Value::Object(m) = entry else {
            return Err(ApiError::invalid_param(&name, "Invalid object"));
        };
        allow_nested(
            m,
            &name,
            &[
                "id",
                "price",
                "quantity",
                "metadata",
                "deleted",
                "clear_usage",
                "tax_rates",
                "discounts",
            ],
        )?;
        let price = match opt_str(m.get("price"), &format!("{name}[price]"))? {
            Some(pid) => Some(usable_price(ctx, &pid, &format!("{name}[price]"))?),
            None => None,
        };
        let qty = quantity(m, &name)?;
        match opt_str(m.get("id"), &format!("{name}[id]"))? {
            Some(item_id) => {
                let Some(pos) = items.iter().position(|it| it["id"] == item_id.as_str()) else {
                    return Err(ApiError::invalid_param(
                        &format!("{name}[id]"),
                        format!(
                            "Subscription item {item_id} does not belong to subscription {sub_id}."
                        ),
                    ));
                };
                if opt_bool(m.get("deleted"), &format!("{name}[deleted]"))? == Some(true) {
                    items.remove(pos);
                    continue;
                }
                let item = &mut items[pos];
                if let Some(price) = price {
                    item["plan"] = super::prices::plan_of(&price);
                    item["price"] = price;
                }
                if let Some(q) = qty {
                    item["quantity"] = json!(q);
                }
                apply_metadata(&mut item["metadata"], m.get("metadata"))?;
            }
            None => {
                let price = price.ok_or_else(|| ApiError::missing(&format!("{name}[price]")))?;
                let mut meta = json!({});
                apply_metadata(&mut meta, m.get("metadata"))?;
                items.push(item_json(
                    ctx,
                    &sub_id,
                    &price,
                    qty.unwrap_or(1),
                    &meta,
                    period,
                ));
            }
        }
    }
    if items.is_empty() {
        return Err(ApiError::invalid_param(
            "items",
            "A subscription must have at least one active plan.",
        ));
    }
    let prices: Vec<NewItem> = items
        .iter()
        .map(|i| (i["price"].clone(), 0, Value::Null))
        .collect();
    check_compatible(&prices)?;
    sub["currency"] = items[0]["price"]["currency"].clone();
    sub["items"]["total_count"] = json!(items.len());
    sub["items"]["data"] = Value::Array(items);
    Ok(())
}
