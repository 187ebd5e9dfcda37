//! `change_plan` (W): to a price the tenant allows (the same rule as
//! `get_available_plans`), previewed with `create_preview` at a fixed `proration_date`; the
//! commit reuses that date and proration behaviour, so the visitor pays what they were
//! shown. Only to a price the tenant lists in `allowed_prices` (none listed: no plan
//! change). The policy holds the rest: at most `policy.plan_changes_per_month` per customer
//! per calendar month, and never in a period whose payment was refunded.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::retention::{self, OfferId, Taken};
use super::{current, nothing, taken_offer};
use crate::billing::money;
use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::{Act, PeriodRef};
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::{PriceId, SubscriptionId};
use crate::stripe::types::{Expandable, Invoice};
use crate::stripe::writes::{
    InvoicePreview, ItemChange, ProrationBehavior, SubscriptionDetails, SubscriptionUpdate,
};
use crate::timefmt::{self, now_unix, rfc3339};

#[derive(Default)]
pub struct ChangePlan;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ChangePlanArgs {
    /// The plan to move to: a `price_id` from `get_available_plans`.
    pub price_id: PriceId,
    /// The subscription to change (`sub_...`); default: the visitor's current one.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// The id of the retention offer this call takes, as `cancel_subscription`'s preview
    /// gave it in `offers[].accept.arguments` (counts the save).
    #[serde(default)]
    pub offer: Option<OfferId>,
}

/// What `change_plan` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct PlanChangePreview {
    pub subscription_id: String,
    pub from: PlanFrom,
    pub to: PlanTo,
    /// When the proration is counted from (RFC 3339).
    pub effective: Option<String>,
    /// Charged (positive) or credited (negative) for the rest of this period.
    pub proration: Money,
    pub next_invoice: NextInvoice,
    /// The retention offer this takes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<Taken>,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PlanFrom {
    pub price_id: String,
    pub name: String,
    pub price: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct PlanTo {
    pub price_id: String,
    pub name: String,
    pub amount: Money,
    pub interval: String,
}

#[derive(Debug, Serialize, Deserialize)]
pub struct NextInvoice {
    pub amount_due: Money,
    pub date: Option<String>,
}

/// Stripe's default: credit unused time, charge the rest of the period on the next invoice.
const PRORATION: ProrationBehavior = ProrationBehavior::CreateProrations;

fn refuse(reason: &str, message: &str) -> ApiError {
    ApiError::invalid_request(message).with_reason(reason)
}

/// What Stripe's preview said the change costs.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
struct Quote {
    /// The proration lines' sum: positive is charged, negative credited.
    prorated: i64,
    amount_due: i64,
    next_date: i64,
}

impl Quote {
    fn of(invoice: &Invoice) -> Self {
        Self {
            prorated: invoice
                .lines
                .as_ref()
                .map(|l| {
                    l.data
                        .iter()
                        .filter(|x| x.is_proration())
                        .map(|x| x.amount)
                        .sum()
                })
                .unwrap_or(0),
            amount_due: invoice.amount_due,
            next_date: invoice.next_payment_attempt.unwrap_or(invoice.created),
        }
    }
}

impl WriteTool for ChangePlan {
    const NAME: &'static str = "change_plan";
    const DESCRIPTION: &'static str = "Moves the visitor's subscription to another plan (a price_id from get_available_plans), with the prorated amount shown first.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Subscriptions,
        Need::Prices,
        Need::InvoicePreview,
        Need::SubscriptionUpdate,
    ];
    type Args = ChangePlanArgs;
    type Preview = PlanChangePreview;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        args.offer.as_ref().map(OfferId::check).transpose()?;
        Ok(())
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        let allowed = &call.tenant.allowed_prices;
        if allowed.is_empty() {
            return Err(ApiError::policy_denied(
                "no_prices_allowed",
                "Plans can't be changed here; a person from our support team can help.",
            ));
        }
        if !allowed.iter().any(|p| args.price_id == *p) {
            return Err(ApiError::policy_denied(
                "price_not_allowed",
                "That plan isn't one offered here; get_available_plans lists the ones that are.",
            ));
        }
        let price = api::price(&args.price_id).expand("product");
        let (sub, price) = futures::join!(
            current(call, args.subscription_id.as_deref()),
            call.stripe.get(&price),
        );
        let Some((sub, from_name)) = sub? else {
            return Ok(Plan::Instead(nothing(
                "You don't have an active subscription to change; a new one starts from the billing portal.",
            )));
        };
        let price = price.map_err(|e| {
            if e.is_missing() {
                refuse(
                    "price_unavailable",
                    "Invalid field `price_id`: no such plan.",
                )
            } else {
                ApiError::from(e)
            }
        })?;
        let product_active = match &price.product {
            Expandable::Object(p) => p.active,
            Expandable::Id(_) => true,
        };
        if !price.active || !product_active || price.recurring.is_none() {
            return Err(refuse(
                "price_unavailable",
                "Invalid field `price_id`: that plan is not available any more.",
            ));
        }
        let [item] = sub.items.data.as_slice() else {
            return Ok(Plan::Instead(nothing(
                "Your subscription has several parts, so it can only be changed in the billing portal.",
            )));
        };
        if item.price.id == price.id {
            return Err(refuse(
                "same_price",
                "Invalid field `price_id`: you are already on that plan.",
            ));
        }
        if price.currency != sub.currency {
            return Err(refuse(
                "currency_mismatch",
                "Invalid field `price_id`: that plan is billed in another currency, which a subscription can't switch to.",
            ));
        }
        let to_name = match &price.product {
            Expandable::Object(p) => p.name.clone(),
            Expandable::Id(_) => price
                .nickname
                .clone()
                .unwrap_or_else(|| "the new plan".into()),
        };
        // The same second for the preview and the commit: the same proration to the cent.
        let proration_date = pins
            .and_then(|p| p["proration_date"].as_i64())
            .unwrap_or_else(now_unix);
        // What the quote depends on besides the two prices. While it is as the proposal saw
        // it, the confirmed call reuses the proposal's quote instead of asking Stripe again.
        let basis = json!({
            "period_end": item.current_period_end, "quantity": item.quantity,
            "discounts": sub.discounts.iter().map(Expandable::id).collect::<Vec<_>>(),
        });
        let moved = ItemChange {
            id: item.id.clone(),
            price: price.id.clone(),
        };
        let pinned = pins
            .filter(|p| p["basis"] == basis)
            .and_then(|p| serde_json::from_value::<Quote>(p["quote"].clone()).ok());
        let quote = match pinned {
            Some(q) => q,
            None => {
                let preview = api::preview_invoice(
                    call.customer_id,
                    &InvoicePreview {
                        subscription: Some(sub.id.clone()),
                        subscription_details: Some(SubscriptionDetails {
                            items: vec![moved.clone()],
                            proration_date: Some(proration_date),
                            proration_behavior: Some(PRORATION),
                        }),
                        ..Default::default()
                    },
                );
                let key = format!("{}:plan-preview", call.request_id);
                Quote::of(&call.stripe.post(&preview, &key).await?)
            }
        };
        let Quote {
            prorated,
            amount_due,
            next_date,
        } = quote;
        let cur = sub.currency.clone();
        let new_amount = price.unit_amount.unwrap_or(0) * item.quantity.unwrap_or(1) as i64;
        let interval = price
            .recurring
            .as_ref()
            .map(|r| r.interval.clone())
            .unwrap_or_default();
        let proration_words = match prorated {
            0 => String::new(),
            p if p > 0 => format!(
                ", which includes {} for the rest of this period on the new plan",
                money(p, &cur)
            ),
            p => format!(
                ", after {} of credit for the unused part of this period",
                money(-p, &cur)
            ),
        };
        Ok(Plan::Change {
            preview: PlanChangePreview {
                taken: taken_offer(
                    call,
                    args.offer.as_ref(),
                    &format!("downgrade_{}", price.id),
                    Money::new(new_amount, &cur),
                )?,
                subscription_id: sub.id.clone(),
                from: PlanFrom {
                    price_id: item.price.id.clone(),
                    name: from_name.clone(),
                    price: sub.price_phrase(),
                },
                to: PlanTo {
                    price_id: price.id.clone(),
                    name: to_name.clone(),
                    amount: Money::new(new_amount, &cur),
                    interval: interval.clone(),
                },
                effective: rfc3339(proration_date),
                proration: Money::new(prorated, &cur),
                next_invoice: NextInvoice {
                    amount_due: Money::new(amount_due, &cur),
                    date: rfc3339(next_date),
                },
            },
            summary: format!(
                "This will move you from {from_name} ({}) to {to_name} ({}/{interval}) now. Your next invoice, on {}, will be {}{proration_words}.",
                sub.price_phrase(),
                money(new_amount, &cur),
                call.dates.date(next_date),
                money(amount_due, &cur),
            ),
            change: api::update_subscription(
                &sub.id,
                &SubscriptionUpdate {
                    items: vec![moved],
                    proration_behavior: Some(PRORATION),
                    proration_date: Some(proration_date),
                    ..Default::default()
                },
            )
            .untyped(),
            then: Vec::new(),
            act: Act::PlanChange {
                subscription: sub.id.clone(),
                price: price.id.clone(),
                period: PeriodRef {
                    subscription: sub.id.clone(),
                    end: item.current_period_end.unwrap_or(0),
                },
                credit: prorated.min(0).unsigned_abs(),
            },
            pins: json!({"proration_date": proration_date, "basis": basis, "quote": quote}),
        })
    }

    fn done(&self, call: &Call<'_>, preview: &PlanChangePreview, _sent: &[Value]) -> Answer {
        if let Some(taken) = &preview.taken {
            retention::accepted(call, &preview.subscription_id, taken);
        }
        let (to, next) = (&preview.to, &preview.next_invoice);
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview.subscription_id,
                "plan": to, "proration": preview.proration,
                "next_invoice": next,
            }),
            summary: format!(
                "Done: you're now on {} ({}/{}). Your next invoice, on {}, will be {}.",
                to.name,
                to.amount.formatted,
                to.interval,
                call.dates
                    .maybe(next.date.as_deref().and_then(timefmt::parse)),
                next.amount_due.formatted,
            ),
        }
    }
}
