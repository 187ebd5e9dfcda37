//! What Stripe's events feed, as three endpoints of the one pipeline:
//! - `POST /v1/{tenant}/webhooks/stripe` ([`StripeWebhook`], caller: Stripe, signature
//!   checked on the raw body): each event applied once, an older one never over a newer;
//! - `GET /v1/{tenant}/agent/recovery?status=open|resolved` ([`RecoveryQueue`], agents);
//! - `GET /v1/{tenant}/visitor/tags` ([`VisitorTags`], the visitor): audience tags from
//!   what the events said, with no Stripe request.
pub mod event;
pub mod signature;

use lambda_http::{Body, Response};
use serde_json::{Value, json};

use crate::billing::decline_phrase;
use crate::caller::{Admits, Caller};
use crate::error::ApiError;
use crate::response;
use crate::state::{Fact, Put, RecoveryStatus};
use crate::stripe::api;
use crate::tenant::TenantConfig;
use crate::timefmt::{self, rfc3339};
use crate::tool::{Answer, Call, Endpoint, Incoming, Reply, Subject};
use event::{Change, Event};

/// How long an applied event's id is remembered: Stripe retries a delivery for 3 days.
pub const EVENT_MEMORY_SECS: i64 = 4 * 86_400;

/// The largest event body taken. Stripe documents no event size; an event carries a whole
/// object (a subscription with its items, an invoice with up to 10 lines and their discount
/// amounts), which passes 64 KiB, and Stripe's own request bodies are capped at 1 MiB, so
/// events are taken up to that. A refused event would leave stored state stale: Stripe
/// gives up after 3 days of retries.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

pub struct StripeWebhook;

fn plain(reply: Reply, request_id: &str) -> Response<Body> {
    response::ok(reply.answer.data, request_id)
}

impl Endpoint for StripeWebhook {
    const NAME: &'static str = "stripe_webhook";
    const ADMITS: Admits = Admits::Stripe;
    const MAX_BODY: usize = MAX_EVENT_BYTES;
    type Input = Event;

    fn route() -> Vec<&'static str> {
        vec!["webhooks", "stripe"]
    }

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Event, ApiError> {
        let event = Event::parse(req.body)?;
        *audited = json!({"event": event.id, "type": event.kind});
        Ok(event)
    }

    fn subject(_caller: &Caller, event: &Event) -> Option<Subject> {
        Some(event.customer().map_or(Subject::Tenant, Subject::Customer))
    }

    /// Webhooks can't be switched off per tool: they only keep what we know current.
    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    fn respond(reply: Reply, request_id: &str) -> Response<Body> {
        plain(reply, request_id)
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, event: Event) -> Result<Reply, ApiError> {
        if event.livemode != call.stripe.live() {
            return Err(ApiError::invalid_request(
                "The event's livemode does not match the tenant's Stripe key.",
            )
            .with_reason("livemode_mismatch"));
        }
        let state = &call.app.state;
        let tenant = &call.tenant.tenant;
        let expires = timefmt::now_unix() + EVENT_MEMORY_SECS;
        if !state.claim_event(tenant, &event.id, expires).await? {
            return Ok(received(&event, "duplicate"));
        }
        match apply(call, &event).await {
            Ok(outcome) => Ok(received(&event, outcome)),
            Err(e) => {
                // Not applied: forget the claim so Stripe's retry applies it.
                if let Err(release) = state.release_event(tenant, &event.id).await {
                    tracing::error!(error = %release, event = %event.id, "event claim not released");
                }
                Err(e)
            }
        }
    }
}

fn received(event: &Event, outcome: &str) -> Reply {
    Reply::done(Answer {
        data: json!({"received": true, "event": event.id, "type": event.kind, "outcome": outcome}),
        summary: String::new(),
    })
}

/// Applies one event; says `applied`, `stale` (older than what we hold) or `ignored`.
async fn apply(call: &Call<'_>, event: &Event) -> Result<&'static str, ApiError> {
    let change = event.change();
    if change == Change::Other {
        return Ok("ignored");
    }
    let customer = match event.customer() {
        Some(c) => c,
        // A dispute names its charge (an id unless expanded); the charge names the customer.
        None if change == Change::Disputed => match disputed_customer(call, event).await? {
            Some(c) => c,
            None => return Ok("ignored"),
        },
        None => return Ok("ignored"),
    };
    let state = &call.app.state;
    let tenant = &call.tenant.tenant;
    let object = &event.data.object;
    let value = match change {
        Change::Subscription => {
            let tier = plan_tier(call, object).await;
            event::subscription_fact(object, tier.as_deref())
        }
        Change::PaymentFailed => {
            let decline = decline_of(call, object).await;
            let r = event::recovery(event, &customer, decline, RecoveryStatus::Open);
            state.open_recovery(tenant, &r).await?;
            json!({"invoice": r.invoice, "amount_due": r.amount_due, "decline": r.decline,
                   "at": r.opened_at})
        }
        Change::Paid => {
            let r = event::recovery(event, &customer, None, RecoveryStatus::Resolved);
            state.resolve_recovery(tenant, &r).await?;
            return Ok("applied");
        }
        Change::Refunded => json!({
            "charge": object["id"], "amount_refunded": object["amount_refunded"],
            "currency": object["currency"],
        }),
        Change::Disputed => json!({
            "dispute": object["id"], "charge": object["charge"], "status": object["status"],
            "reason": object["reason"],
        }),
        Change::CustomerDeleted => json!({"deleted": true, "delinquent": false}),
        Change::CustomerUpdated => json!({
            "deleted": false, "delinquent": object["delinquent"].as_bool().unwrap_or(false),
        }),
        Change::Other => unreachable!("handled above"),
    };
    let fact = Fact {
        key: event.fact_key(),
        value,
        stamp: event.stamp(),
    };
    match state.put_fact(tenant, &customer, &fact, false).await? {
        Put::Written => Ok("applied"),
        Put::Older => Ok("stale"),
        Put::Tie if change == Change::Subscription => {
            // Two events of one second: Stripe's current object decides.
            let id = object["id"].as_str().unwrap_or_default();
            let current: Value = call
                .stripe
                .get(&api::subscription(id).untyped())
                .await
                .map_err(ApiError::from)?;
            let tier = plan_tier(call, &current).await;
            let settled = Fact {
                value: event::subscription_fact(&current, tier.as_deref()),
                ..fact
            };
            state.put_fact(tenant, &customer, &settled, true).await?;
            Ok("applied")
        }
        // Other facts of one second carry the same meaning; the first one stands.
        Put::Tie => Ok("stale"),
    }
}

/// The customer of a dispute's charge, asked of Stripe (one request).
async fn disputed_customer(call: &Call<'_>, event: &Event) -> Result<Option<String>, ApiError> {
    let Some(charge) = event.data.object["charge"]
        .as_str()
        .filter(|c| c.starts_with("ch_") || c.starts_with("py_"))
    else {
        return Ok(None);
    };
    if crate::tools::check_id("charge", charge, &charge[..3]).is_err() {
        return Ok(None);
    }
    match call.stripe.get(&api::charge(charge)).await {
        Ok(c) => Ok(c.customer.filter(|c| crate::identity::valid_customer_id(c))),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The tenant's tier for the subscription's price, else its product's name (from the
/// product-name cache the tools share; one request when it misses).
async fn plan_tier(call: &Call<'_>, sub: &Value) -> Option<String> {
    if let Some(tier) = event::price_of(sub).and_then(|p| call.tenant.price_tiers.get(p)) {
        return Some(tier.clone());
    }
    let product = event::product_of(sub)?;
    let names = call
        .app
        .catalog
        .names(&call.tenant.tenant, call.stripe, &[product])
        .await
        .ok()?;
    names.get(product).filter(|n| !n.is_empty()).cloned()
}

/// Why the invoice's latest attempt failed, in plain words (one request: the invoice with
/// its payment intents).
async fn decline_of(call: &Call<'_>, invoice: &Value) -> Option<&'static str> {
    let id = invoice["id"].as_str()?;
    let full: Value = call
        .stripe
        .get(
            &api::invoice(id)
                .expand("payments.data.payment.payment_intent")
                .untyped(),
        )
        .await
        .ok()?;
    let error = full["payments"]["data"]
        .as_array()?
        .iter()
        .map(|p| &p["payment"]["payment_intent"]["last_payment_error"])
        .find(|e| e.is_object())?;
    Some(decline_phrase(
        error["code"].as_str(),
        error["decline_code"].as_str(),
    ))
}

/// The agents' recovery queue.
pub struct RecoveryQueue;

impl Endpoint for RecoveryQueue {
    const NAME: &'static str = "agent_recovery";
    const ADMITS: Admits = Admits::Agents;
    type Input = RecoveryStatus;

    fn route() -> Vec<&'static str> {
        vec!["agent", "recovery"]
    }

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<RecoveryStatus, ApiError> {
        let status = match req.query.first("status") {
            None | Some("open") => RecoveryStatus::Open,
            Some("resolved") => RecoveryStatus::Resolved,
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "Invalid field `status`: must be `open` or `resolved`.",
                )
                .with_reason("invalid_field"));
            }
        };
        *audited = json!({"status": status});
        Ok(status)
    }

    fn subject(_caller: &Caller, _input: &RecoveryStatus) -> Option<Subject> {
        Some(Subject::Tenant)
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    fn respond(reply: Reply, request_id: &str) -> Response<Body> {
        plain(reply, request_id)
    }

    async fn serve<'a>(
        &'a self,
        call: &'a Call<'a>,
        status: RecoveryStatus,
    ) -> Result<Reply, ApiError> {
        let list = call
            .app
            .state
            .recoveries(&call.tenant.tenant, status, None)
            .await?;
        Ok(Reply::done(Answer {
            data: json!({"status": status, "recoveries": list}),
            summary: String::new(),
        }))
    }
}

/// The visitor's audience tags.
pub struct VisitorTags;

impl Endpoint for VisitorTags {
    const NAME: &'static str = "visitor_tags";
    type Input = ();

    fn route() -> Vec<&'static str> {
        vec!["visitor", "tags"]
    }

    fn input(_req: &Incoming<'_>, _audited: &mut Value) -> Result<(), ApiError> {
        Ok(())
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    fn respond(reply: Reply, request_id: &str) -> Response<Body> {
        plain(reply, request_id)
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
