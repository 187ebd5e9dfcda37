//! `pause_subscription` (W): `pause_collection` with the tenant's behaviour (default
//! `void`), until `resumes_at` (default and maximum: the tenant's `max_pause_days`). The
//! policy bounds pauses across calls: how many and how many days in any 12 months, and
//! never past a yearly plan's renewal.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::retention::{self, OfferId, Taken};
use super::{current, nothing, taken_offer};
use crate::error::ApiError;
use crate::pipeline::args::parse_arg;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::ports::tenants::PauseBehavior;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::SubscriptionId;
use crate::stripe::writes::{PauseCollection, Setting, SubscriptionUpdate};
use crate::timefmt::{now_unix, rfc3339};

#[derive(Default)]
pub struct PauseSubscription;

/// What `pause_subscription` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct PausePreview {
    pub subscription_id: String,
    pub plan: String,
    pub behavior: PauseBehavior,
    pub resumes_at: Option<String>,
    /// The retention offer this takes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<Taken>,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PauseArgs {
    /// The subscription to pause (`sub_...`); default: the visitor's current one.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// When payments start again (RFC 3339, e.g. `2027-01-01T00:00:00Z`); default and
    /// latest: the merchant's maximum pause.
    #[serde(default)]
    pub resumes_at: Option<String>,
    /// The id of the retention offer this call takes, as `cancel_subscription`'s preview
    /// gave it in `offers[].accept.arguments` (counts the save).
    #[serde(default)]
    pub offer: Option<OfferId>,
}

impl WriteTool for PauseSubscription {
    const NAME: &'static str = "pause_subscription";
    const DESCRIPTION: &'static str = "Pauses payment collection on the visitor's subscription until a date within the merchant's maximum.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Subscriptions,
        Need::SubscriptionUpdate,
    ];
    type Args = PauseArgs;
    type Preview = PausePreview;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        args.resumes_at
            .as_deref()
            .map(|s| parse_arg("resumes_at", s))
            .transpose()?;
        args.offer.as_ref().map(OfferId::check).transpose()?;
        Ok(())
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        let policy = &call.tenant.policy;
        let now = now_unix();
        let latest = now + policy.max_pause_days * 86_400;
        // The confirmed call pauses until the very date the preview showed.
        let resumes_at = match (
            pins.and_then(|p| p["resumes_at"].as_i64()),
            &args.resumes_at,
        ) {
            (Some(pinned), _) => pinned,
            (None, Some(s)) => parse_arg("resumes_at", s)?,
            (None, None) => latest,
        };
        if resumes_at <= now {
            return Err(ApiError::invalid_request(
                "Invalid field `resumes_at`: must be in the future.",
            )
            .with_reason("invalid_field"));
        }
        if pins.is_none() && resumes_at > latest {
            return Err(ApiError::policy_denied(
                "pause_too_long",
                format!(
                    "Payments can be paused for at most {} days here; a person from support can help with a longer pause.",
                    policy.max_pause_days
                ),
            ));
        }
        let Some((sub, plan)) = current(call, args.subscription_id.as_deref()).await? else {
            return Ok(Plan::Instead(nothing(
                "You don't have an active subscription to pause.",
            )));
        };
        if let Some(p) = &sub.pause_collection {
            let until = p
                .resumes_at
                .map(|t| format!(" until {}", call.dates.date(t)))
                .unwrap_or_default();
            return Ok(Plan::Instead(nothing(format!(
                "Payments for your {plan} plan are already paused{until}."
            ))));
        }
        if let Some(end) = sub.scheduled_cancel() {
            return Ok(Plan::Instead(nothing(format!(
                "Your {plan} plan is set to cancel on {}, so there is nothing to pause.",
                call.dates.date(end)
            ))));
        }
        let behavior = policy.pause_behavior;
        let meaning = match behavior {
            PauseBehavior::KeepAsDraft => {
                "invoices in that time are kept as drafts and not charged"
            }
            PauseBehavior::MarkUncollectible => "invoices in that time are not charged",
            PauseBehavior::Void => "you won't be billed for that time",
        };
        // A plan billed yearly (or less often) renews once in a long while; a pause must
        // not swallow that renewal.
        let yearly = sub.billed_yearly();
        // Any of the tenant's pause offers (its length is the pause bounds' to judge).
        let pause_offer = args
            .offer
            .as_ref()
            .filter(|o| o.0.starts_with("pause_"))
            .map(|o| o.0.clone())
            .unwrap_or_default();
        let taken = taken_offer(call, args.offer.as_ref(), &pause_offer, sub.amount())?;
        Ok(Plan::Change {
            preview: PausePreview {
                subscription_id: sub.id.clone(),
                plan: plan.clone(),
                behavior,
                resumes_at: rfc3339(resumes_at),
                taken,
            },
            summary: format!(
                "This will pause payments for your {plan} plan until {}: {meaning}.",
                call.dates.date(resumes_at)
            ),
            change: api::update_subscription(
                &sub.id,
                &SubscriptionUpdate {
                    pause_collection: Some(Setting::Set(PauseCollection {
                        behavior,
                        resumes_at,
                    })),
                    ..Default::default()
                },
            )
            .untyped(),
            then: Vec::new(),
            act: Act::Pause {
                subscription: sub.id.clone(),
                until: resumes_at,
                renewal: sub.period_end().filter(|_| yearly),
            },
            pins: json!({"resumes_at": resumes_at}),
        })
    }

    fn done(&self, call: &Call<'_>, preview: &PausePreview, sent: &[Value]) -> Answer {
        if let Some(taken) = &preview.taken {
            retention::accepted(call, &preview.subscription_id, taken);
        }
        let stripe = &sent[0];
        let until = stripe["pause_collection"]["resumes_at"].as_i64();
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview.subscription_id,
                "pause": {"behavior": stripe["pause_collection"]["behavior"],
                          "resumes_at": until.and_then(rfc3339)},
            }),
            summary: format!(
                "Done: payments for your {} plan are paused until {}.",
                preview.plan,
                call.dates.maybe(until)
            ),
        }
    }
}
