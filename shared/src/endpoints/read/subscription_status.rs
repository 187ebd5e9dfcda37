//! `get_subscription_status`: plan, status, amount, interval, next payment date, trial end,
//! scheduled cancellation, pause, discount and latest invoice.
use std::collections::HashMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{
    failed_payment, missing_customer, newly_decided, open_recoveries, subscription,
};
use crate::billing::Dates;
use crate::billing::money::Money;
use crate::billing::subscription::relevant;
use crate::billing::views::{self, coupon, discount_phrase};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::ports::state::Recovery;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::SubscriptionId;
use crate::stripe::types::Subscription;

#[derive(Default)]
pub struct GetSubscriptionStatus;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SubscriptionStatusArgs {
    /// One of the visitor's subscriptions (`sub_...`). Without it, all of them.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
}

impl Tool for GetSubscriptionStatus {
    const NAME: &'static str = "get_subscription_status";
    const DESCRIPTION: &'static str = "The visitor's subscription: plan, status, price, next payment date, trial end, scheduled cancellation, pause, discount and latest invoice.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Subscriptions, Need::Products];
    type Args = SubscriptionStatusArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let subs = async {
            Ok::<Vec<Subscription>, ApiError>(match args.subscription_id {
                Some(id) => subscription(call, Some(&id), &EXPAND_ONE)
                    .await?
                    .into_iter()
                    .collect(),
                None => all(call).await?,
            })
        };
        let (subs, recovering, decided) =
            futures::join!(subs, open_recoveries(call), newly_decided(call));
        let subs = subs?;
        let names = call
            .app
            .catalog
            .of_subscriptions(&call.tenant.tenant, call.stripe, &subs)
            .await?;
        let shown = relevant(&subs);
        let views: Vec<Value> = shown
            .iter()
            .map(|s| views::subscription(s, &names))
            .collect();
        let mut summary = summarize(&shown, &names, call.dates);
        if let Some(r) = recovering.first() {
            summary.push_str(&recovery_phrase(r));
        }
        // A request a person decided is said once, on the next status after the decision.
        let (sentences, requests) = decided;
        for s in sentences {
            summary.push(' ');
            summary.push_str(&s);
        }
        Ok(Answer {
            data: json!({
                "customer_id": call.customer_id, "subscriptions": views,
                "payment_recovery": recovering.first(),
                "decided_requests": requests,
            }),
            summary,
        })
    }
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
        .limit(10)
        .expand("data.latest_invoice")
        .expand("data.discounts.source.coupon");
    let list = call.stripe.get(&req).await.map_err(missing_customer)?;
    Ok(list.data)
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
                        s.plan_name(names),
                        s.price_phrase(),
                        s.status_words()
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
    let plan = sub.plan_name(names);
    let price = sub.price_phrase();
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
        "trialing" => match sub.scheduled_cancel() {
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
            if let Some(end) = sub.scheduled_cancel() {
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
                    date(sub.next_payment())
                )
            }
        }
        "past_due" => {
            let owed = sub
                .latest_invoice()
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
