//! The write tools, one module each: arguments, ownership, a plan (preview + the exact
//! Stripe change) and bounds. `crate::write` runs them.
mod billing_details;
mod cancel;
mod change_plan;
mod coupon;
mod pause;
mod refund;
mod resume;
mod retention;
mod retry_payment;

pub use billing_details::{AddressArgs, BillingDetailsArgs, UpdateBillingDetails};
pub use cancel::{CancelArgs, CancelReason, CancelSubscription};
pub use change_plan::{ChangePlan, ChangePlanArgs};
pub use coupon::{ApplyCoupon, CouponArgs};
pub use pause::{PauseArgs, PauseSubscription};
pub use refund::{RefundArgs, RefundReason, RequestRefund};
pub use resume::ResumeSubscription;
pub use retention::{Accept, Offer, OfferId, Taken};
pub use retry_payment::{RetryPayment, RetryPaymentArgs};

use std::collections::HashMap;

use crate::endpoints::read::common::subscription;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::ports::tenants::RetentionOffer;
use crate::stripe::types::Subscription;

/// The visitor's subscription `id` (checked to be theirs) or their current one, with its
/// plan's name; `None` when there is nothing current to act on.
pub(crate) async fn current(
    call: &Call<'_>,
    id: Option<&str>,
) -> Result<Option<(Subscription, String)>, ApiError> {
    current_with(call, id, &[]).await
}

/// [`current`], with `expand` paths on the subscription.
pub(crate) async fn current_with(
    call: &Call<'_>,
    id: Option<&str>,
    expand: &[&str],
) -> Result<Option<(Subscription, String)>, ApiError> {
    let Some(sub) = subscription(call, id, expand)
        .await?
        .filter(|s| !s.is_ended())
    else {
        return Ok(None);
    };
    let names: HashMap<String, String> = call
        .app
        .catalog
        .of_subscriptions(&call.tenant.tenant, call.stripe, std::slice::from_ref(&sub))
        .await?;
    let plan = sub.plan_name(&names);
    Ok(Some((sub, plan)))
}

pub(crate) fn nothing(summary: impl Into<String>) -> Answer {
    Answer {
        data: serde_json::json!({"changed": false}),
        summary: summary.into(),
    }
}

/// `offer`, when given, must name a retention offer the tenant makes that this very call
/// takes (`what`: the offer's id for these arguments), so the saved-revenue figure counts
/// only real saves.
pub(crate) fn taken_offer(
    call: &Call<'_>,
    offer: Option<&OfferId>,
    what: &str,
    saves: crate::billing::money::Money,
) -> Result<Option<Taken>, ApiError> {
    let Some(offer) = offer else {
        return Ok(None);
    };
    let made = call.tenant.policy.retention.values().flatten().any(|o| {
        let id = match o {
            RetentionOffer::Pause { days } => format!("pause_{days}d"),
            RetentionOffer::Discount { code } => format!("discount_{}", code.to_ascii_lowercase()),
            RetentionOffer::Downgrade { price } => format!("downgrade_{price}"),
        };
        id == offer.0
    });
    if !made || !offer.0.eq_ignore_ascii_case(what) {
        return Err(ApiError::invalid_request(
            "Invalid field `offer`: not an offer made here for this change.",
        )
        .with_reason("invalid_field"));
    }
    Ok(Some(Taken {
        offer: offer.0.clone(),
        saves,
    }))
}
