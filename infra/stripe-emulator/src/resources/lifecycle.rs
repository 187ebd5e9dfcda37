//! What happens as emulator time passes: trial ends, renewals (drafted, then finalized and
//! charged an hour later), period-end cancellations, pause resumption and expiry of
//! incomplete subscriptions.

use serde_json::{Value, json};

use super::billing::{self, Settled};
use super::subscriptions::line_specs;
use crate::clock::next_period_end;
use crate::store::Account;
use crate::store::Ctx;

/// Stripe expires an unpaid first invoice's subscription after 23 hours.
const INCOMPLETE_EXPIRY: i64 = 23 * 3600;
/// When a renewal is declined Stripe schedules the next attempt; we report it, not retry.
const RETRY_AFTER: i64 = 3 * 86_400;
const MAX_EVENTS: usize = 100_000;

/// Something due at a time: a subscription's period end, cancellation, resumption or
/// expiry, or a draft invoice's automatic finalization.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
enum Due {
    Subscription(String),
    Finalize(String),
}

/// Processes every event due up to `to`, oldest first, each at its own time.
pub fn advance(acct: &mut Account, clock_offset: i64, to: i64) {
    crate::events::emit(acct, to, None);
    for _ in 0..MAX_EVENTS {
        let subs = acct
            .all("subscription")
            .into_iter()
            .filter_map(|s| Some((next_event(s)?, Due::Subscription(s["id"].as_str()?.into()))));
        let drafts = acct.all("invoice").into_iter().filter_map(|i| {
            let at = i["automatically_finalizes_at"].as_i64()?;
            let id = i["id"].as_str()?;
            (i["status"] == "draft").then(|| (at, Due::Finalize(id.into())))
        });
        let next = subs.chain(drafts).filter(|(t, _)| *t <= to).min();
        let Some((t, due)) = next else {
            return;
        };
        let mut ctx = Ctx {
            acct,
            now: t,
            clock_offset,
        };
        match due {
            Due::Subscription(id) => process(&mut ctx, &id),
            Due::Finalize(id) => finalize_due(&mut ctx, &id),
        }
        crate::events::emit(acct, t, None);
    }
}

/// A renewal's draft reaches its finalization time: finalize it and, for
/// `charge_automatically`, charge it; the subscription follows the payment.
fn finalize_due(ctx: &mut Ctx, invoice: &str) {
    let Some(inv) = ctx.acct.get(invoice).cloned() else {
        return;
    };
    let sub_id = inv["parent"]["subscription_details"]["subscription"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let sub = ctx.acct.get(&sub_id).cloned().unwrap_or(Value::Null);
    let ended = matches!(
        sub["status"].as_str(),
        Some("canceled" | "incomplete_expired") | None
    );
    if ended {
        // Nothing charges the invoices of a subscription that has ended.
        billing::finalize(ctx, invoice);
        return;
    }
    let settled = billing::settle(ctx, invoice, &sub, Some(RETRY_AFTER));
    if sub["latest_invoice"] != invoice {
        return;
    }
    let status = match settled {
        Settled::Paid | Settled::Sent => "active",
        Settled::Declined | Settled::NoPaymentMethod => "past_due",
    };
    ctx.acct.update(&sub_id, |s| s["status"] = json!(status));
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
        renew(ctx, id, false);
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
    renew(ctx, id, true);
}

/// Starts the next period and bills it. A renewal (`subscription_cycle`) stays a draft for
/// an hour before it is finalized and charged; `immediate` (a trial ended by an update)
/// finalizes and charges at once (`subscription_update`).
fn renew(ctx: &mut Ctx, id: &str, immediate: bool) {
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
    let reason = if immediate {
        "subscription_update"
    } else {
        "subscription_cycle"
    };
    let invoice = billing::create_invoice(
        ctx,
        &sub,
        reason,
        &line_specs(&sub, false),
        (old_start, old_end),
    );
    ctx.acct
        .update(id, |s| s["latest_invoice"] = json!(invoice));
    if sub["status"] == "trialing" {
        ctx.acct.update(id, |s| s["status"] = json!("active"));
    }
    match sub["pause_collection"]["behavior"].as_str() {
        Some("keep_as_draft") => {
            ctx.acct
                .update(&invoice, |i| i["auto_advance"] = json!(false));
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
    if immediate {
        finalize_due(ctx, &invoice);
    } else {
        billing::schedule_finalization(ctx, &invoice);
    }
}
