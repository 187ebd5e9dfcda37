//! `cancel_subscription` (W): at period end, never immediately (undoable until then), or
//! the Billing Portal's cancel flow where the tenant wants its own retention offers shown.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::retention::{self, Offer};
use super::{current, nothing};
use crate::endpoints::read::{GetBillingPortalLink, PortalFlow, PortalLinkArgs};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::SubscriptionId;
use crate::stripe::writes::{CancellationDetails, SubscriptionUpdate};
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct CancelSubscription;

pub use crate::stripe::writes::CancelFeedback as CancelReason;

/// What `cancel_subscription` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CancelPreview {
    pub subscription_id: String,
    pub plan: String,
    /// When service ends (RFC 3339).
    pub access_ends_at: Option<String>,
    /// What the tenant offers instead, for the reason given (`policy.retention`).
    #[serde(default)]
    pub offers: Vec<Offer>,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelArgs {
    /// The subscription to cancel (`sub_...`); default: the visitor's current one.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// Why the visitor is cancelling.
    #[serde(default)]
    pub reason: Option<CancelReason>,
}

impl WriteTool for CancelSubscription {
    const NAME: &'static str = "cancel_subscription";
    const DESCRIPTION: &'static str = "Cancels the visitor's subscription at the end of the current period (never immediately; it can be undone until then).";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Subscriptions,
        Need::SubscriptionUpdate,
    ];
    type Args = CancelArgs;
    type Preview = CancelPreview;

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        let Some((sub, plan)) = current(call, args.subscription_id.as_deref()).await? else {
            return Ok(Plan::Instead(nothing(
                "You don't have an active subscription to cancel.",
            )));
        };
        if let Some(end) = sub.scheduled_cancel() {
            return Ok(Plan::Instead(nothing(format!(
                "Your {plan} plan is already set to cancel on {}; nothing more to do.",
                call.dates.date(end)
            ))));
        }
        if call.tenant.policy.cancel_via_portal {
            let link = PortalLinkArgs {
                flow: Some(PortalFlow::SubscriptionCancel),
                subscription_id: Some(SubscriptionId::from_stripe(&sub.id)),
            };
            return GetBillingPortalLink
                .run(call, link)
                .await
                .map(Plan::Instead);
        }
        // The confirmation shows the offers the preview made (pinned), not a recount.
        let offers = match pins.and_then(|p| p.get("offers")) {
            Some(pinned) => serde_json::from_value(pinned.clone()).unwrap_or_default(),
            None => {
                let offers = retention::offers(call, &sub, &plan, args.reason).await?;
                retention::shown(call, &sub.id, &offers);
                offers
            }
        };
        let instead = if offers.is_empty() {
            String::new()
        } else {
            let said: Vec<&str> = offers.iter().map(|o| o.summary.as_str()).collect();
            format!(" Before you decide, instead: {}", said.join(" Or: "))
        };
        let end = sub.period_end().or(sub.trial_end);
        let update = SubscriptionUpdate {
            cancel_at_period_end: Some(true),
            cancellation_details: args.reason.map(|feedback| CancellationDetails { feedback }),
            ..Default::default()
        };
        Ok(Plan::Change {
            preview: CancelPreview {
                subscription_id: sub.id.clone(),
                plan: plan.clone(),
                access_ends_at: end.and_then(rfc3339),
                offers: offers.clone(),
            },
            summary: format!(
                "This will cancel your {plan} plan at the end of the current period: you keep access until {} and won't be charged again. You can undo it until then.{instead}",
                call.dates.maybe(end)
            ),
            change: api::update_subscription(&sub.id, &update).untyped(),
            then: Vec::new(),
            act: Act::Cancel {
                subscription: sub.id.clone(),
                at: end,
            },
            pins: json!({"offers": offers}),
        })
    }

    fn done(&self, call: &Call<'_>, preview: &CancelPreview, sent: &[Value]) -> Answer {
        retention::declined(call, &preview.subscription_id, &preview.offers);
        let stripe = &sent[0];
        let ends = stripe["cancel_at"].as_i64();
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview.subscription_id,
                "status": stripe["status"], "cancels_at": ends.and_then(rfc3339),
            }),
            summary: format!(
                "Done: your {} plan will cancel on {}, and you won't be charged again. You can undo this until then.",
                preview.plan,
                call.dates.maybe(ends)
            ),
        }
    }
}
