//! Pieces several tools shape their answers with.
use serde_json::{Value, json};

use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::endpoint::Call;
use crate::stripe::StripeError;
use crate::stripe::api;
use crate::stripe::types::{Card, CardDetails, Invoice, Subscription};
use crate::timefmt::rfc3339;

/// A card as the contract allows it to be shown: brand, last 4, expiry. Nothing else.
pub fn card(brand: &str, last4: &str, exp_month: Option<u32>, exp_year: Option<u32>) -> Value {
    json!({"brand": brand, "last4": last4, "exp_month": exp_month, "exp_year": exp_year})
}

pub fn saved_card(c: &Card) -> Value {
    card(&c.brand, &c.last4, Some(c.exp_month), Some(c.exp_year))
}

pub fn charged_card(c: &CardDetails) -> Option<Value> {
    Some(card(
        c.brand.as_deref()?,
        c.last4.as_deref()?,
        c.exp_month,
        c.exp_year,
    ))
}

pub fn invoice(i: &Invoice) -> Value {
    let m = |a: i64| Money::new(a, &i.currency);
    json!({
        "id": i.id,
        "number": i.number,
        "status": i.status,
        "total": m(i.total),
        "amount_due": m(i.amount_due),
        "amount_paid": m(i.amount_paid),
        "amount_remaining": m(i.amount_remaining),
        "created": rfc3339(i.created),
        "due_date": i.due_date.and_then(rfc3339),
        "paid_at": i.status_transitions.as_ref().and_then(|t| t.paid_at).and_then(rfc3339),
        "period_start": i.period_start.and_then(rfc3339),
        "period_end": i.period_end.and_then(rfc3339),
        "hosted_invoice_url": i.hosted_invoice_url,
        "invoice_pdf": i.invoice_pdf,
    })
}

pub fn check_range(field: &str, value: Option<u32>, min: u32, max: u32) -> Result<(), ApiError> {
    match value {
        Some(v) if v < min || v > max => Err(ApiError::invalid_request(format!(
            "Invalid field `{field}`: must be between {min} and {max}."
        ))
        .with_reason("invalid_field")),
        _ => Ok(()),
    }
}

/// A 404 for an id the visitor named means "not yours": another tenant's object is
/// invisible under this key, and the answer must not tell which it was.
pub fn owned_or(what: &'static str) -> impl Fn(StripeError) -> ApiError {
    move |e| {
        if e.is_missing() {
            ApiError::not_owner(what)
        } else {
            ApiError::from(e)
        }
    }
}

/// The visitor's subscription `id` (checked to be theirs), or their current one.
pub async fn subscription(
    call: &Call<'_>,
    id: Option<&str>,
    expand: &[&str],
) -> Result<Option<Subscription>, ApiError> {
    if let Some(id) = id {
        let sub = call
            .stripe
            .get(&api::subscription(id).expand_all(expand))
            .await
            .map_err(owned_or("subscription"))?;
        if sub.customer != call.customer_id {
            return Err(ApiError::not_owner("subscription"));
        }
        return Ok(Some(sub));
    }
    let req = expand
        .iter()
        .fold(api::subscriptions(call.customer_id), |r, e| {
            r.expand(&format!("data.{e}"))
        })
        .set("limit", 10);
    let list = call.stripe.get(&req).await.map_err(missing_customer)?;
    Ok(list.data.into_iter().next())
}

/// A list filtered by a customer that does not exist is the visitor's account missing.
pub fn missing_customer(e: StripeError) -> ApiError {
    if e.is_missing() {
        ApiError::customer_not_found()
    } else {
        ApiError::from(e)
    }
}
