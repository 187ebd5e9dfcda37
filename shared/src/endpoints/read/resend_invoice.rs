//! `resend_invoice`: Stripe can email only an open `send_invoice` invoice; for any other
//! the answer is its links.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::owned_or;
use crate::billing::money::Money;
use crate::billing::views::invoice;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::InvoiceId;
use crate::stripe::types::InvoiceStatus;
use crate::timefmt::now_unix;

#[derive(Default)]
pub struct ResendInvoice;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ResendInvoiceArgs {
    /// The visitor's invoice (`in_...`).
    pub invoice_id: InvoiceId,
}

/// A repeated request for the same invoice within this window is one email, not several.
const RESEND_WINDOW_SECS: i64 = 600;

impl Tool for ResendInvoice {
    const NAME: &'static str = "resend_invoice";
    const DESCRIPTION: &'static str = "Emails one of the visitor's open invoices again where Stripe can (invoices sent for manual payment); otherwise gives its hosted and PDF links.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Invoices, Need::InvoiceSend];
    const READ_ONLY: bool = false;
    type Args = ResendInvoiceArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let inv = call
            .stripe
            .get(&api::invoice(&args.invoice_id))
            .await
            .map_err(owned_or("invoice"))?;
        if inv.customer.as_deref() != Some(call.customer_id) {
            return Err(ApiError::not_owner("invoice"));
        }
        let sendable = inv.status == Some(InvoiceStatus::Open)
            && inv.collection_method.as_deref() == Some("send_invoice");
        let number = inv.number.clone().unwrap_or_else(|| inv.id.clone());
        if !sendable {
            let link = inv
                .hosted_invoice_url
                .as_deref()
                .unwrap_or("your billing portal");
            return Ok(Answer {
                data: json!({"sent": false, "invoice": invoice(&inv)}),
                summary: format!(
                    "Invoice {number} can't be emailed again, but you can view or download it here: {link}"
                ),
            });
        }
        let window = now_unix() / RESEND_WINDOW_SECS;
        let key = format!("resend:{}:{}:{window}", call.tenant.tenant, inv.id);
        let sent = call.stripe.post(&api::send_invoice(&inv.id), &key).await?;
        Ok(Answer {
            data: json!({"sent": true, "invoice": invoice(&sent)}),
            summary: format!(
                "We've emailed invoice {number} ({} due) to your billing email again.",
                Money::new(sent.amount_remaining, &sent.currency).formatted
            ),
        })
    }
}
