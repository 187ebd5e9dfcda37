//! `get_upcoming_invoice`: what the next invoice will be, via `POST /v1/invoices/create_preview`
//! (the removed `GET /v1/invoices/upcoming` is never used).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::common::{missing_customer, subscription};
use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::SubscriptionId;
use crate::stripe::types::Subscription;
use crate::stripe::writes::InvoicePreview;
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct GetUpcomingInvoice;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UpcomingInvoiceArgs {
    /// One of the visitor's subscriptions (`sub_...`); without it, their current one.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
}

impl Tool for GetUpcomingInvoice {
    const NAME: &'static str = "get_upcoming_invoice";
    const DESCRIPTION: &'static str = "A preview of the visitor's next invoice: amount due, date, line items, applied credit balance and discounts.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::InvoicePreview];
    type Args = UpcomingInvoiceArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        // A preview changes nothing, but every POST carries an idempotency key.
        let key = format!("{}:preview", call.request_id);
        let preview = match args.subscription_id.as_deref() {
            // Stripe picks "the next upcoming invoice from among the customer's
            // subscriptions" when no subscription is named: one round trip.
            None => match call
                .stripe
                .post(
                    &api::preview_invoice(call.customer_id, &InvoicePreview::default()),
                    &key,
                )
                .await
            {
                Ok(p) => p,
                Err(e) if e.code() == Some("invoice_upcoming_none") => {
                    // The rare answer pays a second request to say why.
                    return nothing_upcoming(call, subscription(call, None, &[]).await?);
                }
                Err(e) => return Err(missing_customer(e)),
            },
            // A named subscription is checked for ownership; the preview is asked at the
            // same time and thrown away unless the check passes.
            Some(id) => {
                let req = api::preview_invoice(
                    call.customer_id,
                    &InvoicePreview {
                        subscription: Some(id.to_string()),
                        ..Default::default()
                    },
                );
                let (sub, preview) = futures::join!(
                    subscription(call, Some(id), &[]),
                    call.stripe.post(&req, &key)
                );
                let sub = sub?;
                if let Some(no) = no_renewal(call, sub.as_ref()) {
                    return Ok(no);
                }
                preview.map_err(ApiError::from)?
            }
        };
        let subscription_id = preview
            .parent
            .as_ref()
            .and_then(|p| p.subscription_details.as_ref())
            .and_then(|d| d.subscription.clone());
        let cur = preview.currency.clone();
        let m = |a: i64| Money::new(a, &cur);
        let date = preview.next_payment_attempt.unwrap_or(preview.created);
        let discount: i64 = preview
            .total_discount_amounts
            .iter()
            .map(|d| d.amount)
            .sum();
        // A negative starting balance is credit; the part of it used on this invoice.
        let applied_balance = preview.amount_due - preview.total;
        let lines: Vec<Value> = preview
            .lines
            .as_ref()
            .map(|l| {
                l.data
                    .iter()
                    .map(|line| {
                        json!({
                            "description": line.description,
                            "amount": Money::new(line.amount, &line.currency),
                            "quantity": line.quantity,
                            "period_start": line.period.as_ref().and_then(|p| p.start).and_then(rfc3339),
                            "period_end": line.period.as_ref().and_then(|p| p.end).and_then(rfc3339),
                        })
                    })
                    .collect()
            })
            .unwrap_or_default();
        // amount_due is what is left after credit; the credit is subtracted, not included.
        let mut summary = format!(
            "Your next invoice will be {} on {}",
            m(preview.amount_due).formatted,
            call.dates.date(date)
        );
        if applied_balance < 0 {
            summary.push_str(&format!(
                ", after {} of account credit is applied",
                m(-applied_balance).formatted
            ));
        }
        summary.push('.');
        if discount > 0 {
            summary.push_str(&format!(" Discounts take {} off.", m(discount).formatted));
        }
        Ok(Answer {
            data: json!({
                "subscription_id": subscription_id,
                "upcoming_invoice": {
                    "amount_due": m(preview.amount_due),
                    "subtotal": m(preview.subtotal),
                    "total": m(preview.total),
                    "date": rfc3339(date),
                    "lines": lines,
                    "applied_balance": m(applied_balance),
                    "discount_total": m(discount),
                }
            }),
            summary,
        })
    }
}

/// Why there is nothing to preview: no live subscription, or it ends before it renews.
fn no_renewal(call: &Call<'_>, sub: Option<&Subscription>) -> Option<Answer> {
    let sub = match sub {
        Some(s) if !s.is_ended() => s,
        _ => {
            return Some(Answer {
                data: json!({"upcoming_invoice": null}),
                summary: "You have no upcoming invoice: there is no active subscription.".into(),
            });
        }
    };
    if !(sub.cancel_at_period_end || sub.cancel_at.is_some()) {
        return None;
    }
    let when = sub.cancel_at.or_else(|| {
        sub.items
            .data
            .iter()
            .filter_map(|i| i.current_period_end)
            .min()
    });
    Some(Answer {
        data: json!({"upcoming_invoice": null, "subscription_id": sub.id}),
        summary: format!(
            "You have no upcoming invoice: your subscription is set to cancel on {}.",
            call.dates.maybe(when)
        ),
    })
}

fn nothing_upcoming(call: &Call<'_>, sub: Option<Subscription>) -> Result<Answer, ApiError> {
    Ok(no_renewal(call, sub.as_ref()).unwrap_or_else(|| Answer {
        data: json!({"upcoming_invoice": null}),
        summary: "You have no upcoming invoice.".into(),
    }))
}
