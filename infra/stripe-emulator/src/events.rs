//! The events Stripe would emit, derived in one place from the account's journal (each
//! changed object and what it was before), and their delivery, signed as Stripe signs, to
//! the account's webhook endpoints, with retries and the test controls (deliver twice,
//! shuffle, delay, drop).
use std::time::Duration;

use hmac::{Hmac, Mac};
use serde_json::{Map, Value, json};
use sha2::Sha256;

use crate::outbox::Delivery;
use crate::render::render;
use crate::store::{Account, Shared, new_id};
use crate::wire::DEFAULT_API_VERSION;

/// Waits between attempts after a failed delivery (Stripe backs off over 3 days; the
/// emulator over half a minute).
const RETRY_AFTER_MS: [u64; 5] = [500, 1_000, 2_000, 4_000, 8_000];

/// Turns the journal into events at `now`, stores them, and queues their deliveries.
pub fn emit(acct: &mut Account, now: i64, request: Option<(&str, Option<&str>)>) {
    let journal = std::mem::take(&mut acct.journal);
    for (id, before) in journal {
        let Some(after) = acct.get(&id).cloned() else {
            continue;
        };
        for (kind, previous) in kinds(before.as_ref(), &after) {
            let object = render(acct, &after);
            publish(acct, now, kind, object, previous, request);
        }
    }
}

/// A subscription's trial ends in 3 days: Stripe's heads-up, when the clock passes it.
pub fn trial_will_end(acct: &mut Account, from: i64, to: i64) {
    let due: Vec<Value> = acct
        .all("subscription")
        .into_iter()
        .filter(|s| s["status"] == "trialing")
        .filter(|s| {
            s["trial_end"]
                .as_i64()
                .is_some_and(|end| (from + 1..=to).contains(&(end - 3 * 86_400)))
        })
        .cloned()
        .collect();
    for sub in due {
        let at = sub["trial_end"].as_i64().unwrap_or(to) - 3 * 86_400;
        let object = render(acct, &sub);
        publish(
            acct,
            at,
            "customer.subscription.trial_will_end",
            object,
            None,
            None,
        );
    }
}

fn publish(
    acct: &mut Account,
    now: i64,
    kind: &str,
    object: Value,
    previous: Option<Value>,
    request: Option<(&str, Option<&str>)>,
) {
    let endpoints: Vec<(String, String)> = acct
        .all("webhook_endpoint")
        .into_iter()
        .filter(|e| e["status"] == "enabled")
        .filter(|e| {
            e["enabled_events"]
                .as_array()
                .is_some_and(|l| l.iter().any(|t| t == "*" || t == kind))
        })
        .filter_map(|e| {
            Some((
                e["url"].as_str()?.to_string(),
                e["secret"].as_str()?.to_string(),
            ))
        })
        .collect();
    let mut data = json!({"object": object});
    if let Some(p) = previous {
        data["previous_attributes"] = p;
    }
    let event = json!({
        "id": new_id("evt"), "object": "event", "account": null, "api_version": DEFAULT_API_VERSION,
        "context": null, "created": now, "data": data, "livemode": false, "pending_webhooks": endpoints.len(),
        "request": {
            "id": request.map(|(id, _)| id),
            "idempotency_key": request.and_then(|(_, k)| k),
        },
        "type": kind,
    });
    let body = event.to_string();
    acct.put(event);
    for (url, secret) in endpoints {
        acct.outbox.push(Delivery {
            url,
            secret,
            body: body.clone(),
        });
    }
}

/// The event types one change makes, each with its `previous_attributes` where Stripe
/// sends them. An object created and moved on in one request (an invoice finalized and
/// charged) makes its creation event and then those of each step, as Stripe's do.
fn kinds(before: Option<&Value>, after: &Value) -> Vec<(&'static str, Option<Value>)> {
    let object = after["object"].as_str().unwrap_or_default();
    let blank = json!({});
    let created = before.is_none();
    let base = before.unwrap_or(&blank);
    let changed = |f: &str| base[f] != after[f];
    let became = |f: &str, v: &str| changed(f) && after[f] == v;
    let previous = (!created).then(|| previous_attributes(base, after));
    let updated = previous
        .as_ref()
        .is_some_and(|p| !p.as_object().is_some_and(Map::is_empty));
    let mut out = Vec::new();
    match object {
        "customer" if created => out.push(("customer.created", None)),
        "customer" if changed("deleted") && after["deleted"] == true => {
            out.push(("customer.deleted", None));
        }
        "customer" if updated => out.push(("customer.updated", previous)),
        "subscription" if created => out.push(("customer.subscription.created", None)),
        "subscription" if became("status", "canceled") => {
            out.push(("customer.subscription.deleted", None));
        }
        "subscription" if updated => {
            if became("status", "paused") {
                out.push(("customer.subscription.paused", None));
            } else if changed("status") && base["status"] == "paused" {
                out.push(("customer.subscription.resumed", None));
            }
            out.push(("customer.subscription.updated", previous));
        }
        "invoice" => {
            if created {
                out.push(("invoice.created", None));
            }
            let finalized = became("status", "open")
                || (created && matches!(after["status"].as_str(), Some("open" | "paid")));
            if finalized {
                out.push(("invoice.finalized", None));
            }
            if became("status", "paid") {
                out.push(("invoice.paid", None));
                out.push(("invoice.payment_succeeded", None));
            } else if after["attempt_count"].as_i64().unwrap_or(0)
                > base["attempt_count"].as_i64().unwrap_or(0)
            {
                out.push(("invoice.payment_failed", None));
            }
            if updated {
                out.push(("invoice.updated", previous));
            }
        }
        "charge" if created => out.push(match after["status"].as_str() {
            Some("failed") => ("charge.failed", None),
            _ => ("charge.succeeded", None),
        }),
        "charge" if after["amount_refunded"].as_i64() > base["amount_refunded"].as_i64() => {
            out.push(("charge.refunded", previous));
        }
        "charge" if updated => out.push(("charge.updated", previous)),
        "dispute" if created => out.push(("charge.dispute.created", None)),
        "checkout.session" if became("status", "complete") => {
            out.push(("checkout.session.completed", None));
        }
        "checkout.session" if became("status", "expired") => {
            out.push(("checkout.session.expired", None));
        }
        "refund" if created => out.push(("refund.created", None)),
        "payment_intent" => {
            if created {
                out.push(("payment_intent.created", None));
            }
            if became("status", "succeeded") {
                out.push(("payment_intent.succeeded", None));
            } else if became("status", "requires_action") {
                out.push(("payment_intent.requires_action", None));
            } else if changed("last_payment_error") && after["last_payment_error"].is_object() {
                out.push(("payment_intent.payment_failed", None));
            } else if became("status", "canceled") {
                out.push(("payment_intent.canceled", None));
            }
        }
        _ => {}
    }
    out
}

/// The top-level fields that changed, with their old values.
/// The attributes an update changed, at their values before it. Stripe's reference
/// (`event.data.previous_attributes`): "Object containing the names of the updated
/// attributes and their values prior to the event (only included in events of type
/// `*.updated`). If an array attribute has any updated elements, this object contains the
/// entire array." A nested hash is itself such an object: only its changed keys.
fn previous_attributes(before: &Value, after: &Value) -> Value {
    let (Some(b), Some(a)) = (before.as_object(), after.as_object()) else {
        return json!({});
    };
    let mut changed = Map::new();
    for (k, old) in b {
        let new = a.get(k).unwrap_or(&Value::Null);
        if new == old {
            continue;
        }
        let value = match (old, new) {
            (Value::Object(_), Value::Object(_)) => previous_attributes(old, new),
            _ => old.clone(),
        };
        changed.insert(k.clone(), value);
    }
    // A key the update added was absent, which Stripe says as null.
    for k in a.keys().filter(|k| !b.contains_key(*k)) {
        changed.insert(k.clone(), Value::Null);
    }
    Value::Object(changed)
}

/// `t=...,v1=...` for `body` at `t` under `secret`, as Stripe signs.
pub fn signature(secret: &str, t: i64, body: &str) -> String {
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key");
    mac.update(format!("{t}.{body}").as_bytes());
    let hex: String = mac
        .finalize()
        .into_bytes()
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    format!("t={t},v1={hex}")
}

/// Sends what the accounts' outboxes hold, in the background.
pub fn flush(shared: &Shared) {
    let (batch, controls) = {
        let mut st = shared.lock();
        let batch: Vec<Delivery> = st
            .accounts
            .values_mut()
            .flat_map(|a| std::mem::take(&mut a.outbox))
            .collect();
        let mut batch = batch;
        let dropped = (st.webhooks.drop as usize).min(batch.len());
        st.webhooks.drop -= dropped as u64;
        batch.drain(..dropped);
        (batch, st.webhooks.clone())
    };
    if batch.is_empty() {
        return;
    }
    let mut batch = batch;
    if controls.duplicate {
        batch = batch.into_iter().flat_map(|d| [d.clone(), d]).collect();
    }
    if controls.shuffle {
        use rand::seq::SliceRandom;
        batch.shuffle(&mut rand::rng());
    }
    let shared = shared.clone();
    tokio::spawn(async move {
        if controls.delay_ms > 0 {
            tokio::time::sleep(Duration::from_millis(controls.delay_ms)).await;
        }
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .expect("an HTTP client");
        // In order unless shuffled: one after another, as Stripe sends an endpoint's
        // events (a failed one is retried later, so order is never promised).
        for d in batch {
            let ok = send(&client, &d).await;
            if !ok {
                let client = client.clone();
                let shared = shared.clone();
                tokio::spawn(async move { retry(&client, &shared, d).await });
            }
        }
    });
}

async fn send(client: &reqwest::Client, d: &Delivery) -> bool {
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs() as i64);
    client
        .post(&d.url)
        .header("content-type", "application/json; charset=utf-8")
        .header("stripe-signature", signature(&d.secret, t, &d.body))
        .header(
            "user-agent",
            "Stripe/1.0 (+https://stripe.com/docs/webhooks)",
        )
        .body(d.body.clone())
        .send()
        .await
        .is_ok_and(|r| r.status().is_success())
}

async fn retry(client: &reqwest::Client, shared: &Shared, d: Delivery) {
    for wait in RETRY_AFTER_MS {
        tokio::time::sleep(Duration::from_millis(wait)).await;
        if send(client, &d).await {
            return;
        }
    }
    tracing::warn!(url = %d.url, "webhook delivery gave up");
    shared.lock().failed_deliveries += 1;
}
