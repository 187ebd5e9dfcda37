//! `get_subscription_status`: plan, status, amount, interval, next payment date, trial end,
//! scheduled cancellation, pause, discount and latest invoice.
use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::check_opt_id;
use super::common::{missing_customer, subscription};
use crate::billing::Dates;
use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::ports::state::{Recovery, RecoveryStatus};
use crate::stripe::StripeSession;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::types::{Coupon, Discount, Expandable, Invoice, Subscription};
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct GetSubscriptionStatus;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionStatusArgs {
    /// One of the visitor's subscriptions (`sub_...`). Without it, all of them.
    #[serde(default)]
    pub subscription_id: Option<String>,
}

impl Tool for GetSubscriptionStatus {
    const NAME: &'static str = "get_subscription_status";
    const DESCRIPTION: &'static str = "The visitor's subscription: plan, status, price, next payment date, trial end, scheduled cancellation, pause, discount and latest invoice.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Subscriptions, Need::Products];
    type Args = SubscriptionStatusArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        check_opt_id("subscription_id", args.subscription_id.as_deref(), "sub_")
    }

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let subs = async {
            Ok::<_, ApiError>(match args.subscription_id {
                Some(id) => subscription(call, Some(&id), &EXPAND_ONE)
                    .await?
                    .into_iter()
                    .collect(),
                None => all(call).await?,
            })
        };
        let (subs, recovering) = futures::join!(subs, open_recoveries(call));
        let subs = subs?;
        let names = product_names(call.app, &call.tenant.tenant, call.stripe, &subs).await?;
        let shown = relevant(&subs);
        let views: Vec<Value> = shown.iter().map(|s| view(s, &names)).collect();
        let mut summary = summarize(&shown, &names, call.dates);
        if let Some(r) = recovering.first() {
            summary.push_str(&recovery_phrase(r));
        }
        Ok(Answer {
            data: json!({
                "customer_id": call.customer_id, "subscriptions": views,
                "payment_recovery": recovering.first(),
            }),
            summary,
        })
    }
}

/// The customer's open recoveries (failed payments the webhooks told us about), newest
/// first. The answer does without them when the state can't be read.
pub(crate) async fn open_recoveries(call: &Call<'_>) -> Vec<Recovery> {
    call.app
        .state
        .recoveries(
            &call.tenant.tenant,
            RecoveryStatus::Open,
            Some(call.customer_id),
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "recovery state unavailable");
            Vec::new()
        })
}

/// "A payment of $19.00 failed (the card was declined)": a recovery, said.
pub(crate) fn failed_payment(r: &Recovery) -> String {
    let amount = r.amount_due["formatted"].as_str().unwrap_or("money");
    let why = r
        .decline
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!("A payment of {amount} failed{why}")
}

/// What the visitor can do about a failed payment, said after the status.
fn recovery_phrase(r: &Recovery) -> String {
    format!(
        " {}: you can try it again now, or update your card first.",
        failed_payment(r)
    )
}

const EXPAND_ONE: [&str; 3] = [
    "items.data.price.product",
    "latest_invoice",
    "discounts.source.coupon",
];

async fn all(call: &Call<'_>) -> Result<Vec<Subscription>, ApiError> {
    let req = api::subscriptions(call.customer_id)
        .set("status", "all")
        .set("limit", 10)
        .expand("data.latest_invoice")
        .expand("data.discounts.source.coupon");
    let list = call.stripe.get(&req).await.map_err(missing_customer)?;
    Ok(list.data)
}

pub(crate) async fn product_names(
    app: &App,
    tenant: &str,
    stripe: &StripeSession<'_>,
    subs: &[Subscription],
) -> Result<HashMap<String, String>, ApiError> {
    let mut ids = Vec::new();
    for item in subs.iter().flat_map(|s| &s.items.data) {
        match &item.price.product {
            Expandable::Object(p) => app.catalog.remember(tenant, &p.id, &p.name),
            Expandable::Id(id) => ids.push(id.as_str()),
        }
    }
    let mut names = app.catalog.names(tenant, stripe, &ids).await?;
    for item in subs.iter().flat_map(|s| &s.items.data) {
        if let Expandable::Object(p) = &item.price.product {
            names.insert(p.id.clone(), p.name.clone());
        }
    }
    Ok(names)
}

/// The current subscriptions; when there are none, the most recent ended one, so "was it
/// canceled?" has an answer.
pub(crate) fn relevant(subs: &[Subscription]) -> Vec<&Subscription> {
    let current: Vec<&Subscription> = subs
        .iter()
        .filter(|s| !matches!(s.status.as_str(), "canceled" | "incomplete_expired"))
        .collect();
    if current.is_empty() {
        subs.iter().max_by_key(|s| s.created).into_iter().collect()
    } else {
        current
    }
}

pub(crate) fn plan_name(sub: &Subscription, names: &HashMap<String, String>) -> String {
    let parts: Vec<String> = sub
        .items
        .data
        .iter()
        .map(|i| {
            names
                .get(i.price.product.id())
                .cloned()
                .or_else(|| i.price.nickname.clone())
                .unwrap_or_else(|| "subscription".into())
        })
        .collect();
    parts.join(" + ")
}

fn amount(sub: &Subscription) -> Money {
    let total = sub
        .items
        .data
        .iter()
        .map(|i| i.price.unit_amount.unwrap_or(0) * i.quantity.unwrap_or(1) as i64)
        .sum();
    Money::new(total, &sub.currency)
}

fn interval(sub: &Subscription) -> Option<(String, u32)> {
    sub.items
        .data
        .first()
        .and_then(|i| i.price.recurring.as_ref())
        .map(|r| (r.interval.clone(), r.interval_count))
}

/// "$49.00/month", "$120.00 every 3 months".
pub(crate) fn price_phrase(sub: &Subscription) -> String {
    let money = amount(sub).formatted;
    match interval(sub) {
        Some((unit, 1)) => format!("{money}/{unit}"),
        Some((unit, n)) => format!("{money} every {n} {unit}s"),
        None => money,
    }
}

fn period_end(sub: &Subscription) -> Option<i64> {
    sub.items
        .data
        .iter()
        .filter_map(|i| i.current_period_end)
        .min()
}

pub(crate) fn scheduled_cancel(sub: &Subscription) -> Option<i64> {
    if sub.status == "canceled" {
        return None;
    }
    sub.cancel_at.or(if sub.cancel_at_period_end {
        period_end(sub)
    } else {
        None
    })
}

pub(crate) fn next_payment(sub: &Subscription) -> Option<i64> {
    if scheduled_cancel(sub).is_some() || sub.pause_collection.is_some() {
        return None;
    }
    match sub.status.as_str() {
        "trialing" => sub.trial_end,
        "active" | "past_due" => period_end(sub),
        _ => None,
    }
}

fn coupon(d: &Expandable<Discount>) -> Option<&Coupon> {
    d.object()?.source.as_ref()?.coupon.as_ref()?.object()
}

pub(crate) fn discount_phrase(c: &Coupon) -> String {
    let off = match (c.percent_off, c.amount_off, &c.currency) {
        (Some(p), _, _) => format!("{}% off", p),
        (None, Some(a), Some(cur)) => format!("{} off", Money::new(a, cur).formatted),
        _ => "a discount".into(),
    };
    match (c.duration.as_deref(), c.duration_in_months) {
        (Some("repeating"), Some(m)) => format!("{off} for {m} months"),
        (Some("once"), _) => format!("{off} on one invoice"),
        _ => off,
    }
}

fn latest_invoice(sub: &Subscription) -> Option<&Invoice> {
    sub.latest_invoice.as_ref().and_then(Expandable::object)
}

pub(crate) fn view(sub: &Subscription, names: &HashMap<String, String>) -> Value {
    let (unit, count) = interval(sub).unzip();
    let discounts: Vec<Value> = sub
        .discounts
        .iter()
        .filter_map(|d| {
            let c = coupon(d)?;
            Some(json!({
                "name": c.name, "description": discount_phrase(c),
                "percent_off": c.percent_off,
                "amount_off": c.amount_off.zip(c.currency.as_deref()).map(|(a, cur)| Money::new(a, cur)),
                "duration": c.duration, "ends_at": d.object().and_then(|d| d.end).and_then(rfc3339),
            }))
        })
        .collect();
    json!({
        "id": sub.id,
        "status": sub.status,
        "plan": {
            "name": plan_name(sub, names),
            "items": sub.items.data.iter().map(|i| json!({
                "price_id": i.price.id,
                "product_id": i.price.product.id(),
                "name": names.get(i.price.product.id()),
                "quantity": i.quantity.unwrap_or(1),
                "unit_amount": i.price.unit_amount.map(|a| Money::new(a, &i.price.currency)),
            })).collect::<Vec<_>>(),
        },
        "amount": amount(sub),
        "interval": unit,
        "interval_count": count,
        "current_period_end": period_end(sub).and_then(rfc3339),
        "next_payment_date": next_payment(sub).and_then(rfc3339),
        "trial_end": sub.trial_end.and_then(rfc3339),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "cancels_at": scheduled_cancel(sub).and_then(rfc3339),
        // Stripe sets `canceled_at` when a cancellation is requested, even one that takes
        // effect later; ours means only "it has ended", so a bot never reads an active
        // subscription as canceled.
        "canceled_at": (sub.status == "canceled")
            .then(|| sub.ended_at.or(sub.canceled_at))
            .flatten()
            .and_then(rfc3339),
        "cancellation_requested_at": sub.canceled_at.and_then(rfc3339),
        "pause": sub.pause_collection.as_ref().map(|p| json!({
            "behavior": p.behavior, "resumes_at": p.resumes_at.and_then(rfc3339),
        })),
        "discounts": discounts,
        "latest_invoice": latest_invoice(sub).map(|i| json!({
            "id": i.id, "number": i.number, "status": i.status,
            "amount_due": Money::new(i.amount_due, &i.currency),
            "amount_remaining": Money::new(i.amount_remaining, &i.currency),
            "hosted_invoice_url": i.hosted_invoice_url, "invoice_pdf": i.invoice_pdf,
        })),
    })
}

fn summarize(subs: &[&Subscription], names: &HashMap<String, String>, dates: &Dates) -> String {
    match subs {
        [] => "You don't have a subscription.".into(),
        [sub] => sentence(sub, names, dates),
        many => {
            let parts: Vec<String> = many
                .iter()
                .map(|s| {
                    format!(
                        "{} ({}, {})",
                        plan_name(s, names),
                        price_phrase(s),
                        s.status.replace('_', " ")
                    )
                })
                .collect();
            format!(
                "You have {} subscriptions: {}. Ask about one of them for its details.",
                many.len(),
                parts.join(" and ")
            )
        }
    }
}

fn sentence(sub: &Subscription, names: &HashMap<String, String>, dates: &Dates) -> String {
    let plan = plan_name(sub, names);
    let price = price_phrase(sub);
    let discount = sub
        .discounts
        .iter()
        .filter_map(coupon)
        .map(discount_phrase)
        .next()
        .map(|d| format!(", with {d}"))
        .unwrap_or_default();
    let date = |t: Option<i64>| dates.maybe(t);
    match sub.status.as_str() {
        "trialing" => match scheduled_cancel(sub) {
            Some(end) => format!(
                "You're on a free trial of the {plan} plan until {}. It's set to cancel then, so you won't be charged.",
                date(sub.trial_end.or(Some(end)))
            ),
            None => format!(
                "You're on a free trial of the {plan} plan until {}; after that it's {price}{discount}.",
                date(sub.trial_end)
            ),
        },
        "active" => {
            let lead = format!("You're on the {plan} plan ({price}{discount}).");
            if let Some(end) = scheduled_cancel(sub) {
                format!(
                    "{lead} It's set to cancel on {}, and you won't be charged again.",
                    dates.date(end)
                )
            } else if let Some(p) = &sub.pause_collection {
                match p.resumes_at {
                    Some(t) => format!("{lead} Payments are paused until {}.", dates.date(t)),
                    None => format!("{lead} Payments are paused."),
                }
            } else {
                format!(
                    "{lead} Your next payment is due on {}.",
                    date(next_payment(sub))
                )
            }
        }
        "past_due" => {
            let owed = latest_invoice(sub)
                .filter(|i| i.amount_remaining > 0)
                .map(|i| {
                    format!(
                        " of {}",
                        Money::new(i.amount_remaining, &i.currency).formatted
                    )
                })
                .unwrap_or_default();
            format!(
                "Your {plan} plan ({price}) is past due: the last payment{owed} didn't go through. Updating your card or retrying the payment will fix it."
            )
        }
        "unpaid" => format!(
            "Your {plan} plan is on hold because an invoice is unpaid. Paying it will restore the plan."
        ),
        "incomplete" => format!(
            "Your {plan} plan hasn't started yet because its first payment didn't go through. Updating your card will complete it."
        ),
        "incomplete_expired" => {
            format!("Your {plan} plan never started because its first payment failed.")
        }
        "paused" => {
            format!("Your {plan} plan is paused because the trial ended without a payment method.")
        }
        "canceled" => format!(
            "Your {plan} plan was canceled on {}.",
            date(sub.ended_at.or(sub.canceled_at))
        ),
        other => format!("Your {plan} plan ({price}) is {}.", other.replace('_', " ")),
    }
}
