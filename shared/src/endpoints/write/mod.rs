//! The write tools, one module each: arguments, ownership, a plan (preview + the exact
//! Stripe change) and bounds. `crate::write` runs them.
mod billing_details;
mod cancel;
mod change_plan;
mod coupon;
mod pause;
mod refund;
mod resume;
mod retry_payment;

pub use billing_details::{AddressArgs, BillingDetailsArgs, UpdateBillingDetails};
pub use cancel::{CancelArgs, CancelReason, CancelSubscription};
pub use change_plan::{ChangePlan, ChangePlanArgs};
pub use coupon::{ApplyCoupon, CouponArgs};
pub use pause::{PauseArgs, PauseSubscription};
pub use refund::{RefundArgs, RefundReason, RequestRefund};
pub use resume::ResumeSubscription;
pub use retry_payment::{RetryPayment, RetryPaymentArgs};

use std::collections::HashMap;

use crate::endpoints::read::common::subscription;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
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
