//! Retention offers: what `cancel_subscription`'s preview offers instead, by the reason the
//! visitor gives (`policy.retention`). An offer is a call of another write tool with its
//! arguments (`accept`), two-phase and under that tool's own bounds; an offer the customer
//! could not take (a pause on a yearly plan, a discount used this year, a downgrade that is
//! not cheaper) is left out rather than refused later. What was offered, taken and turned
//! down is logged (`target: retention`) for the saved-revenue query.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{ApplyCoupon, ChangePlan, PauseSubscription};
use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::endpoint::Call;
use crate::pipeline::policy::{self, Act, PeriodRef, Verdict};
use crate::pipeline::two_phase::WriteTool;
use crate::ports::tenants::RetentionOffer;
use crate::stripe::api;
use crate::stripe::types::Subscription;
use crate::stripe::writes::CancelFeedback;
use crate::timefmt::{now_unix, rfc3339};

const DAY: i64 = 86_400;

/// One offer, as the cancel preview carries it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Offer {
    pub id: String,
    pub kind: String,
    pub summary: String,
    pub accept: Accept,
    /// The recurring amount the subscription keeps if it is taken.
    pub saves: Money,
}

/// The call that takes an offer: `tool` with `arguments`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Accept {
    pub tool: String,
    pub arguments: Value,
}

/// An offer being taken, as the accepting tool's preview keeps it (for the log line once
/// it is done).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Taken {
    pub offer: String,
    pub saves: Money,
}

/// The `offer` argument of the tools that take one: the offer's id as the cancel preview
/// gave it.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(transparent)]
pub struct OfferId(
    /// The `id` of an offer in `cancel_subscription`'s preview, when this call takes it.
    pub String,
);

impl OfferId {
    pub fn check(&self) -> Result<(), ApiError> {
        let ok = !self.0.is_empty()
            && self.0.len() <= 120
            && self
                .0
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "_-.".contains(c));
        if ok {
            Ok(())
        } else {
            Err(ApiError::invalid_request(
                "Invalid field `offer`: must be an offer id from cancel_subscription's preview.",
            )
            .with_reason("invalid_field"))
        }
    }
}

fn reason_key(reason: CancelFeedback) -> String {
    json!(reason).as_str().unwrap_or("other").to_string()
}

/// The offers for cancelling `sub` for `reason` that this customer could take now.
pub(crate) async fn offers(
    call: &Call<'_>,
    sub: &Subscription,
    plan: &str,
    reason: Option<CancelFeedback>,
) -> Result<Vec<Offer>, ApiError> {
    let policy = &call.tenant.policy;
    let Some(reason) = reason else {
        return Ok(Vec::new());
    };
    let configured = policy.retention_for(&reason_key(reason));
    if configured.is_empty() {
        return Ok(Vec::new());
    }
    let downgrades = configured.iter().filter_map(|o| match o {
        RetentionOffer::Downgrade { price } => Some(price.clone()),
        _ => None,
    });
    let prices = futures::future::join_all(
        downgrades
            .map(|id| async move { call.stripe.get(&api::price(&id)).await.ok() })
            .collect::<Vec<_>>(),
    );
    let (history, prices) = futures::join!(
        call.app
            .ledger
            .history(&call.tenant.tenant, call.customer_id),
        prices
    );
    let history = history?;
    let prices: Vec<_> = prices.into_iter().flatten().collect();
    let now = now_unix();
    // Whole days, so the same offer is made on the preview and on its confirmation.
    let today = now.div_euclid(DAY) * DAY;
    let allowed = |act: &Act| {
        matches!(
            policy::judge(policy, &history, act, "offer", now, call.dates),
            Verdict::Allow
        )
    };
    let keeps = sub.amount();
    let period_end = sub.items.data.first().and_then(|i| i.current_period_end);
    let mut out = Vec::new();
    for offer in configured {
        match offer {
            RetentionOffer::Pause { days } => {
                let until = today + (days + 1) * DAY;
                let act = Act::Pause {
                    subscription: sub.id.clone(),
                    until,
                    renewal: None,
                };
                if sub.billed_yearly() || sub.pause_collection.is_some() || !allowed(&act) {
                    continue;
                }
                out.push(Offer {
                    id: format!("pause_{days}d"),
                    kind: "pause".into(),
                    summary: format!(
                        "Pause payments for {days} days instead, until {}; your {plan} plan stays as it is.",
                        call.dates.date(until)
                    ),
                    accept: Accept {
                        tool: PauseSubscription::NAME.into(),
                        arguments: json!({"subscription_id": sub.id, "resumes_at": rfc3339(until),
                                          "offer": format!("pause_{days}d")}),
                    },
                    saves: keeps.clone(),
                });
            }
            RetentionOffer::Discount { code } => {
                let act = Act::Code {
                    subscription: sub.id.clone(),
                    code: code.clone(),
                    existing: sub.discounts.len() as u32,
                    retention: true,
                };
                if !allowed(&act) {
                    continue;
                }
                let id = format!("discount_{}", code.to_ascii_lowercase());
                out.push(Offer {
                    id: id.clone(),
                    kind: "discount".into(),
                    summary: format!("Stay on your {plan} plan with the code {code} applied."),
                    accept: Accept {
                        tool: ApplyCoupon::NAME.into(),
                        arguments: json!({"code": code, "subscription_id": sub.id, "offer": id}),
                    },
                    saves: keeps.clone(),
                });
            }
            RetentionOffer::Downgrade { price } => {
                let Some(p) = prices.iter().find(|p| &p.id == price) else {
                    continue;
                };
                let amount = p.unit_amount.unwrap_or(0);
                let current = sub.items.data.iter().any(|i| &i.price.id == price);
                let cheaper = p.currency.eq_ignore_ascii_case(&sub.currency)
                    && amount < sub.recurring_amount();
                let act = Act::PlanChange {
                    subscription: sub.id.clone(),
                    price: price.clone(),
                    period: PeriodRef {
                        subscription: sub.id.clone(),
                        end: period_end.unwrap_or(0),
                    },
                    credit: 0,
                };
                if current || !cheaper || !p.active || !allowed(&act) {
                    continue;
                }
                let interval = p
                    .recurring
                    .as_ref()
                    .map(|r| format!("/{}", r.interval))
                    .unwrap_or_default();
                let kept = Money::new(amount, &p.currency);
                let id = format!("downgrade_{price}");
                out.push(Offer {
                    id: id.clone(),
                    kind: "downgrade".into(),
                    summary: format!(
                        "Switch to the {}{interval} plan instead of cancelling.",
                        kept.formatted
                    ),
                    accept: Accept {
                        tool: ChangePlan::NAME.into(),
                        arguments: json!({"price_id": price, "subscription_id": sub.id, "offer": id}),
                    },
                    saves: kept,
                });
            }
        }
    }
    Ok(out)
}

/// Offers shown with a cancel preview.
pub(crate) fn shown(call: &Call<'_>, subscription: &str, offers: &[Offer]) {
    if offers.is_empty() {
        return;
    }
    let ids: Vec<&str> = offers.iter().map(|o| o.id.as_str()).collect();
    tracing::info!(target: "retention", event = "retention_shown", tenant = %call.tenant.tenant,
        customer = %call.customer_id, subscription, offers = %ids.join(","), "retention");
}

/// A cancellation confirmed although offers were shown.
pub(crate) fn declined(call: &Call<'_>, subscription: &str, offers: &[Offer]) {
    if offers.is_empty() {
        return;
    }
    let ids: Vec<&str> = offers.iter().map(|o| o.id.as_str()).collect();
    tracing::info!(target: "retention", event = "retention_declined", tenant = %call.tenant.tenant,
        customer = %call.customer_id, subscription, offers = %ids.join(","), "retention");
}

/// An offer taken (its write done): the recurring amount kept, for the monthly
/// saved-revenue query.
pub(crate) fn accepted(call: &Call<'_>, subscription: &str, taken: &Taken) {
    tracing::info!(target: "retention", event = "retention_accepted", tenant = %call.tenant.tenant,
        customer = %call.customer_id, subscription, offer = %taken.offer,
        saved_amount = taken.saves.amount, currency = %taken.saves.currency, "retention");
}
