//! Stripe objects as the contract shows them: money as `{amount, currency, formatted}`,
//! times as RFC 3339, cards as brand, last 4 and expiry and nothing more. The tools and
//! agent insight show the same object the same way.
use std::collections::HashMap;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::billing::decline_phrase;
use crate::billing::money::Money;
use crate::stripe::types::{
    Card, CardDetails, Charge, Coupon, Discount, Expandable, Invoice, InvoiceStatus, Subscription,
    SubscriptionStatus,
};
use crate::timefmt::rfc3339;

/// A card as the contract allows it to be shown: brand, last 4, expiry. Nothing else.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardView {
    pub brand: String,
    pub last4: String,
    pub exp_month: Option<u32>,
    pub exp_year: Option<u32>,
}

pub fn card(brand: &str, last4: &str, exp_month: Option<u32>, exp_year: Option<u32>) -> CardView {
    CardView {
        brand: brand.to_string(),
        last4: last4.to_string(),
        exp_month,
        exp_year,
    }
}

pub fn saved_card(c: &Card) -> CardView {
    card(&c.brand, &c.last4, Some(c.exp_month), Some(c.exp_year))
}

pub fn charged_card(c: &CardDetails) -> Option<CardView> {
    Some(card(
        c.brand.as_deref()?,
        c.last4.as_deref()?,
        c.exp_month,
        c.exp_year,
    ))
}

/// An invoice as the contract shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InvoiceView {
    pub id: String,
    pub number: Option<String>,
    pub status: Option<InvoiceStatus>,
    pub total: Money,
    pub amount_due: Money,
    pub amount_paid: Money,
    pub amount_remaining: Money,
    pub created: Option<String>,
    pub due_date: Option<String>,
    pub paid_at: Option<String>,
    pub period_start: Option<String>,
    pub period_end: Option<String>,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
}

pub fn invoice(i: &Invoice) -> InvoiceView {
    let m = |a: i64| Money::new(a, &i.currency);
    InvoiceView {
        id: i.id.clone(),
        number: i.number.clone(),
        status: i.status.clone(),
        total: m(i.total),
        amount_due: m(i.amount_due),
        amount_paid: m(i.amount_paid),
        amount_remaining: m(i.amount_remaining),
        created: rfc3339(i.created),
        due_date: i.due_date.and_then(rfc3339),
        paid_at: i
            .status_transitions
            .as_ref()
            .and_then(|t| t.paid_at)
            .and_then(rfc3339),
        period_start: i.period_start.and_then(rfc3339),
        period_end: i.period_end.and_then(rfc3339),
        hosted_invoice_url: i.hosted_invoice_url.clone(),
        invoice_pdf: i.invoice_pdf.clone(),
    }
}

/// A discount's coupon, when expanded.
pub fn coupon(d: &Expandable<Discount>) -> Option<&Coupon> {
    d.object()?.source.as_ref()?.coupon.as_ref()?.object()
}

/// "20% off for 3 months".
pub fn discount_phrase(c: &Coupon) -> String {
    let off = match (c.percent_off, c.amount_off, &c.currency) {
        (Some(p), _, _) => format!("{}% off", p),
        (None, Some(a), Some(cur)) => format!("{} off", Money::new(a, cur).formatted),
        _ => "a discount".into(),
    };
    match (c.duration.as_deref(), c.duration_in_months) {
        (Some("repeating"), Some(m)) => format!("{off} for {m} months"),
        (Some("once"), _) => format!("{off} on one invoice"),
        _ => off,
    }
}

/// Why a charge failed, in plain words.
pub fn charge_failure(c: &Charge) -> &'static str {
    decline_phrase(
        c.failure_code.as_deref(),
        c.outcome.as_ref().and_then(|o| o.reason.as_deref()),
    )
}

/// A subscription as the tools and agent insight show it.
pub fn subscription(sub: &Subscription, names: &HashMap<String, String>) -> Value {
    let (unit, count) = sub.interval().unzip();
    let discounts: Vec<Value> = sub
        .discounts
        .iter()
        .filter_map(|d| {
            let c = coupon(d)?;
            Some(json!({
                "name": c.name, "description": discount_phrase(c),
                "percent_off": c.percent_off,
                "amount_off": c.amount_off.zip(c.currency.as_deref()).map(|(a, cur)| Money::new(a, cur)),
                "duration": c.duration, "ends_at": d.object().and_then(|d| d.end).and_then(rfc3339),
            }))
        })
        .collect();
    json!({
        "id": sub.id,
        "status": sub.status,
        "plan": {
            "name": sub.plan_name(names),
            "items": sub.items.data.iter().map(|i| json!({
                "price_id": i.price.id,
                "product_id": i.price.product.id(),
                "name": names.get(i.price.product.id()),
                "quantity": i.quantity.unwrap_or(1),
                "unit_amount": i.price.unit_amount.map(|a| Money::new(a, &i.price.currency)),
            })).collect::<Vec<_>>(),
        },
        "amount": sub.amount(),
        "interval": unit,
        "interval_count": count,
        "current_period_end": sub.period_end().and_then(rfc3339),
        "next_payment_date": sub.next_payment().and_then(rfc3339),
        "trial_end": sub.trial_end.and_then(rfc3339),
        "cancel_at_period_end": sub.cancel_at_period_end,
        "cancels_at": sub.scheduled_cancel().and_then(rfc3339),
        // Stripe sets `canceled_at` when a cancellation is requested, even one that takes
        // effect later; ours means only "it has ended", so a bot never reads an active
        // subscription as canceled.
        "canceled_at": (sub.status == SubscriptionStatus::Canceled)
            .then(|| sub.ended_at.or(sub.canceled_at))
            .flatten()
            .and_then(rfc3339),
        "cancellation_requested_at": sub.canceled_at.and_then(rfc3339),
        "pause": sub.pause_collection.as_ref().map(|p| json!({
            "behavior": p.behavior, "resumes_at": p.resumes_at.and_then(rfc3339),
        })),
        "discounts": discounts,
        "latest_invoice": sub.latest_invoice().map(|i| json!({
            "id": i.id, "number": i.number, "status": i.status,
            "amount_due": Money::new(i.amount_due, &i.currency),
            "amount_remaining": Money::new(i.amount_remaining, &i.currency),
            "hosted_invoice_url": i.hosted_invoice_url, "invoice_pdf": i.invoice_pdf,
        })),
    })
}
