//! Stripe's event envelope, as a verified webhook body carries it.
use serde::Deserialize;
use serde_json::Value;

use crate::stripe::ids::valid_customer_id;

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

impl Event {
    /// The envelope from a verified body: Stripe's shape, an `evt_` id, a positive
    /// `created` and an object.
    pub fn parse(body: &[u8]) -> Option<Self> {
        let event: Event = serde_json::from_slice(body).ok()?;
        let id_ok = event.id.len() <= 255
            && event.id.strip_prefix("evt_").is_some_and(|r| {
                !r.is_empty() && r.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
            });
        if !id_ok || event.created <= 0 || !event.data.object.is_object() || event.kind.len() > 100
        {
            return None;
        }
        Some(event)
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

    /// The event's object's id.
    pub fn object_id(&self) -> &str {
        self.data.object["id"].as_str().unwrap_or("-")
    }
}
