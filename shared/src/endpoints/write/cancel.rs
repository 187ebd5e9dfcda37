//! `cancel_subscription` (W): at period end, never immediately (undoable until then), or
//! the Billing Portal's cancel flow where the tenant wants its own retention offers shown.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{current, nothing, period_end};
use crate::endpoints::read::subscription_status::scheduled_cancel;
use crate::endpoints::read::{GetBillingPortalLink, PortalFlow, PortalLinkArgs, check_opt_id};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::Params;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct CancelSubscription;

/// Why the visitor is leaving; recorded in Stripe's `cancellation_details[feedback]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelReason {
    TooExpensive,
    MissingFeatures,
    SwitchedService,
    Unused,
    CustomerService,
    TooComplex,
    LowQuality,
    Other,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CancelArgs {
    /// The subscription to cancel (`sub_...`); default: the visitor's current one.
    #[serde(default)]
    pub subscription_id: Option<String>,
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

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        check_opt_id("subscription_id", args.subscription_id.as_deref(), "sub_")
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan, ApiError> {
        let Some((sub, plan)) = current(call, args.subscription_id.as_deref()).await? else {
            return Ok(Plan::Instead(nothing(
                "You don't have an active subscription to cancel.",
            )));
        };
        if let Some(end) = scheduled_cancel(&sub) {
            return Ok(Plan::Instead(nothing(format!(
                "Your {plan} plan is already set to cancel on {}; nothing more to do.",
                call.dates.date(end)
            ))));
        }
        if call.tenant.policy.cancel_via_portal {
            let link = PortalLinkArgs {
                flow: Some(PortalFlow::SubscriptionCancel),
                subscription_id: Some(sub.id.clone()),
            };
            return GetBillingPortalLink
                .run(call, link)
                .await
                .map(Plan::Instead);
        }
        let end = period_end(&sub).or(sub.trial_end);
        let mut params = Params::new().set("cancel_at_period_end", "true");
        if let Some(reason) = args.reason {
            let feedback = serde_json::to_value(reason).unwrap_or(Value::Null);
            params = params.set(
                "cancellation_details[feedback]",
                feedback.as_str().unwrap_or("other"),
            );
        }
        Ok(Plan::Change {
            preview: json!({
                "subscription_id": sub.id, "plan": plan,
                "access_ends_at": end.and_then(rfc3339),
            }),
            summary: format!(
                "This will cancel your {plan} plan at the end of the current period: you keep access until {} and won't be charged again. You can undo it until then.",
                call.dates.maybe(end)
            ),
            change: api::update_subscription(&sub.id).with(params).untyped(),
            then: Vec::new(),
            act: Act::Cancel {
                subscription: sub.id.clone(),
                at: end,
            },
            pins: json!({}),
        })
    }

    fn done(&self, call: &Call<'_>, preview: &Value, sent: &[Value]) -> Answer {
        let stripe = &sent[0];
        let ends = stripe["cancel_at"].as_i64();
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview["subscription_id"],
                "status": stripe["status"], "cancels_at": ends.and_then(rfc3339),
            }),
            summary: format!(
                "Done: your {} plan will cancel on {}, and you won't be charged again. You can undo this until then.",
                preview["plan"].as_str().unwrap_or("subscription"),
                call.dates.maybe(ends)
            ),
        }
    }
}
