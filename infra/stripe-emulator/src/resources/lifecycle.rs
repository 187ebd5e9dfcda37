//! What happens to subscriptions as emulator time passes: trial ends, renewals,
//! period-end cancellations, pause resumption and expiry of incomplete subscriptions.

use serde_json::{Value, json};

use super::Ctx;
use super::billing;
use super::payments::Outcome;
use super::subscriptions::line_specs;
use crate::clock::next_period_end;
use crate::store::Account;

/// Stripe expires an unpaid first invoice's subscription after 23 hours.
const INCOMPLETE_EXPIRY: i64 = 23 * 3600;
/// When a renewal is declined Stripe schedules the next attempt; we report it, not retry.
const RETRY_AFTER: i64 = 3 * 86_400;
const MAX_EVENTS: usize = 100_000;

/// Processes every subscription event due up to `to`, oldest first, each at its own time.
pub fn advance(acct: &mut Account, clock_offset: i64, to: i64) {
    for _ in 0..MAX_EVENTS {
        let next = acct
            .all("subscription")
            .into_iter()
            .filter_map(|s| Some((next_event(s)?, s["id"].as_str()?.to_string())))
            .filter(|(t, _)| *t <= to)
            .min();
        let Some((t, id)) = next else {
            return;
        };
        let mut ctx = Ctx {
            acct,
            now: t,
            clock_offset,
        };
        process(&mut ctx, &id);
    }
}

fn period(sub: &Value) -> (i64, i64) {
    let item = &sub["items"]["data"][0];
    (
        item["current_period_start"].as_i64().unwrap_or(0),
        item["current_period_end"].as_i64().unwrap_or(0),
    )
}

fn next_event(sub: &Value) -> Option<i64> {
    match sub["status"].as_str()? {
        "canceled" | "incomplete_expired" => None,
        "incomplete" => Some(sub["created"].as_i64()? + INCOMPLETE_EXPIRY),
        _ => [
            Some(period(sub).1),
            sub["cancel_at"].as_i64(),
            sub["pause_collection"]["resumes_at"].as_i64(),
        ]
        .into_iter()
        .flatten()
        .min(),
    }
}

fn process(ctx: &mut Ctx, id: &str) {
    let Some(sub) = ctx.acct.get(id).cloned() else {
        return;
    };
    let t = ctx.now;
    if sub["status"] == "incomplete" {
        ctx.acct
            .update(id, |s| s["status"] = json!("incomplete_expired"));
        if let Some(inv) = sub["latest_invoice"].as_str()
            && ctx.acct.get(inv).is_some_and(|i| i["status"] == "open")
        {
            billing::void(ctx, inv);
        }
        return;
    }
    if sub["cancel_at"].as_i64().is_some_and(|c| c <= t) {
        ctx.acct.update(id, |s| {
            s["status"] = json!("canceled");
            s["ended_at"] = json!(t);
            if s["canceled_at"].is_null() {
                s["canceled_at"] = json!(t);
            }
            s["cancellation_details"]["reason"] = json!("cancellation_requested");
        });
        return;
    }
    if sub["pause_collection"]["resumes_at"]
        .as_i64()
        .is_some_and(|r| r <= t)
    {
        ctx.acct.update(id, |s| s["pause_collection"] = Value::Null);
        return;
    }
    if period(&sub).1 <= t {
        renew(ctx, id);
    }
}

/// Ends a trial immediately (`trial_end=now` on update) and bills the first paid period.
pub fn end_trial_now(ctx: &mut Ctx, id: &str) {
    let now = ctx.now;
    let trialing = ctx.acct.get(id).is_some_and(|s| s["status"] == "trialing");
    if !trialing {
        return;
    }
    ctx.acct.update(id, |s| {
        s["trial_end"] = json!(now);
        s["billing_cycle_anchor"] = json!(now);
        if let Some(items) = s["items"]["data"].as_array_mut() {
            for item in items {
                item["current_period_end"] = json!(now);
            }
        }
    });
    renew(ctx, id);
}

/// Starts the next period and bills it (`subscription_cycle`).
fn renew(ctx: &mut Ctx, id: &str) {
    let Some(sub) = ctx.acct.get(id).cloned() else {
        return;
    };
    let (old_start, old_end) = period(&sub);
    let recurring = &sub["items"]["data"][0]["price"]["recurring"];
    let interval = recurring["interval"]
        .as_str()
        .unwrap_or("month")
        .to_string();
    let count = recurring["interval_count"].as_i64().unwrap_or(1);
    let anchor = sub["billing_cycle_anchor"].as_i64().unwrap_or(old_end);
    let new_end = next_period_end(anchor, old_end, &interval, count);
    ctx.acct.update(id, |s| {
        if let Some(items) = s["items"]["data"].as_array_mut() {
            for item in items {
                item["current_period_start"] = json!(old_end);
                item["current_period_end"] = json!(new_end);
            }
        }
    });
    let Some(sub) = ctx.acct.get(id).cloned() else {
        return;
    };
    let invoice = billing::create_invoice(
        ctx,
        &sub,
        "subscription_cycle",
        &line_specs(&sub, false),
        (old_start, old_end),
    );
    ctx.acct
        .update(id, |s| s["latest_invoice"] = json!(invoice));
    let was_trialing = sub["status"] == "trialing";
    let set_status = |ctx: &mut Ctx, status: &str| {
        let status = status.to_string();
        ctx.acct.update(id, |s| s["status"] = json!(status));
    };
    match sub["pause_collection"]["behavior"].as_str() {
        Some("keep_as_draft") => {
            if was_trialing {
                set_status(ctx, "active");
            }
            return;
        }
        Some("mark_uncollectible") => {
            billing::finalize(ctx, &invoice);
            billing::mark_uncollectible(ctx, &invoice);
            return;
        }
        Some("void") => {
            billing::finalize(ctx, &invoice);
            billing::void(ctx, &invoice);
            return;
        }
        _ => {}
    }
    billing::finalize(ctx, &invoice);
    let paid = ctx
        .acct
        .get(&invoice)
        .is_some_and(|i| i["status"] == "paid");
    if paid || sub["collection_method"] == "send_invoice" {
        set_status(ctx, "active");
        return;
    }
    let pm = billing::payment_method_for(ctx, &sub);
    match billing::collect(ctx, &invoice, pm.as_deref(), Some(RETRY_AFTER)) {
        Outcome::Succeeded => set_status(ctx, "active"),
        Outcome::Declined | Outcome::NoPaymentMethod => set_status(ctx, "past_due"),
    }
}
