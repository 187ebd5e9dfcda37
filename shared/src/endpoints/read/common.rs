//! What several tools fetch the same way: the visitor's subscription and customer, the
//! open recoveries, and how a missing object is answered.
use serde_json::Value;

use crate::billing::approvals;
use crate::error::ApiError;
use crate::pipeline::endpoint::Call;
use crate::ports::state::{Approval, Recovery, RecoveryStatus};
use crate::stripe::api;
use crate::stripe::types::{Customer, Subscription};
use crate::stripe::{StripeError, StripeSession};

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
        .limit(10);
    let list = call.stripe.get(&req).await.map_err(missing_customer)?;
    Ok(list.data.into_iter().next())
}

/// A list filtered by a customer that does not exist is the visitor's account missing.
pub fn missing_customer(e: StripeError) -> ApiError {
    if e.is_missing() || e.names_missing("customer") {
        ApiError::customer_not_found()
    } else {
        ApiError::from(e)
    }
}

/// The customer with its default payment method, in one request.
pub async fn fetch_customer(stripe: &StripeSession<'_>, id: &str) -> Result<Customer, ApiError> {
    let req = api::customer(id).expand("invoice_settings.default_payment_method");
    let customer = stripe.get(&req).await.map_err(missing_customer)?;
    if customer.deleted {
        return Err(ApiError::customer_not_found());
    }
    Ok(customer)
}

/// The customer's open recoveries (failed payments the webhooks told us about), newest
/// first. The answer does without them when the state can't be read.
pub async fn open_recoveries(call: &Call<'_>) -> Vec<Recovery> {
    call.app
        .state
        .recoveries(
            &call.tenant.tenant,
            RecoveryStatus::Open,
            Some(call.customer_id),
        )
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "recovery state unavailable");
            Vec::new()
        })
}

/// The visitor's requests a person decided since the bot last said so: each is marked told
/// in one compare-and-set, so of two racing calls one says it. The sentences, and the
/// requests as the visitor sees them.
pub async fn newly_decided(call: &Call<'_>) -> (Vec<String>, Vec<Value>) {
    let tenant = &call.tenant.tenant;
    let now = crate::timefmt::now_unix();
    let approvals = call
        .app
        .state
        .approvals(tenant, Some(call.customer_id))
        .await
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "approvals unavailable");
            Vec::new()
        });
    let mut said = (Vec::new(), Vec::new());
    for a in approvals.iter().filter(|a| !a.told) {
        let Some(sentence) = approvals::decided_sentence(a, now) else {
            continue;
        };
        let told = call
            .app
            .state
            .change_approval(tenant, &a.id, &|s| {
                s.filter(|s| !s.told).map(|s| Approval {
                    told: true,
                    ..s.clone()
                })
            })
            .await;
        if let Ok((Some(a), true)) = told {
            said.0.push(sentence);
            said.1.push(approvals::visitor_view(&a, now));
        }
    }
    said
}

/// "A payment of $19.00 failed (the card was declined)": a recovery, said.
pub fn failed_payment(r: &Recovery) -> String {
    let amount = r.amount_due["formatted"].as_str().unwrap_or("money");
    let why = r
        .decline
        .as_deref()
        .map(|d| format!(" ({d})"))
        .unwrap_or_default();
    format!("A payment of {amount} failed{why}")
}
