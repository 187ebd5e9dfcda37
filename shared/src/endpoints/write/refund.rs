//! `request_refund` (W): a charge of the visitor's (named directly or by its payment
//! intent), whole or in part, within the tenant's window and caps: the customer's (30-day
//! total, refunds per hour) are the policy's, on the customer's history; the tenant's
//! `refunds_per_hour` is a bound here, counted after the customer's. All are reserved when
//! the confirmation is claimed and given back if Stripe refuses. Never a disputed, failed or
//! fully refunded charge. A full refund of the payment for a subscription's current period
//! ends that subscription's service too (`policy.refund_current_period`), so the period is
//! never paid for twice.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::billing::money::Money;
use crate::billing::{charge_card_phrase, money};
use crate::endpoints::read::common::{missing_customer, owned_or};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::{Act, PeriodRef};
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::ports::ledger::Bound;
use crate::ports::tenants::RefundCurrentPeriod;
use crate::stripe::api::Need;
use crate::stripe::api::{self, Change};
use crate::stripe::ids::PaymentId;
use crate::stripe::types::ChargeStatus;
use crate::stripe::types::{Charge, Expandable, Invoice, List, Subscription};
use crate::stripe::writes::{RefundCreate, SubscriptionUpdate};
use crate::timefmt::{now_unix, rfc3339};

#[derive(Default)]
pub struct RequestRefund;

pub use crate::stripe::writes::RefundReason;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundArgs {
    /// The payment to refund: a charge (`ch_...`) or payment intent (`pi_...`) from
    /// `get_payment_history`.
    pub payment_id: PaymentId,
    /// How much, in the currency's minor unit (cents); default: all that is left.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub amount: Option<i64>,
    /// Why: `requested_by_customer` (default) or `duplicate`.
    #[serde(default)]
    pub reason: Option<RefundReason>,
}

fn refuse(reason: &str, message: &str) -> ApiError {
    ApiError::policy_denied(reason, message)
}

/// What `request_refund` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct RefundPreview {
    pub payment_id: String,
    pub charge: String,
    pub amount: Money,
    pub payment: PaymentShown,
    pub left_after: Money,
    pub reason: RefundReason,
    /// "Visa ending 4242", when Stripe shows the card.
    pub card: Option<String>,
    /// The subscription whose current period the payment paid, when the refund ends it.
    pub ends_subscription: Option<EndsSubscription>,
}

/// The payment being refunded, as it stands.
#[derive(Debug, Serialize, Deserialize)]
pub struct PaymentShown {
    pub amount: Money,
    pub created: Option<String>,
    pub refunded_before: Money,
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct EndsSubscription {
    pub subscription_id: String,
    pub plan: String,
    pub ends: Ends,
    pub access_ends_at: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Ends {
    Now,
    AtPeriodEnd,
}

impl WriteTool for RequestRefund {
    const NAME: &'static str = "request_refund";
    const DESCRIPTION: &'static str = "Refunds one of the visitor's payments (a payment_id from get_payment_history), all of it or an amount, within the merchant's refund policy.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Charge,
        Need::PaymentIntent,
        Need::Invoices,
        Need::Subscriptions,
        Need::RefundCreate,
        Need::SubscriptionUpdate,
    ];
    type Args = RefundArgs;
    type Preview = RefundPreview;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        if args.amount.is_some_and(|a| !(1..=99_999_999).contains(&a)) {
            return Err(ApiError::invalid_request(
                "Invalid field `amount`: must be a whole number of the currency's smallest unit (cents), at least 1.",
            )
            .with_reason("invalid_field"));
        }
        Ok(())
    }

    fn bounds(&self, call: &Call<'_>, _args: &Self::Args, _preview: &RefundPreview) -> Vec<Bound> {
        vec![Bound::rolling(
            "refunds_per_hour".into(),
            call.tenant.policy.refunds_per_hour,
            1,
            3600,
            "refund_rate_exceeded",
            "We can't make more refunds automatically right now, so a person from our support team will take this one over.".into(),
        )]
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        // What the payment paid for (the customer's recent paid invoices with their
        // payments) and the live subscriptions, asked beside the charge: knowing which period
        // is being refunded costs no round trip.
        // A refundable payment is recent: it is almost always among the last few paid.
        let invoices = api::invoices(call.customer_id)
            .set("status", "paid")
            .limit(3)
            .expand("data.payments");
        let subs = api::subscriptions(call.customer_id).limit(10);
        let (charge, invoices, subs) = futures::join!(
            charge_of(call, &args.payment_id),
            call.stripe.get(&invoices),
            call.stripe.get(&subs)
        );
        let charge = charge?;
        if charge.customer.as_deref() != Some(call.customer_id) {
            return Err(ApiError::not_owner("payment"));
        }
        let cur = charge.currency.clone();
        if charge.disputed {
            return Err(refuse(
                "charge_disputed",
                "That payment is disputed with the bank, so it can't be refunded here; a person from our support team will help.",
            ));
        }
        if charge.status != ChargeStatus::Succeeded {
            return Err(refuse(
                "charge_not_refundable",
                "That payment didn't go through, so there is nothing to refund.",
            ));
        }
        let left = charge.amount - charge.amount_refunded;
        if left <= 0 {
            return Err(refuse(
                "already_refunded",
                "That payment has already been refunded in full.",
            ));
        }
        // The refund window is the policy's (judged with the rest of the customer's
        // refunds), so a person can lift it where the tenant allows approvals.
        let amount = args.amount.unwrap_or(left);
        if amount > left {
            return Err(ApiError::invalid_request(format!(
                "Invalid field `amount`: at most {} of that payment is left to refund.",
                money(left, &cur)
            ))
            .with_reason("amount_too_large"));
        }
        let reason = args.reason.unwrap_or(RefundReason::RequestedByCustomer);
        let card = charge_card_phrase(&charge);
        let on_card = card
            .as_deref()
            .map(|c| format!(" to your {c}"))
            .unwrap_or_default();
        let part = if amount == charge.amount {
            format!("your {} payment", money(amount, &cur))
        } else {
            format!(
                "{} of your {} payment",
                money(amount, &cur),
                money(charge.amount, &cur)
            )
        };
        // Whose current period this payment paid, and what becomes of that service.
        let invoices = invoices.map_err(missing_customer)?;
        let subs = subs.map_err(missing_customer)?;
        let period = paid_period(call, &charge, invoices).await?;
        let now = now_unix();
        // The subscription whose current period this payment paid for, if it still runs.
        let current = match &period {
            Some((p, start)) if *start <= now && now < p.end => {
                live_subscription(call, &p.subscription, subs).await?
            }
            _ => None,
        };
        let paid_for = current.as_ref();
        let full = amount == left;
        let ending = match (paid_for, call.tenant.policy.refund_current_period) {
            (Some(sub), RefundCurrentPeriod::CancelNow) if full => Some((sub, true)),
            (Some(sub), RefundCurrentPeriod::CancelAtPeriodEnd)
                if full && sub.scheduled_cancel().is_none() =>
            {
                Some((sub, false))
            }
            _ => None,
        };
        let (then, service) = match ending {
            None => (Vec::new(), None),
            Some((sub, now)) => {
                let names = call
                    .app
                    .catalog
                    .of_subscriptions(&call.tenant.tenant, call.stripe, std::slice::from_ref(sub))
                    .await?;
                let plan = sub.plan_name(&names);
                let end = sub.period_end();
                let (change, words): (Change, String) = if now {
                    (
                        api::cancel_subscription_now(&sub.id).untyped(),
                        format!(
                            " Because it paid for the current period of your {plan} plan, your {plan} plan ends now too."
                        ),
                    )
                } else {
                    (
                        api::update_subscription(
                            &sub.id,
                            &SubscriptionUpdate {
                                cancel_at_period_end: Some(true),
                                ..Default::default()
                            },
                        )
                        .untyped(),
                        format!(
                            " Because it paid for the current period of your {plan} plan, your {plan} plan ends on {} and won't renew.",
                            call.dates.maybe(end)
                        ),
                    )
                };
                let ends_at = if now { Some(now_unix()) } else { end };
                (
                    vec![change],
                    Some((
                        EndsSubscription {
                            subscription_id: sub.id.clone(),
                            plan: plan.clone(),
                            ends: if now { Ends::Now } else { Ends::AtPeriodEnd },
                            access_ends_at: if now { None } else { end.and_then(rfc3339) },
                        },
                        words,
                        ends_at,
                    )),
                )
            }
        };
        let period = period.map(|(p, _)| p);
        let (ends_service, words) = match &service {
            Some((view, words, _)) => (Some(view.clone()), words.clone()),
            None => (None, String::new()),
        };
        Ok(Plan::Change {
            preview: RefundPreview {
                payment_id: args.payment_id.to_string(),
                charge: charge.id.clone(),
                amount: Money::new(amount, &cur),
                payment: PaymentShown {
                    amount: Money::new(charge.amount, &cur),
                    created: rfc3339(charge.created),
                    refunded_before: Money::new(charge.amount_refunded, &cur),
                },
                left_after: Money::new(left - amount, &cur),
                reason,
                card,
                ends_subscription: ends_service,
            },
            summary: format!(
                "This will refund {part} from {}{on_card}.{words}",
                call.dates.date(charge.created)
            ),
            change: api::create_refund(&RefundCreate {
                charge: charge.id.clone(),
                amount,
                reason,
            }),
            act: Act::Refund {
                charge: charge.id.clone(),
                amount: amount as u64,
                currency: cur.clone(),
                paid: charge.amount as u64,
                refunded_before: charge.amount_refunded as u64,
                period,
                ends_service: service.is_some(),
                charged_at: charge.created,
            },
            then,
            pins: json!({}),
        })
    }

    fn done(&self, _call: &Call<'_>, preview: &RefundPreview, sent: &[Value]) -> Answer {
        let stripe = &sent[0];
        let amount = &preview.amount.formatted;
        let on_card = preview
            .card
            .as_deref()
            .map(|c| format!(" to your {c}"))
            .unwrap_or_default();
        let status = stripe["status"].as_str().unwrap_or("pending");
        // Stripe: card refunds reach the statement in 5-10 business days
        // (https://docs.stripe.com/refunds#refund-processing-time).
        let summary = match status {
            "succeeded" => format!(
                "Done: {amount} is refunded{on_card}. Banks usually show it on the statement within 5-10 business days."
            ),
            "failed" | "canceled" => format!(
                "The refund of {amount} could not be completed; a person from our support team will follow up."
            ),
            _ => format!(
                "The refund of {amount}{on_card} is on its way; it usually reaches the statement within 5-10 business days."
            ),
        };
        let (subscription, summary) = match (sent.get(1), &preview.ends_subscription) {
            (Some(sub), Some(ended)) => {
                let plan = &ended.plan;
                let words = if ended.ends == Ends::Now {
                    format!(" Your {plan} plan has ended.")
                } else {
                    format!(" Your {plan} plan won't renew.")
                };
                (
                    json!({"id": ended.subscription_id, "status": sub["status"],
                           "cancel_at_period_end": sub["cancel_at_period_end"]}),
                    summary + &words,
                )
            }
            _ => (Value::Null, summary),
        };
        Answer {
            data: json!({
                "refunded": status != "failed" && status != "canceled",
                "refund": {"id": stripe["id"], "status": status, "amount": preview.amount},
                "charge": preview.charge, "left_to_refund": preview.left_after,
                "subscription": subscription,
            }),
            summary,
        }
    }
}

/// The subscription period the charge paid for, and when the period started: the
/// subscription line of the paid invoice it paid. Found among the customer's recent paid
/// invoices (asked beside the charge); a customer with more of them is asked about the
/// charge's own invoice instead.
async fn paid_period(
    call: &Call<'_>,
    charge: &Charge,
    recent: List<Invoice>,
) -> Result<Option<(PeriodRef, i64)>, ApiError> {
    let intent = charge.payment_intent.as_deref();
    let found = recent
        .data
        .into_iter()
        .find(|inv| inv.paid_by(intent, &charge.id));
    let invoice = match (found, intent) {
        (Some(inv), _) => Some(inv),
        (None, Some(pi)) if recent.has_more => call
            .stripe
            .get(&api::invoice_payments_of(pi).expand("data.invoice"))
            .await?
            .data
            .into_iter()
            .find_map(|p| match p.invoice {
                Some(Expandable::Object(inv)) => Some(*inv),
                _ => None,
            }),
        _ => None,
    };
    Ok(invoice.as_ref().and_then(subscription_period))
}

/// The period an invoice bills its subscription for: its subscription line's (not a
/// proration's), with the period's start.
fn subscription_period(inv: &Invoice) -> Option<(PeriodRef, i64)> {
    let sub = inv.subscription()?;
    let line = inv
        .lines
        .as_ref()?
        .data
        .iter()
        .filter(|l| !l.is_proration())
        .find_map(|l| l.period.as_ref().and_then(|p| Some((p.start?, p.end?))))?;
    Some((
        PeriodRef {
            subscription: sub.to_string(),
            end: line.1,
        },
        line.0,
    ))
}

/// The subscription, if it is still live (from the customer's list, or asked for when the
/// list had no room for it).
async fn live_subscription(
    call: &Call<'_>,
    id: &str,
    subs: List<Subscription>,
) -> Result<Option<Subscription>, ApiError> {
    let listed = subs.data.iter().find(|s| s.id == id).cloned();
    let sub = match listed {
        Some(s) => s,
        None if subs.has_more => call.stripe.get(&api::subscription(id)).await?,
        None => return Ok(None),
    };
    Ok((!sub.is_ended()).then_some(sub))
}
/// The charge behind a `ch_` or `pi_` id, or `not_owner` when it is nowhere to be found.
async fn charge_of(call: &Call<'_>, id: &str) -> Result<Charge, ApiError> {
    if id.starts_with("pi_") {
        let intent = call
            .stripe
            .get(&api::payment_intent(id).expand("latest_charge"))
            .await
            .map_err(owned_or("payment"))?;
        if intent.customer.as_deref() != Some(call.customer_id) {
            return Err(ApiError::not_owner("payment"));
        }
        return match intent.latest_charge {
            Some(Expandable::Object(c)) => Ok(*c),
            _ => Err(refuse(
                "charge_not_refundable",
                "That payment didn't go through, so there is nothing to refund.",
            )),
        };
    }
    call.stripe
        .get(&api::charge(id))
        .await
        .map_err(owned_or("payment"))
}
