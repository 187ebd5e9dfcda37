//! `email_invoices`: one email to the customer's billing email with the invoices of a range
//! (number, date, amount, status, PDF and hosted links), for a finance team; at most one
//! per customer per hour (a rolling hour, however many users share the customer). It
//! answers how many it listed and the address masked, never the address itself.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::fetch_customer;
use super::invoice_history::{check_listing, listed};
use crate::billing::emails::{self, InvoiceLine};
use crate::billing::money::Money;
use crate::billing::{invoice_name, sentence_case};
use crate::error::ApiError;
use crate::pipeline::args::parse_arg;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::pipeline::notify;
use crate::ports::audit::mask_email;
use crate::stripe::api::Need;
use crate::timefmt::now_unix;

#[derive(Default)]
pub struct EmailInvoices;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct EmailInvoicesArgs {
    /// Only invoices created at or after this time (RFC 3339, e.g. `2026-09-01T00:00:00Z`).
    #[serde(default)]
    pub since: Option<String>,
    /// How many invoices at most, newest first (1 to 24, default 12).
    #[serde(default)]
    #[schemars(range(min = 1, max = 24))]
    pub limit: Option<u32>,
}

/// One bundle per customer in any hour.
pub const BUNDLE_WINDOW_SECS: i64 = 3600;

impl Tool for EmailInvoices {
    const NAME: &'static str = "email_invoices";
    const DESCRIPTION: &'static str = "Emails the visitor's invoices of a range (since, limit) in one message to their billing email, for their finance team: number, amount, status, PDF and hosted links. At most one per hour.";
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Invoices];
    const READ_ONLY: bool = false;
    type Args = EmailInvoicesArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        check_listing(args.limit, args.since.as_deref())
    }

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let Some(sender) = notify::sender(call.tenant) else {
            return Err(ApiError::policy_denied(
                "email_off",
                "I can't email invoices for this account; I can show them here with their links instead.",
            ));
        };
        let since = args
            .since
            .as_deref()
            .map(|s| parse_arg("since", s))
            .transpose()?;
        let limit = args.limit.unwrap_or(12) as usize;
        let (listed, customer) = futures::join!(
            listed(call, limit, since),
            fetch_customer(call.stripe, call.customer_id)
        );
        let (invoices, _) = listed?;
        let Some(to) = customer?.email.filter(|e| e.contains('@')) else {
            return Err(ApiError::not_found(
                "There is no billing email on your account to send them to; you can add one and ask again.",
            )
            .with_reason("no_billing_email"));
        };
        let masked = mask_email(&to);
        if invoices.is_empty() {
            return Ok(Answer {
                data: json!({"count": 0, "sent": false, "to": masked}),
                summary: "You have no invoices in that range, so I sent nothing.".into(),
            });
        }
        let tenant = &call.tenant.tenant;
        let key = format!("email_invoices:{}", call.customer_id);
        if !call
            .app
            .state
            .claim_window(tenant, &key, now_unix(), BUNDLE_WINDOW_SECS)
            .await?
        {
            return Err(ApiError::policy_denied(
                "email_invoices_rate",
                format!(
                    "Your invoices were emailed to {masked} less than an hour ago; please check that inbox (and its spam folder) first."
                ),
            ));
        }
        let lines: Vec<InvoiceLine> = invoices
            .iter()
            .map(|i| InvoiceLine {
                number: invoice_name(i),
                date: call.dates.date(i.created),
                amount: Money::new(i.total, &i.currency).formatted,
                status: sentence_case(
                    &i.status
                        .as_ref()
                        .map(|s| s.as_str().replace('_', " "))
                        .unwrap_or_default(),
                ),
                pdf: i.invoice_pdf.clone(),
                hosted: i.hosted_invoice_url.clone(),
            })
            .collect();
        let range = match since {
            Some(t) => format!("since {}", call.dates.date(t)),
            None => "(the most recent)".into(),
        };
        let email = emails::invoices(sender, &to, &range, &lines);
        if let Err(e) = call.app.outbox.send(&email).await {
            // Not sent: the hour is given back, so asking again works.
            if let Err(r) = call.app.state.release_event(tenant, &key).await {
                tracing::error!(error = %r, "invoice bundle claim not released");
            }
            return Err(ApiError::from(e));
        }
        let count = lines.len();
        Ok(Answer {
            data: json!({"count": count, "sent": true, "to": masked}),
            summary: format!(
                "I've emailed {count} invoice{} to {masked}, with a PDF and an online link for each.",
                if count == 1 { "" } else { "s" }
            ),
        })
    }
}
