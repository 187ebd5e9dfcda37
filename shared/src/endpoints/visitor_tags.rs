//! `GET /v1/{tenant}/visitor/tags`: the visitor's audience tags, from what the webhooks
//! keep, with no Stripe request.
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape};
use crate::ports::state::{Fact, RecoveryStatus};
use crate::ports::tenants::TenantConfig;
use crate::timefmt::rfc3339;

/// The visitor's audience tags.
pub struct VisitorTags;

impl Endpoint for VisitorTags {
    const NAME: &'static str = "visitor_tags";
    type Input = ();

    const ROUTE: &'static [&'static str] = &["visitor", "tags"];
    const METHOD: &'static str = "GET";
    const SHAPE: Shape = Shape::Plain;

    fn input(_req: &Incoming<'_>, _audited: &mut Value) -> Result<(), ApiError> {
        Ok(())
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, _input: ()) -> Result<Reply, ApiError> {
        let state = &call.app.state;
        let tenant = &call.tenant.tenant;
        let (facts, open) = futures::join!(
            state.facts(tenant, call.customer_id),
            state.recoveries(tenant, RecoveryStatus::Open, Some(call.customer_id)),
        );
        Ok(Reply::done(Answer {
            data: tags(&facts?, !open?.is_empty()),
            summary: String::new(),
        }))
    }
}

/// Tags from the facts: the subscription that matters (a live one, else the latest), and
/// delinquent while a payment is being recovered or Stripe says so.
pub fn tags(facts: &[Fact], recovering: bool) -> Value {
    let ended = |f: &&Fact| {
        matches!(
            f.value["status"].as_str(),
            Some("canceled" | "incomplete_expired")
        )
    };
    let subs: Vec<&Fact> = facts.iter().filter(|f| f.key.starts_with("sub#")).collect();
    let newest = |a: &&&Fact, b: &&&Fact| {
        (a.value["created"].as_i64(), &a.key).cmp(&(b.value["created"].as_i64(), &b.key))
    };
    let current = subs
        .iter()
        .filter(|f| !ended(f))
        .max_by(newest)
        .or_else(|| subs.iter().max_by(newest));
    let customer = facts.iter().find(|f| f.key == "customer");
    let delinquent =
        recovering || customer.is_some_and(|c| c.value["delinquent"].as_bool() == Some(true));
    let sub = current.map(|f| &f.value);
    let as_of = facts
        .iter()
        .map(|f| f.stamp.created)
        .max()
        .and_then(rfc3339);
    json!({
        "tags": {
            "subscription_status": sub.map(|s| s["status"].clone()),
            "plan_tier": sub.map(|s| s["plan_tier"].clone()),
            "trial_ends_at": sub.and_then(|s| s["trial_end"].as_i64()).and_then(rfc3339),
            "cancel_at_period_end": sub.map(|s| s["cancel_at_period_end"].clone()),
            "delinquent": delinquent,
        },
        "as_of": as_of,
    })
}
