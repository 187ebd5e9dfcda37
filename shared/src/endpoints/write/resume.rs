//! `resume_subscription` (W): undoes a scheduled cancellation, a pause, or both; only what
//! the bot did (the policy refuses an end date or pause the merchant set).
use serde_json::{Value, json};

use super::{current, nothing};
use crate::endpoints::read::SubscriptionStatusArgs;
use crate::endpoints::read::check_opt_id;
use crate::endpoints::read::subscription_status::{price_phrase, scheduled_cancel};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::stripe::Params;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct ResumeSubscription;

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
                "You don't have a subscription that can be resumed; a canceled one can't be restarted here.",
            )));
        };
        let canceling = scheduled_cancel(&sub);
        let paused = sub.pause_collection.is_some();
        if canceling.is_none() && !paused {
            return Ok(Plan::Instead(nothing(format!(
                "Your {plan} plan is not set to cancel or paused, so there is nothing to resume."
            ))));
        }
        let mut params = Params::new();
        let mut parts = Vec::new();
        if let Some(end) = canceling {
            params = if sub.cancel_at_period_end {
                params.set("cancel_at_period_end", "false")
            } else {
                params.set("cancel_at", "")
            };
            parts.push(format!("it won't cancel on {}", call.dates.date(end)));
        }
        if paused {
            params = params.set("pause_collection", "");
            parts.push("payments start again".to_string());
        }
        Ok(Plan::Change {
            preview: json!({
                "subscription_id": sub.id, "plan": plan,
                "undo_cancellation": canceling.is_some(), "end_pause": paused,
                "price": price_phrase(&sub),
            }),
            summary: format!(
                "This will keep your {plan} plan ({}): {}.",
                price_phrase(&sub),
                parts.join(" and ")
            ),
            change: api::update_subscription(&sub.id).with(params).untyped(),
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

    fn done(&self, _call: &Call<'_>, preview: &Value, sent: &[Value]) -> Answer {
        let stripe = &sent[0];
        let plan = preview["plan"].as_str().unwrap_or("subscription");
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview["subscription_id"],
                "status": stripe["status"],
                "cancel_at_period_end": stripe["cancel_at_period_end"],
                "cancels_at": stripe["cancel_at"].as_i64().and_then(rfc3339),
                "paused": !stripe["pause_collection"].is_null(),
            }),
            summary: format!(
                "Done: your {plan} plan continues as before ({}).",
                preview["price"].as_str().unwrap_or_default()
            ),
        }
    }
}
