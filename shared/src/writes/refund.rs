//! `request_refund` (W): a charge of the visitor's (named directly or by its payment
//! intent), whole or in part, within the tenant's window and caps: at most
//! `refund_max_per_30_days` per customer and currency in any 30 days, `refunds_per_hour`
//! per tenant in any hour, both reserved when the confirmation is claimed and given back if
//! Stripe refuses. Never a disputed, failed or fully refunded charge.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::billing::{charge_card_phrase, money};
use crate::error::ApiError;
use crate::ledger::Bound;
use crate::money::Money;
use crate::stripe::api;
use crate::stripe::types::{Charge, Expandable};
use crate::timefmt::{now_unix, rfc3339};
use crate::tool::{Answer, Call};
use crate::tools::check_id;
use crate::tools::common::owned_or;
use crate::write::{Plan, WriteTool};

#[derive(Default)]
pub struct RequestRefund;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    RequestedByCustomer,
    Duplicate,
}

impl RefundReason {
    fn as_str(self) -> &'static str {
        match self {
            RefundReason::RequestedByCustomer => "requested_by_customer",
            RefundReason::Duplicate => "duplicate",
        }
    }
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RefundArgs {
    /// The payment to refund: a charge (`ch_...`) or payment intent (`pi_...`) from
    /// `get_payment_history`.
    pub payment_id: String,
    /// How much, in the currency's minor unit (cents); default: all that is left.
    #[serde(default)]
    #[schemars(range(min = 1))]
    pub amount: Option<i64>,
    /// Why: `requested_by_customer` (default) or `duplicate`.
    #[serde(default)]
    pub reason: Option<RefundReason>,
}

const DAY: i64 = 86_400;

fn refuse(reason: &str, message: &str) -> ApiError {
    ApiError::policy_denied(reason, message)
}

impl WriteTool for RequestRefund {
    const NAME: &'static str = "request_refund";
    const DESCRIPTION: &'static str = "Refunds one of the visitor's payments (a payment_id from get_payment_history), all of it or an amount, within the merchant's refund policy.";
    type Args = RefundArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        let prefix = if args.payment_id.starts_with("pi_") {
            "pi_"
        } else {
            "ch_"
        };
        check_id("payment_id", &args.payment_id, prefix)?;
        if args.amount.is_some_and(|a| !(1..=99_999_999).contains(&a)) {
            return Err(ApiError::invalid_request(
                "Invalid field `amount`: must be a whole number of the currency's smallest unit (cents), at least 1.",
            )
            .with_reason("invalid_field"));
        }
        Ok(())
    }

    fn bounds(&self, call: &Call<'_>, _args: &Self::Args, preview: &Value) -> Vec<Bound> {
        let p = &call.tenant.policy;
        let amount = preview["amount"]["amount"].as_u64().unwrap_or(u64::MAX);
        let currency = preview["amount"]["currency"].as_str().unwrap_or("-");
        vec![
            Bound::rolling(
                format!("refund_total#{}#{currency}", call.customer_id),
                p.refund_max_per_30_days,
                amount,
                30 * DAY,
                "refund_cap_exceeded",
                format!(
                    "Refunds here are limited to {} in any 30 days, so a person from our support team will look at this one with you.",
                    money(p.refund_max_per_30_days as i64, currency)
                ),
            ),
            Bound::rolling(
                "refunds_per_hour".into(),
                p.refunds_per_hour,
                1,
                3600,
                "refund_rate_exceeded",
                "We can't make more refunds automatically right now, so a person from our support team will take this one over.".into(),
            ),
        ]
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan, ApiError> {
        let charge = charge_of(call, &args.payment_id).await?;
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
        if charge.status != "succeeded" {
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
        let window = call.tenant.policy.refund_window_days;
        if charge.created < now_unix() - window * DAY {
            return Err(refuse(
                "refund_window_passed",
                &format!(
                    "Payments can be refunded here within {window} days; this one is older, so a person from our support team will look at it with you."
                ),
            ));
        }
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
        Ok(Plan::Change {
            preview: json!({
                "payment_id": args.payment_id, "charge": charge.id,
                "amount": Money::new(amount, &cur),
                "payment": {"amount": Money::new(charge.amount, &cur), "created": rfc3339(charge.created),
                            "refunded_before": Money::new(charge.amount_refunded, &cur)},
                "left_after": Money::new(left - amount, &cur),
                "reason": reason.as_str(), "card": card,
            }),
            summary: format!(
                "This will refund {part} from {}{on_card}.",
                call.dates.date(charge.created)
            ),
            change: api::create_refund()
                .set("charge", &charge.id)
                .set("amount", amount)
                .set("reason", reason.as_str())
                .untyped(),
            pins: json!({}),
        })
    }

    fn done(&self, _call: &Call<'_>, preview: &Value, stripe: &Value) -> Answer {
        let amount = preview["amount"]["formatted"].as_str().unwrap_or_default();
        let on_card = preview["card"]
            .as_str()
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
        Answer {
            data: json!({
                "refunded": status != "failed" && status != "canceled",
                "refund": {"id": stripe["id"], "status": status, "amount": preview["amount"]},
                "charge": preview["charge"], "left_to_refund": preview["left_after"],
            }),
            summary,
        }
    }
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
