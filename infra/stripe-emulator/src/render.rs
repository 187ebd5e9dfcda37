//! Objects as the API returns them, from what the store holds.
use serde_json::{Value, json};

use crate::store::Account;

/// The object as the API returns it. Subscription items embed their price, so refresh it
/// from the store in case the price was updated since.
pub fn render(acct: &Account, obj: &Value) -> Value {
    let mut out = obj.clone();
    // An endpoint's signing secret is shown once, when it is created.
    if obj["object"] == "webhook_endpoint"
        && let Some(o) = out.as_object_mut()
    {
        o.remove("secret");
    }
    // The emulator's own notes on an object (what completing a Checkout Session needs).
    if let Some(o) = out.as_object_mut() {
        o.remove("_emulator");
    }
    strip_includable(&mut out);
    if obj["object"] == "subscription"
        && let Some(items) = out["items"]["data"].as_array_mut()
    {
        for item in items {
            let price_id = item["price"]["id"].as_str().unwrap_or_default().to_string();
            if let Some(price) = acct.get(&price_id) {
                item["plan"] = plan_of(price);
                item["price"] = price.clone();
            }
        }
    }
    out
}

/// The legacy `plan` view Stripe still embeds in subscription items.
pub fn plan_of(price: &Value) -> Value {
    json!({
        "id": price["id"], "object": "plan", "active": price["active"],
        "amount": price["unit_amount"], "amount_decimal": price["unit_amount_decimal"],
        "billing_scheme": "per_unit", "created": price["created"], "currency": price["currency"],
        "interval": price["recurring"]["interval"],
        "interval_count": price["recurring"]["interval_count"], "livemode": false,
        "metadata": price["metadata"], "meter": null, "nickname": price["nickname"],
        "product": price["product"], "tiers_mode": null, "transform_usage": null,
        "trial_period_days": price["recurring"]["trial_period_days"], "usage_type": "licensed",
    })
}

/// Fields Stripe sends only when a request expands them ("includable"): the store keeps
/// them, an answer leaves them out, and `expand::includable` puts them back on request.
/// `charge.refunds`: not included by default since API version 2022-11-15; a coupon's
/// `applies_to` and `currency_options`: "This field is not included by default. To include
/// it in the response, expand the ... field."
pub const INCLUDABLE: &[(&str, &str)] = &[
    ("charge", "refunds"),
    ("coupon", "applies_to"),
    ("coupon", "currency_options"),
];

pub fn strip_includable(v: &mut Value) {
    match v {
        Value::Object(o) => {
            let kind = o
                .get("object")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            for (k, field) in INCLUDABLE {
                if *k == kind {
                    o.remove(*field);
                }
            }
            o.values_mut().for_each(strip_includable);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_includable),
        _ => {}
    }
}
