//! Stripe's event envelope, and what each handled event tells us about a customer.
use serde::Deserialize;
use serde_json::{Value, json};

use crate::error::ApiError;
use crate::identity::valid_customer_id;
use crate::state::{Recovery, RecoveryStatus, Stamp};
use crate::timefmt::rfc3339;

#[derive(Debug, Clone, Deserialize)]
pub struct Event {
    pub id: String,
    #[serde(rename = "type")]
    pub kind: String,
    pub created: i64,
    pub livemode: bool,
    pub data: EventData,
}

#[derive(Debug, Clone, Deserialize)]
pub struct EventData {
    pub object: Value,
    #[serde(default)]
    pub previous_attributes: Option<Value>,
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
    /// Acknowledged and ignored.
    Other,
}

impl Event {
    /// The envelope from a verified body: Stripe's shape, an `evt_` id, a positive
    /// `created` and an object.
    pub fn parse(body: &[u8]) -> Result<Self, ApiError> {
        let bad = || {
            ApiError::invalid_request("The body is not a Stripe event.").with_reason("bad_event")
        };
        let event: Event = serde_json::from_slice(body).map_err(|_| bad())?;
        let id_ok = event.id.len() <= 255
            && event.id.strip_prefix("evt_").is_some_and(|r| {
                !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if !id_ok || event.created <= 0 || !event.data.object.is_object() || event.kind.len() > 100
        {
            return Err(bad());
        }
        Ok(event)
    }

    pub fn change(&self) -> Change {
        match self.kind.as_str() {
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
            _ => Change::Other,
        }
    }

    /// The customer the event is about, when it names a well-formed one.
    pub fn customer(&self) -> Option<String> {
        let o = &self.data.object;
        let id = match o["object"].as_str() {
            Some("customer") => o["id"].as_str(),
            // A dispute names its charge only; the charge names the customer.
            Some("dispute") => o["customer"].as_str().or(o["charge"]["customer"].as_str()),
            _ => o["customer"].as_str(),
        };
        id.filter(|c| valid_customer_id(c)).map(String::from)
    }

    pub fn stamp(&self) -> Stamp {
        Stamp {
            created: self.created,
            event: self.id.clone(),
        }
    }

    fn object_id(&self) -> &str {
        self.data.object["id"].as_str().unwrap_or("-")
    }

    /// The fact key this event writes: one per subscription, dispute; one per customer
    /// for the rest.
    pub fn fact_key(&self) -> String {
        match self.change() {
            Change::Subscription => format!("sub#{}", self.object_id()),
            Change::Disputed => format!("dispute#{}", self.object_id()),
            Change::PaymentFailed => "payment_failure".into(),
            Change::Refunded => "last_refund".into(),
            _ => "customer".into(),
        }
    }
}

/// What we keep of a subscription (never its payment method or anything of the card).
pub fn subscription_fact(sub: &Value, plan_tier: Option<&str>) -> Value {
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
pub fn product_of(sub: &Value) -> Option<&str> {
    let product = &sub["items"]["data"][0]["price"]["product"];
    product.as_str().or(product["id"].as_str())
}

pub fn price_of(sub: &Value) -> Option<&str> {
    sub["items"]["data"][0]["price"]["id"].as_str()
}

/// A recovery record from an invoice event; `decline` in plain words.
pub fn recovery(
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
        amount_due: serde_json::to_value(crate::money::Money::new(amount, currency))
            .unwrap_or(Value::Null),
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
