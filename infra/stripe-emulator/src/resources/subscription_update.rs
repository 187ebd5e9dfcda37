//! `POST /v1/subscriptions/{id}`: cancellation flags, payment method, pause, discounts, and
//! item changes with their prorations.

use serde_json::{Map, Value, json};

use super::billing::proration::{self, Change, Prorated};
use super::billing::{self, LineSpec, Settled};
use super::subscriptions::{
    self, NO_PAYMENT_METHOD, NewItem, check_compatible, interval_of, item_json, line_specs,
    quantity, usable_price,
};
use super::{coupons, lifecycle, payment_methods};
use crate::clock::add_interval;
use crate::errors::{ApiError, ApiResult};
use crate::params::{Params, allow_nested, apply_metadata, opt_bool, opt_int, opt_obj, opt_str};
use crate::render::render;
use crate::store::Ctx;

const BEHAVIORS: &[&str] = &["create_prorations", "always_invoice", "none"];

pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "cancel_at_period_end",
        "cancel_at",
        "default_payment_method",
        "metadata",
        "pause_collection",
        "items",
        "proration_behavior",
        "proration_date",
        "payment_behavior",
        "description",
        "trial_end",
        "off_session",
        "cancellation_details",
        "days_until_due",
        "discounts",
    ])?;
    let mut sub = ctx.acct.fetch("subscription", id, "id")?;
    if sub["status"] == "canceled"
        && p.0
            .keys()
            .any(|k| !["metadata", "cancellation_details", "expand"].contains(&k.as_str()))
    {
        // Stripe's error code for it: `invalid_canceled_subscription_fields`.
        return Err(ApiError::coded(
            "invalid_canceled_subscription_fields",
            "A canceled subscription can only update its cancellation_details and metadata.",
        ));
    }
    let behavior = proration_behavior(p.str("proration_behavior")?, "proration_behavior")?;
    let at = proration_date(ctx, &sub, p.int("proration_date")?, "proration_date")?;
    let payment_behavior = subscriptions::payment_behavior(p)?;
    let snapshot = ctx.acct.clone();
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
    let change = change_items(ctx, &mut sub, p.get("items"), at)?;
    redeem_discounts(ctx, &mut sub, p.get("discounts"))?;
    ctx.acct.put(sub);
    let outcome = apply_change(ctx, id, change, &behavior);
    if matches!(outcome, Some(Settled::Declined | Settled::NoPaymentMethod))
        && payment_behavior == "error_if_incomplete"
    {
        // Stripe keeps nothing of an update whose payment fails this way.
        *ctx.acct = snapshot;
        return Err(match outcome {
            Some(Settled::Declined) => ApiError::card_declined(),
            _ => ApiError::invalid(NO_PAYMENT_METHOD),
        });
    }
    if p.str("trial_end")?.as_deref() == Some("now") {
        lifecycle::end_trial_now(ctx, id);
    }
    ctx.acct
        .fetch("subscription", id, "id")
        .map(|s| render(ctx.acct, &s))
}

pub fn proration_behavior(v: Option<String>, param: &str) -> ApiResult<String> {
    let b = v.unwrap_or_else(|| "create_prorations".into());
    if !BEHAVIORS.contains(&b.as_str()) {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "Invalid {param}: must be one of always_invoice, create_prorations, or none; got {b}"
            ),
        ));
    }
    Ok(b)
}

/// When the change counts as made: `proration_date` (within the current period) or now.
pub fn proration_date(ctx: &Ctx, sub: &Value, v: Option<i64>, param: &str) -> ApiResult<i64> {
    let Some(t) = v else {
        return Ok(ctx.now);
    };
    let (start, end) = period_of(sub, ctx.now);
    if t < start || t > end {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "The `{param}` must be within the subscription's current period ({start} to {end})."
            ),
        ));
    }
    Ok(t)
}

pub fn period_of(sub: &Value, now: i64) -> (i64, i64) {
    let item = &sub["items"]["data"][0];
    (
        item["current_period_start"].as_i64().unwrap_or(now),
        item["current_period_end"].as_i64().unwrap_or(now),
    )
}

pub fn redeem_discounts(ctx: &mut Ctx, sub: &mut Value, v: Option<&Value>) -> ApiResult<()> {
    let existing = billing::id_list(&sub["discounts"]);
    let amount: i64 = line_specs(sub, false)
        .iter()
        .map(|l| l.price["unit_amount"].as_i64().unwrap_or(0) * l.quantity)
        .sum();
    let buy = coupons::Purchase {
        customer: sub["customer"].as_str().unwrap_or_default(),
        subscription: sub["id"].as_str().unwrap_or_default(),
        amount,
        currency: sub["currency"].as_str().unwrap_or_default(),
    };
    if let Some(ids) = coupons::redeem(ctx, v, &existing, &buy)? {
        sub["discounts"] = json!(ids);
    }
    Ok(())
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

/// What an item change does to billing, computed before it is applied.
pub struct ItemChange {
    /// Credits and debits for the changed items (empty while trialing).
    pub prorations: Vec<Prorated>,
    /// The billing interval changed: the period restarts now and is invoiced at once.
    pub new_interval: bool,
}

/// `items[N][id]` changes or deletes an existing item; an entry without `id` adds one.
/// Applies the change to `sub` and returns the prorations it makes at `at`.
pub fn change_items(
    ctx: &Ctx,
    sub: &mut Value,
    v: Option<&Value>,
    at: i64,
) -> ApiResult<ItemChange> {
    let none = ItemChange {
        prorations: Vec::new(),
        new_interval: false,
    };
    let Some(v) = v else {
        return Ok(none);
    };
    let Value::Array(list) = v else {
        return Err(ApiError::invalid_param("items", "Invalid array"));
    };
    let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
    let period = period_of(sub, ctx.now);
    let before: Vec<Value> = sub["items"]["data"].as_array().cloned().unwrap_or_default();
    let mut items = before.clone();
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
                    item["plan"] = crate::render::plan_of(&price);
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
    let new_interval = interval_of(&before[0]["price"]) != interval_of(&items[0]["price"]);
    let trialing = sub["status"] == "trialing";
    let state = |i: &Value| (i["price"].clone(), i["quantity"].as_i64().unwrap_or(1));
    let mut changes: Vec<Change> = before
        .iter()
        .map(|b| Change {
            item_id: b["id"].as_str().unwrap_or_default().to_string(),
            before: Some(state(b)),
            after: if new_interval {
                None
            } else {
                items.iter().find(|a| a["id"] == b["id"]).map(state)
            },
        })
        .collect();
    if !new_interval {
        changes.extend(
            items
                .iter()
                .filter(|a| !before.iter().any(|b| b["id"] == a["id"]))
                .map(|a| Change {
                    item_id: a["id"].as_str().unwrap_or_default().to_string(),
                    before: None,
                    after: Some(state(a)),
                }),
        );
    }
    let prorations = if trialing {
        Vec::new()
    } else {
        proration::prorations(ctx, &changes, at, period)
    };
    sub["currency"] = items[0]["price"]["currency"].clone();
    sub["items"]["total_count"] = json!(items.len());
    sub["items"]["data"] = Value::Array(items);
    Ok(ItemChange {
        prorations,
        new_interval: new_interval && !trialing,
    })
}

/// Books an applied item change as `behavior` says: prorations become pending invoice
/// items for the next invoice unless `behavior` is `none`. Returns what must be invoiced
/// right away (`always_invoice`, or any change of billing interval, which restarts the
/// period now): the subscription lines to bill and the invoice's period.
pub fn stage(
    ctx: &mut Ctx,
    id: &str,
    change: &ItemChange,
    behavior: &str,
) -> Option<(Vec<LineSpec>, (i64, i64))> {
    if change.new_interval {
        restart_period(ctx, id);
    }
    let sub = ctx.acct.get(id).cloned()?;
    if behavior != "none" {
        proration::add_pending(ctx, &sub, &change.prorations);
    }
    if change.new_interval {
        return Some((line_specs(&sub, false), period_of(&sub, ctx.now)));
    }
    (behavior == "always_invoice" && !change.prorations.is_empty())
        .then(|| (Vec::new(), (ctx.now, ctx.now)))
}

/// Stages the change and, when it is invoiced at once, creates, finalizes and charges that
/// invoice (`subscription_update`). Returns how it was settled.
fn apply_change(ctx: &mut Ctx, id: &str, change: ItemChange, behavior: &str) -> Option<Settled> {
    let (lines, period) = stage(ctx, id, &change, behavior)?;
    let sub = ctx.acct.get(id).cloned()?;
    let invoice = billing::create_invoice(ctx, &sub, "subscription_update", &lines, period);
    ctx.acct
        .update(id, |s| s["latest_invoice"] = json!(invoice));
    let settled = billing::settle(ctx, &invoice, &sub, None);
    if matches!(settled, Settled::Declined | Settled::NoPaymentMethod) && sub["status"] == "active"
    {
        ctx.acct.update(id, |s| s["status"] = json!("past_due"));
    }
    Some(settled)
}

/// A new billing interval starts a new period now, anchored now, as Stripe does.
fn restart_period(ctx: &mut Ctx, id: &str) {
    let now = ctx.now;
    ctx.acct.update(id, |s| {
        let (interval, count) = interval_of(&s["items"]["data"][0]["price"]);
        let end = add_interval(now, &interval, count);
        s["billing_cycle_anchor"] = json!(now);
        if let Some(items) = s["items"]["data"].as_array_mut() {
            for item in items {
                item["current_period_start"] = json!(now);
                item["current_period_end"] = json!(end);
            }
        }
        if s["cancel_at_period_end"] == true {
            s["cancel_at"] = json!(end);
        }
    });
}
