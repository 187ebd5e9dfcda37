//! `resume_subscription` (W): undoes a scheduled cancellation, a pause, or both; only what
//! the bot did (the policy refuses an end date or pause the merchant set).
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{current, nothing};
use crate::endpoints::read::SubscriptionStatusArgs;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::writes::{Setting, SubscriptionUpdate};
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct ResumeSubscription;

/// What `resume_subscription` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct ResumePreview {
    pub subscription_id: String,
    pub plan: String,
    pub undo_cancellation: bool,
    pub end_pause: bool,
    /// What the plan goes on costing ("$49.00/month").
    pub price: String,
}

impl WriteTool for ResumeSubscription {
    const NAME: &'static str = "resume_subscription";
    const DESCRIPTION: &'static str =
        "Undoes a scheduled cancellation or a pause of the visitor's subscription.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Subscriptions,
        Need::SubscriptionUpdate,
    ];
    type Args = SubscriptionStatusArgs;
    type Preview = ResumePreview;

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        let Some((sub, plan)) = current(call, args.subscription_id.as_deref()).await? else {
            return Ok(Plan::Instead(nothing(
                "You don't have a subscription that can be resumed; a canceled one can't be restarted here.",
            )));
        };
        let canceling = sub.scheduled_cancel();
        let paused = sub.pause_collection.is_some();
        if canceling.is_none() && !paused {
            return Ok(Plan::Instead(nothing(format!(
                "Your {plan} plan is not set to cancel or paused, so there is nothing to resume."
            ))));
        }
        let mut update = SubscriptionUpdate::default();
        let mut parts = Vec::new();
        if let Some(end) = canceling {
            if sub.cancel_at_period_end {
                update.cancel_at_period_end = Some(false);
            } else {
                update.cancel_at = Some(Setting::Clear);
            }
            parts.push(format!("it won't cancel on {}", call.dates.date(end)));
        }
        if paused {
            update.pause_collection = Some(Setting::Clear);
            parts.push("payments start again".to_string());
        }
        Ok(Plan::Change {
            preview: ResumePreview {
                subscription_id: sub.id.clone(),
                plan: plan.clone(),
                undo_cancellation: canceling.is_some(),
                end_pause: paused,
                price: sub.price_phrase(),
            },
            summary: format!(
                "This will keep your {plan} plan ({}): {}.",
                sub.price_phrase(),
                parts.join(" and ")
            ),
            change: api::update_subscription(&sub.id, &update).untyped(),
            then: Vec::new(),
            act: Act::Resume {
                subscription: sub.id.clone(),
                cancel_at: canceling,
                pause_until: sub
                    .pause_collection
                    .as_ref()
                    .map(|p| p.resumes_at.unwrap_or(0)),
            },
            pins: json!({}),
        })
    }

    fn done(&self, _call: &Call<'_>, preview: &ResumePreview, sent: &[Value]) -> Answer {
        let stripe = &sent[0];
        let plan = &preview.plan;
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview.subscription_id,
                "status": stripe["status"],
                "cancel_at_period_end": stripe["cancel_at_period_end"],
                "cancels_at": stripe["cancel_at"].as_i64().and_then(rfc3339),
                "paused": !stripe["pause_collection"].is_null(),
            }),
            summary: format!(
                "Done: your {plan} plan continues as before ({}).",
                preview.price
            ),
        }
    }
}
