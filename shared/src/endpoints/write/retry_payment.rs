//! `retry_payment` (W): pays one of the visitor's open invoices (the oldest, or the one
//! named) with the saved default card, `POST /v1/invoices/{id}/pay`. A decline is an answer,
//! not an error: said in plain words with a Billing Portal link to change the card. At most
//! 3 attempts per invoice in any 24 hours by default, declines included (a bound against
//! card testing; the tenant's `policy.retries_per_invoice_per_day`, judged by the policy on
//! the customer's history).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::nothing;
use crate::billing::money::Money;
use crate::billing::views::{CardView, InvoiceView, invoice, saved_card};
use crate::billing::{card_phrase, decline_phrase, invoice_name, money};
use crate::endpoints::read::common::{missing_customer, owned_or};
use crate::endpoints::read::fetch_customer;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::api::Need;
use crate::stripe::ids::InvoiceId;
use crate::stripe::types::Invoice;
use crate::stripe::types::InvoiceStatus;
use crate::stripe::writes::{FlowData, PortalFlow, PortalSessionCreate};
use crate::stripe::{StripeError, api};

#[derive(Default)]
pub struct RetryPayment;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RetryPaymentArgs {
    /// The open invoice to pay (`in_...`); default: the visitor's oldest unpaid one.
    #[serde(default)]
    pub invoice_id: Option<InvoiceId>,
}

/// What `retry_payment` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct RetryPreview {
    pub invoice: InvoiceView,
    pub amount: Money,
    pub card: CardView,
}

impl WriteTool for RetryPayment {
    const NAME: &'static str = "retry_payment";
    const DESCRIPTION: &'static str = "Pays one of the visitor's unpaid invoices now with their saved card (the oldest one, or invoice_id); a declined card is explained with a link to update it.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Invoices,
        Need::InvoicePay,
        Need::PortalSession,
    ];
    type Args = RetryPaymentArgs;
    type Preview = RetryPreview;

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        let (inv, customer) = futures::join!(
            unpaid(call, args.invoice_id.as_deref()),
            fetch_customer(call.stripe, call.customer_id),
        );
        let Some(inv) = inv? else {
            return Ok(Plan::Instead(nothing(
                "You have no unpaid invoice, so there is nothing to pay.",
            )));
        };
        let customer = customer?;
        if inv.status != Some(InvoiceStatus::Open) || inv.amount_remaining <= 0 {
            return Ok(Plan::Instead(nothing(format!(
                "{} has nothing left to pay.",
                invoice_name(&inv)
            ))));
        }
        let Some(card) = customer.default_card() else {
            return Ok(Plan::Instead(nothing(
                "There is no saved card to charge; you can add one with get_billing_portal_link (flow payment_method_update).",
            )));
        };
        let due = money(inv.amount_remaining, &inv.currency);
        Ok(Plan::Change {
            preview: RetryPreview {
                invoice: invoice(&inv),
                amount: Money::new(inv.amount_remaining, &inv.currency),
                card: saved_card(card),
            },
            summary: format!(
                "This will charge {due} for {} to your {} now.",
                invoice_name(&inv),
                card_phrase(&card.brand, &card.last4)
            ),
            change: api::pay_invoice(&inv.id).untyped(),
            then: Vec::new(),
            act: Act::Retry {
                invoice: inv.id.clone(),
            },
            pins: json!({}),
        })
    }

    fn done(&self, _call: &Call<'_>, preview: &RetryPreview, sent: &[Value]) -> Answer {
        let stripe = &sent[0];
        let amount = &preview.amount.formatted;
        let paid = stripe["status"] == "paid";
        Answer {
            data: json!({
                "paid": paid, "invoice": preview.invoice.id, "amount": preview.amount,
                "hosted_invoice_url": stripe["hosted_invoice_url"],
            }),
            summary: if paid {
                format!("Done: your payment of {amount} went through and the invoice is paid.")
            } else {
                format!("The payment of {amount} was sent; the invoice is not marked paid yet.")
            },
        }
    }

    async fn refused<'a>(
        &'a self,
        call: &'a Call<'a>,
        preview: &'a RetryPreview,
        e: &'a StripeError,
    ) -> Option<Answer> {
        let StripeError::Api {
            status: 402,
            code,
            decline_code,
            ..
        } = e
        else {
            return None;
        };
        let amount = &preview.amount.formatted;
        let hosted = preview.invoice.hosted_invoice_url.clone();
        if code.as_deref() == Some("invoice_payment_intent_requires_action") {
            return Some(Answer {
                data: json!({"paid": false, "requires_action": true, "hosted_invoice_url": hosted}),
                summary: format!(
                    "Your bank wants to confirm the payment of {amount}; please open the invoice to approve it: {}",
                    hosted.as_deref().unwrap_or_default()
                ),
            });
        }
        let why = decline_phrase(code.as_deref(), decline_code.as_deref());
        // Where to change the card; without it the decline is still said.
        let portal = api::portal_session(
            call.customer_id,
            &PortalSessionCreate {
                return_url: call.tenant.return_url.clone(),
                flow_data: Some(FlowData::new(PortalFlow::PaymentMethodUpdate, None, None)),
            },
        );
        let key = format!("{}:retry-portal", call.request_id);
        let url = call.stripe.post(&portal, &key).await.ok().map(|s| s.url);
        let link = url
            .as_deref()
            .map(|u| format!(" You can update your card here: {u}"))
            .unwrap_or_default();
        Some(Answer {
            data: json!({"paid": false, "declined": why, "portal_url": url,
                         "invoice": preview.invoice.id}),
            summary: format!("The payment of {amount} didn't go through: {why}.{link}"),
        })
    }
}

/// The invoice named (checked to be the visitor's), or their oldest unpaid one.
async fn unpaid(call: &Call<'_>, id: Option<&str>) -> Result<Option<Invoice>, ApiError> {
    if let Some(id) = id {
        let inv = call
            .stripe
            .get(&api::invoice(id))
            .await
            .map_err(owned_or("invoice"))?;
        if inv.customer.as_deref() != Some(call.customer_id) {
            return Err(ApiError::not_owner("invoice"));
        }
        return Ok(Some(inv));
    }
    let open = api::invoices(call.customer_id)
        .set("status", "open")
        .limit(100);
    let list = call.stripe.get(&open).await.map_err(missing_customer)?;
    Ok(list
        .data
        .into_iter()
        .filter(|i| i.amount_remaining > 0)
        .min_by_key(|i| i.created))
}
