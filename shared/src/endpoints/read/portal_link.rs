//! `get_billing_portal_link`: a Stripe Billing Portal session, deep-linked when a flow is
//! given. Stripe documents no exact lifetime for a session, so the answer promises none.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::subscription;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::SubscriptionId;
use crate::stripe::types::SubscriptionStatus;
pub use crate::stripe::writes::PortalFlow;
use crate::stripe::writes::{FlowData, PortalSessionCreate};
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct GetBillingPortalLink;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortalLinkArgs {
    /// Open the portal straight at one task.
    #[serde(default)]
    pub flow: Option<PortalFlow>,
    /// The subscription a cancel or update flow is about (`sub_...`); default: the current one.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
}

impl Tool for GetBillingPortalLink {
    const NAME: &'static str = "get_billing_portal_link";
    const DESCRIPTION: &'static str = "A secure link to the Stripe Billing Portal, where the visitor can update their card, change or cancel their plan, and download invoices. Optionally deep-linked to one task.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::PortalSession];
    type Args = PortalLinkArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let needs_subscription = matches!(
            args.flow,
            Some(PortalFlow::SubscriptionCancel | PortalFlow::SubscriptionUpdate)
        );
        let return_url = call.tenant.return_url.clone();
        let mut flow = args
            .flow
            .map(|f| FlowData::new(f, return_url.as_deref(), None));
        let mut subscription_id = None;
        let mut already_canceling = None;
        if needs_subscription || args.subscription_id.is_some() {
            let sub = subscription(call, args.subscription_id.as_deref(), &[])
                .await?
                .filter(|s| s.status != SubscriptionStatus::Canceled)
                .ok_or_else(|| ApiError::not_found("You don't have a subscription to manage."))?;
            let cancels_at = sub.scheduled_cancel();
            let about = args.flow.filter(|_| needs_subscription);
            if about == Some(PortalFlow::SubscriptionCancel) && cancels_at.is_some() {
                // Nothing left to cancel: a cancel deep link would offer what is done.
                flow = None;
                already_canceling = cancels_at;
            } else if let Some(kind) = about {
                flow = Some(FlowData::new(kind, return_url.as_deref(), Some(&sub.id)));
            }
            subscription_id = Some(sub.id);
        }
        let params = api::portal_session(
            call.customer_id,
            &PortalSessionCreate {
                return_url,
                flow_data: flow,
            },
        );
        let session = call
            .stripe
            .post(&params, &format!("{}:portal", call.request_id))
            .await?;
        let task = match args.flow.filter(|_| already_canceling.is_none()) {
            Some(PortalFlow::PaymentMethodUpdate) => " to update your card",
            Some(PortalFlow::SubscriptionCancel) => " to cancel your subscription",
            Some(PortalFlow::SubscriptionUpdate) => " to change your plan",
            None => "",
        };
        Ok(Answer {
            data: json!({
                "url": session.url,
                // What Stripe says the session opens at, not what we asked for.
                "flow": session.flow.as_ref().map(|f| f.kind.clone()),
                "subscription_id": subscription_id,
                "cancels_at": already_canceling.and_then(rfc3339),
                "return_url": call.tenant.return_url,
            }),
            summary: match already_canceling {
                Some(end) => format!(
                    "Your subscription is already set to cancel on {}, so there is nothing more to cancel. To keep it or manage billing, use your secure billing portal link: {}. It works only for a short while, so please open it now.",
                    call.dates.date(end),
                    session.url
                ),
                None => format!(
                    "Here's your secure billing portal link{task}: {}. It works only for a short while, so please open it now.",
                    session.url
                ),
            },
        })
    }
}
