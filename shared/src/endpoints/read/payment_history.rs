//! `get_payment_history`: the visitor's payments (charges), with receipts and the card.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{check_range, missing_customer};
use crate::billing::money::Money;
use crate::billing::views::{charge_failure, charged_card};
use crate::billing::{Dates, charge_card_phrase};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::types::Charge;
use crate::stripe::types::ChargeStatus;
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct GetPaymentHistory;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PaymentHistoryArgs {
    /// How many payments, newest first (1 to 24, default 5).
    #[serde(default)]
    #[schemars(range(min = 1, max = 24))]
    pub limit: Option<u32>,
}

impl Tool for GetPaymentHistory {
    const NAME: &'static str = "get_payment_history";
    const DESCRIPTION: &'static str = "The visitor's payments, newest first: amount, status, date, receipt link, card brand and last 4, and any refunded amount.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Charges];
    type Args = PaymentHistoryArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        check_range("limit", args.limit, 1, 24)
    }

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let req = api::charges(call.customer_id).limit(args.limit.unwrap_or(5));
        let list = call.stripe.get(&req).await.map_err(missing_customer)?;
        let views: Vec<Value> = list.data.iter().map(view).collect();
        Ok(Answer {
            data: json!({"payments": views, "has_more": list.has_more}),
            summary: summarize(&list.data, call.dates),
        })
    }
}

fn view(c: &Charge) -> Value {
    let card = c
        .payment_method_details
        .as_ref()
        .and_then(|d| d.card.as_ref())
        .and_then(charged_card);
    json!({
        "id": c.id,
        "amount": Money::new(c.amount, &c.currency),
        "status": c.status,
        "created": rfc3339(c.created),
        "description": c.description,
        "receipt_url": c.receipt_url,
        "card": card,
        "refunded": Money::new(c.amount_refunded, &c.currency),
        "fully_refunded": c.refunded,
        "failure_message": c.failure_message,
        "failure_reason": (c.status == ChargeStatus::Failed).then(|| charge_failure(c)),
    })
}

/// Why a failed charge failed, in plain words, from Stripe's codes.
fn summarize(charges: &[Charge], dates: &Dates) -> String {
    let Some(last) = charges.first() else {
        return "We don't have any payments from you yet.".into();
    };
    let card = charge_card_phrase(last)
        .map(|p| format!(" with your {p}"))
        .unwrap_or_default();
    let amount = Money::new(last.amount, &last.currency).formatted;
    let when = dates.date(last.created);
    let mut s = match last.status.as_str() {
        "succeeded" => format!("Your last payment was {amount} on {when}{card}."),
        "failed" => format!(
            "Your last payment attempt of {amount} on {when}{card} failed: {}.",
            charge_failure(last)
        ),
        other => format!("Your last payment of {amount} on {when}{card} is {other}."),
    };
    if last.amount_refunded > 0 {
        s.push_str(&format!(
            " {} of it was refunded.",
            Money::new(last.amount_refunded, &last.currency).formatted
        ));
    }
    s
}
