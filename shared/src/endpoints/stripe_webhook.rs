//! `POST /v1/{tenant}/webhooks/stripe` (caller: Stripe, signature checked on the raw body):
//! each event applied once, an older one never over a newer; what it tells about a
//! customer is kept as facts and recoveries, which the recovery queue and the audience tags
//! read.
use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::billing::decline_phrase;
use crate::billing::money::Money;
use crate::endpoints::{checkout, reach};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject};
use crate::ports::notices::{Renewal, WebhookSeen};
use crate::ports::state::{Fact, Put, Recovery, RecoveryStatus, Stamp};
use crate::ports::tenants::TenantConfig;
use crate::stripe::api::{self, Need};
use crate::stripe::event::Event;
use crate::timefmt::{self, rfc3339};

/// How long an applied event's id is remembered: Stripe retries a delivery for 3 days.
pub const EVENT_MEMORY_SECS: i64 = 4 * 86_400;

/// The largest event body taken. Stripe documents no event size; an event carries a whole
/// object (a subscription with its items, an invoice with up to 10 lines and their discount
/// amounts), which passes 64 KiB, and Stripe's own request bodies are capped at 1 MiB, so
/// events are taken up to that. A refused event would leave stored state stale: Stripe
/// gives up after 3 days of retries.
pub const MAX_EVENT_BYTES: usize = 1024 * 1024;

pub struct StripeWebhook;

impl Endpoint for StripeWebhook {
    const NAME: &'static str = "stripe_webhook";
    const ADMITS: Admits = Admits::Stripe;
    const MAX_BODY: usize = MAX_EVENT_BYTES;
    const ROUTE: &'static [&'static str] = &["webhooks", "stripe"];
    const SHAPE: Shape = Shape::Plain;
    const NEEDS: &'static [Need] = &[Need::Subscriptions, Need::Products, Need::Charge];
    type Input = Event;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Event, ApiError> {
        let event = Event::parse(req.body).ok_or_else(|| {
            ApiError::invalid_request("The body is not a Stripe event.").with_reason("bad_event")
        })?;
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
        // What `tenantctl doctor` reports as the last event received.
        let seen = WebhookSeen {
            at: timefmt::now_unix(),
            event: event.id.clone(),
            kind: event.kind.clone(),
        };
        if let Err(e) = state.webhook_seen(tenant, &seen).await {
            tracing::warn!(error = %e, "last event received not noted");
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
    let change = change_of(event);
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
            subscription_fact(object, tier.as_deref())
        }
        Change::PaymentFailed => {
            let decline = decline_of(call, object).await;
            let r = recovery(event, &customer, decline, RecoveryStatus::Open);
            // Told only while it is open: an invoice paid before its failure arrived is
            // made good, and nobody is asked to pay it.
            if state.open_recovery(tenant, &r).await? {
                reach::recovery_opened(call, &r, object).await;
            }
            json!({"invoice": r.invoice, "amount_due": r.amount_due, "decline": r.decline,
                   "at": r.opened_at})
        }
        Change::Paid => {
            let r = recovery(event, &customer, None, RecoveryStatus::Resolved);
            if state.resolve_recovery(tenant, &r).await? {
                reach::recovery_resolved(call, &r).await;
            }
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
        Change::CheckoutCompleted => return checkout_completed(call, &customer, object).await,
        Change::CustomerDeleted => json!({"deleted": true, "delinquent": false}),
        Change::CustomerUpdated => json!({
            "deleted": false, "delinquent": object["delinquent"].as_bool().unwrap_or(false),
        }),
        Change::Other => unreachable!("handled above"),
    };
    let fact = Fact {
        key: fact_key(event),
        value,
        stamp: stamp(event),
    };
    match state.put_fact(tenant, &customer, &fact, false).await? {
        // Again: Stripe redelivers an event whose fact was written but whose renewal or
        // notice was not (the first delivery failed after the write and was released).
        Put::Written | Put::Again => {
            told(call, &change, &customer, event, &fact).await?;
            Ok("applied")
        }
        // The same event again after its id was forgotten, all of it done: told once.
        Put::Told => Ok("duplicate"),
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
                value: subscription_fact(&current, tier.as_deref()),
                ..fact
            };
            state.put_fact(tenant, &customer, &settled, true).await?;
            told(call, &change, &customer, event, &settled).await?;
            Ok("applied")
        }
        // Other facts of one second carry the same meaning; the first one stands.
        Put::Tie => Ok("stale"),
    }
}

/// What a newly written fact tells beyond itself: a subscription's next renewal (which
/// the expiring-card scan reads) and its notice; a refund's notice. Noted done on the
/// fact, so its event resent after its id was forgotten tells nobody twice.
async fn told(
    call: &Call<'_>,
    change: &Change,
    customer: &str,
    event: &Event,
    fact: &Fact,
) -> Result<(), ApiError> {
    let value = &fact.value;
    match change {
        Change::Subscription => {
            if let Some(end) = value["current_period_end"].as_i64() {
                let renewal = Renewal {
                    subscription: value["id"].as_str().unwrap_or_default().to_string(),
                    customer: customer.to_string(),
                    status: value["status"].as_str().unwrap_or_default().to_string(),
                    period_end: end,
                    checked: None,
                };
                call.app
                    .state
                    .put_renewal(&call.tenant.tenant, &renewal)
                    .await?;
            }
            reach::subscription_changed(call, customer, &event.kind, value).await;
        }
        Change::Refunded => reach::refund_issued(call, customer, &event.data.object).await,
        _ => return Ok(()),
    }
    let state = &call.app.state;
    state.fact_told(&call.tenant.tenant, customer, fact).await?;
    Ok(())
}

/// A subscription checkout we made (it carries the user in its metadata, the same as its
/// `client_reference_id`) maps its user to the customer Stripe made or used, so the
/// user's next call finds it; a user already mapped stays as mapped.
async fn checkout_completed(
    call: &Call<'_>,
    customer: &str,
    session: &Value,
) -> Result<&'static str, ApiError> {
    let user = session["metadata"][checkout::USER_KEY].as_str();
    let ours = session["mode"] == "subscription"
        && user
            .is_some_and(|u| !u.is_empty() && session["client_reference_id"].as_str() == Some(u));
    let Some(user) = user.filter(|_| ours) else {
        return Ok("ignored");
    };
    let mapped = call
        .app
        .tenants
        .store()
        .map_new_contact(&call.tenant.tenant, user, customer)
        .await?;
    if !mapped {
        tracing::info!(target: "notice", "checkout completed by a user mapped already: mapping kept");
    }
    Ok("applied")
}

/// The customer of a dispute's charge, asked of Stripe (one request).
async fn disputed_customer(call: &Call<'_>, event: &Event) -> Result<Option<String>, ApiError> {
    let Some(charge) = event.data.object["charge"]
        .as_str()
        .filter(|c| c.starts_with("ch_") || c.starts_with("py_"))
    else {
        return Ok(None);
    };
    if crate::stripe::ids::problem(charge, &charge[..3]).is_some() {
        return Ok(None);
    }
    match call.stripe.get(&api::charge(charge)).await {
        Ok(c) => Ok(c
            .customer
            .filter(|c| crate::stripe::ids::valid_customer_id(c))),
        Err(e) if e.is_missing() => Ok(None),
        Err(e) => Err(e.into()),
    }
}

/// The tenant's tier for the subscription's price, else its product's name (from the
/// product-name cache the tools share; one request when it misses).
async fn plan_tier(call: &Call<'_>, sub: &Value) -> Option<String> {
    if let Some(tier) = price_of(sub).and_then(|p| call.tenant.price_tiers.get(p)) {
        return Some(tier.clone());
    }
    let product = product_of(sub)?;
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

/// What an event is about, for the projection.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    /// A subscription's state as the event carries it.
    Subscription,
    PaymentFailed,
    Paid,
    Refunded,
    Disputed,
    CustomerDeleted,
    CustomerUpdated,
    /// A Checkout Session was paid: a user who started it maps to its customer.
    CheckoutCompleted,
    /// Acknowledged and ignored.
    Other,
}

/// Every event type the webhook applies (what a tenant's endpoint must be sent:
/// `tenantctl connect-webhooks` registers these, `tenantctl doctor` checks for them).
pub const HANDLED_EVENTS: &[&str] = &[
    "customer.subscription.created",
    "customer.subscription.updated",
    "customer.subscription.deleted",
    "customer.subscription.paused",
    "customer.subscription.resumed",
    "customer.subscription.trial_will_end",
    "invoice.payment_failed",
    "invoice.paid",
    "invoice.payment_succeeded",
    "charge.refunded",
    "charge.dispute.created",
    "customer.deleted",
    "customer.created",
    "customer.updated",
    "checkout.session.completed",
];

/// What the event is about.
pub fn change_of(event: &Event) -> Change {
    change_of_kind(&event.kind)
}

fn change_of_kind(kind: &str) -> Change {
    match kind {
        "customer.subscription.created"
        | "customer.subscription.updated"
        | "customer.subscription.deleted"
        | "customer.subscription.paused"
        | "customer.subscription.resumed"
        | "customer.subscription.trial_will_end" => Change::Subscription,
        "invoice.payment_failed" => Change::PaymentFailed,
        "invoice.paid" | "invoice.payment_succeeded" => Change::Paid,
        "charge.refunded" => Change::Refunded,
        "charge.dispute.created" => Change::Disputed,
        "customer.deleted" => Change::CustomerDeleted,
        "customer.created" | "customer.updated" => Change::CustomerUpdated,
        "checkout.session.completed" => Change::CheckoutCompleted,
        _ => Change::Other,
    }
}

fn stamp(event: &Event) -> Stamp {
    Stamp {
        created: event.created,
        event: event.id.clone(),
    }
}

/// The fact key an event writes: one per subscription, dispute; one per customer for the
/// rest.
pub fn fact_key(event: &Event) -> String {
    match change_of(event) {
        Change::Subscription => format!("sub#{}", event.object_id()),
        Change::Disputed => format!("dispute#{}", event.object_id()),
        Change::PaymentFailed => "payment_failure".into(),
        Change::Refunded => "last_refund".into(),
        _ => "customer".into(),
    }
}

/// What we keep of a subscription (never its payment method or anything of the card).
fn subscription_fact(sub: &Value, plan_tier: Option<&str>) -> Value {
    let item = &sub["items"]["data"][0];
    json!({
        "id": sub["id"], "status": sub["status"], "plan_tier": plan_tier,
        "price": item["price"]["id"], "trial_end": sub["trial_end"],
        "cancel_at_period_end": sub["cancel_at_period_end"].as_bool().unwrap_or(false),
        "cancel_at": sub["cancel_at"], "created": sub["created"],
        "current_period_end": item["current_period_end"],
    })
}

/// The price's product id (Stripe sends it unexpanded in events).
fn product_of(sub: &Value) -> Option<&str> {
    let product = &sub["items"]["data"][0]["price"]["product"];
    product.as_str().or(product["id"].as_str())
}

fn price_of(sub: &Value) -> Option<&str> {
    sub["items"]["data"][0]["price"]["id"].as_str()
}

/// A recovery record from an invoice event; `decline` in plain words.
fn recovery(
    event: &Event,
    customer: &str,
    decline: Option<&str>,
    status: RecoveryStatus,
) -> Recovery {
    let inv = &event.data.object;
    let amount = inv["amount_due"].as_i64().unwrap_or(0);
    let currency = inv["currency"].as_str().unwrap_or("usd");
    let at = rfc3339(event.created);
    Recovery {
        customer: customer.to_string(),
        invoice: inv["id"].as_str().unwrap_or("-").to_string(),
        amount_due: serde_json::to_value(Money::new(amount, currency)).unwrap_or(Value::Null),
        attempt_count: inv["attempt_count"].as_i64().unwrap_or(0),
        next_retry: match status {
            RecoveryStatus::Open => inv["next_payment_attempt"].as_i64().and_then(rfc3339),
            RecoveryStatus::Resolved => None,
        },
        decline: decline.map(String::from),
        hosted_invoice_url: inv["hosted_invoice_url"].as_str().map(String::from),
        opened_at: match status {
            RecoveryStatus::Open => at.clone(),
            RecoveryStatus::Resolved => None,
        },
        resolved_at: match status {
            RecoveryStatus::Open => None,
            RecoveryStatus::Resolved => at,
        },
        status,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_handled_list_is_what_the_webhook_applies() {
        for kind in HANDLED_EVENTS {
            assert_ne!(change_of_kind(kind), Change::Other, "{kind}");
        }
        for kind in [
            "invoice.created",
            "charge.succeeded",
            "payment_method.attached",
        ] {
            assert_eq!(change_of_kind(kind), Change::Other, "{kind}");
        }
    }
}
