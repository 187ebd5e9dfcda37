//! Emulator-only control surface under `/_emulator/` (no auth; JSON or form bodies).

use axum::Json;
use axum::Router;
use axum::body::Bytes;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::{Map, Value, json};
use std::collections::HashMap;

use crate::form;
use crate::params::{opt_int, opt_str};
use crate::resources::lifecycle;
use crate::store::{Emulator, Fault, FaultKind, Shared};

const DEFAULT_HANG_MS: u64 = 30_000;

pub fn routes() -> Router<Shared> {
    Router::new()
        .route("/_emulator/reset", post(reset))
        .route("/_emulator/clock", get(clock))
        .route("/_emulator/clock/advance", post(advance))
        .route("/_emulator/latency", post(latency))
        .route(
            "/_emulator/faults",
            post(add_fault).delete(clear_faults).get(list_faults),
        )
        .route("/_emulator/requests", get(requests).delete(clear_requests))
        .route("/_emulator/keys/revoke", post(revoke))
        .route("/_emulator/keys/restricted", post(restricted_key))
        .route("/_emulator/webhooks", post(set_webhooks).get(get_webhooks))
        .route(
            "/_emulator/checkout/sessions/{id}/complete",
            post(complete_checkout),
        )
        .route("/_emulator/portal/unconfigured", post(portal_unconfigured))
}

fn bad(message: impl Into<String>) -> Response {
    (
        StatusCode::BAD_REQUEST,
        Json(json!({"error": {"type": "invalid_request_error", "message": message.into()}})),
    )
        .into_response()
}

/// Control handlers fail with a message; `reply` turns it into a 400.
type Outcome = Result<Value, String>;

fn reply(outcome: Outcome) -> Response {
    match outcome {
        Ok(v) => Json(v).into_response(),
        Err(message) => bad(message),
    }
}

fn body_params(headers: &HeaderMap, body: &[u8]) -> Result<Map<String, Value>, String> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Ok(Map::new());
    }
    let is_json = headers
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|c| c.contains("json"))
        || body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{');
    if is_json {
        match serde_json::from_slice::<Value>(body) {
            Ok(Value::Object(m)) => Ok(m),
            _ => Err("Body must be a JSON object.".into()),
        }
    } else {
        form::decode(body).map_err(|e| e.message)
    }
}

fn int_field(m: &Map<String, Value>, name: &str) -> Result<Option<i64>, String> {
    opt_int(m.get(name), name).map_err(|e| e.message)
}

fn str_field(m: &Map<String, Value>, name: &str) -> Result<Option<String>, String> {
    opt_str(m.get(name), name).map_err(|e| e.message)
}

/// Empties the emulator. `offset` (seconds, may be negative) starts the fresh clock that far
/// from real time, so seeded history (a month of renewals, say) can end today rather than
/// in the future. Only an empty emulator may travel back: objects never see time reverse.
async fn reset(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(body_params(&headers, &body).and_then(|m| {
        let offset = int_field(&m, "offset")?.unwrap_or(0);
        *shared.lock() = Emulator {
            clock_offset: offset,
            ..Emulator::default()
        };
        Ok(json!({"ok": true, "offset": offset}))
    }))
}

async fn clock(State(shared): State<Shared>) -> Response {
    let st = shared.lock();
    Json(json!({"now": st.now(), "offset": st.clock_offset})).into_response()
}

async fn advance(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(do_advance(&shared, &headers, &body))
}

fn do_advance(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let m = body_params(headers, body)?;
    let seconds = int_field(&m, "seconds")?;
    let to = int_field(&m, "to")?;
    let mut st = shared.lock();
    let now = st.now();
    let delta = match (seconds, to) {
        (Some(s), None) if s >= 0 => s,
        (None, Some(t)) if t >= now => t - now,
        _ => return Err("Pass `seconds` (>= 0) or `to` (a unix time not in the past).".into()),
    };
    st.clock_offset += delta;
    let offset = st.clock_offset;
    let target = st.now();
    for acct in st.accounts.values_mut() {
        crate::events::trial_will_end(acct, now, target);
        lifecycle::advance(acct, offset, target);
    }
    drop(st);
    crate::events::flush(shared);
    Ok(json!({"now": target, "offset": offset}))
}

async fn latency(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(set_latency(&shared, &headers, &body))
}

fn set_latency(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let m = body_params(headers, body)?;
    let ms = match int_field(&m, "ms")? {
        Some(ms) if ms >= 0 => ms as u64,
        _ => return Err("`ms` (>= 0) is required.".into()),
    };
    let key = str_field(&m, "key")?;
    let mut st = shared.lock();
    match key {
        Some(k) if ms == 0 => {
            st.latency_by_key.remove(&k);
        }
        Some(k) => {
            st.latency_by_key.insert(k, ms);
        }
        None => {
            st.latency_all = ms;
            if ms == 0 {
                st.latency_by_key.clear();
            }
        }
    }
    Ok(json!({"ms": ms}))
}

async fn add_fault(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(push_fault(&shared, &headers, &body))
}

fn push_fault(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let m = body_params(headers, body)?;
    let hang_ms = int_field(&m, "hang_ms")?.map_or(DEFAULT_HANG_MS, |h| h.max(0) as u64);
    let kind = match str_field(&m, "kind")?.as_deref() {
        Some("500") => FaultKind::ServerError,
        Some("429") => FaultKind::RateLimit,
        Some("hang") => FaultKind::Hang(hang_ms),
        Some("reset") => FaultKind::Reset,
        _ => return Err("`kind` must be one of 500, 429, hang, reset.".into()),
    };
    let count = int_field(&m, "count")?.unwrap_or(1);
    if count < 1 {
        return Err("`count` must be at least 1.".into());
    }
    let key = str_field(&m, "key")?;
    let method = str_field(&m, "method")?;
    let after = matches!(str_field(&m, "after")?.as_deref(), Some("true"))
        || m.get("after") == Some(&Value::Bool(true));
    if after && !matches!(kind, FaultKind::Hang(_) | FaultKind::Reset) {
        return Err("`after` goes with `hang` or `reset`.".into());
    }
    shared.lock().faults.push(Fault {
        kind,
        remaining: count as u64,
        key,
        method,
        after,
    });
    Ok(json!({"ok": true}))
}

async fn clear_faults(State(shared): State<Shared>) -> Response {
    shared.lock().faults.clear();
    Json(json!({"ok": true})).into_response()
}

async fn list_faults(State(shared): State<Shared>) -> Response {
    let st = shared.lock();
    let faults: Vec<Value> = st
        .faults
        .iter()
        .map(|f| {
            let kind = match f.kind {
                FaultKind::ServerError => "500",
                FaultKind::RateLimit => "429",
                FaultKind::Hang(_) => "hang",
                FaultKind::Reset => "reset",
            };
            json!({"kind": kind, "remaining": f.remaining, "key": f.key,
                   "method": f.method, "after": f.after})
        })
        .collect();
    Json(json!({"faults": faults})).into_response()
}

async fn requests(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(key) = q.get("key") else {
        return bad("`key` query parameter is required.");
    };
    let st = shared.lock();
    let entries: Vec<Value> = st
        .request_logs
        .get(key)
        .map(|l| l.iter().cloned().collect())
        .unwrap_or_default();
    let total = st.request_totals.get(key).copied().unwrap_or(0);
    Json(json!({"count": entries.len(), "total": total, "requests": entries})).into_response()
}

async fn clear_requests(
    State(shared): State<Shared>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(key) = q.get("key") else {
        return bad("`key` query parameter is required.");
    };
    let mut st = shared.lock();
    st.request_logs.remove(key);
    st.request_totals.remove(key);
    Json(json!({"ok": true})).into_response()
}

async fn revoke(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(body_params(&headers, &body).and_then(|m| {
        let key = str_field(&m, "key")?.ok_or("`key` is required.")?;
        shared.lock().revoked.insert(key);
        Ok(json!({"ok": true}))
    }))
}

/// `POST /_emulator/keys/restricted {"key": "sk_test_…", "permissions": ["customer_read",
/// …]}`: a new `rk_` key of the same mode on that key's account, allowed only those
/// permissions (Stripe's names without `rak_`; a `_write` includes its `_read`).
async fn restricted_key(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(body_params(&headers, &body).and_then(|m| {
        let parent = str_field(&m, "key")?.ok_or("`key` is required.")?;
        let mode = match parent.get(..8) {
            Some("sk_test_") => "test",
            Some("sk_live_") => "live",
            _ => return Err("`key` must be a secret key (sk_test_ or sk_live_).".into()),
        };
        let permissions = match m.get("permissions") {
            Some(Value::Array(a)) => a
                .iter()
                .map(|p| {
                    p.as_str()
                        .map(str::to_string)
                        .ok_or("permissions are strings")
                })
                .collect::<Result<std::collections::BTreeSet<_>, _>>()?,
            _ => return Err("`permissions` must be a list.".into()),
        };
        if let Some(bad) = permissions.iter().find(|p| !crate::restricted::known(p)) {
            return Err(format!("unknown permission `{bad}`"));
        }
        let key = format!("rk_{mode}_{}", crate::store::random_alnum(24));
        shared.lock().restricted.insert(
            key.clone(),
            crate::restricted::Restricted {
                parent,
                permissions: permissions.clone(),
            },
        );
        Ok(json!({"key": key, "permissions": permissions}))
    }))
}

/// `POST /_emulator/webhooks {"duplicate", "shuffle", "delay_ms", "drop"}`: how the next
/// deliveries misbehave (each field optional; `drop` counts deliveries never sent).
async fn set_webhooks(State(shared): State<Shared>, headers: HeaderMap, body: Bytes) -> Response {
    reply(do_set_webhooks(&shared, &headers, &body))
}

fn do_set_webhooks(shared: &Shared, headers: &HeaderMap, body: &[u8]) -> Outcome {
    let m = body_params(headers, body)?;
    let flag = |name: &str| -> Result<Option<bool>, String> {
        match m.get(name) {
            None => Ok(None),
            Some(Value::Bool(b)) => Ok(Some(*b)),
            Some(_) => Err(format!("`{name}` must be true or false.")),
        }
    };
    let (duplicate, shuffle) = (flag("duplicate")?, flag("shuffle")?);
    let (delay, drop) = (int_field(&m, "delay_ms")?, int_field(&m, "drop")?);
    if delay.is_some_and(|d| d < 0) || drop.is_some_and(|d| d < 0) {
        return Err("`delay_ms` and `drop` must be >= 0.".into());
    }
    let mut st = shared.lock();
    let w = &mut st.webhooks;
    if let Some(d) = duplicate {
        w.duplicate = d;
    }
    if let Some(s) = shuffle {
        w.shuffle = s;
    }
    if let Some(d) = delay {
        w.delay_ms = d as u64;
    }
    if let Some(d) = drop {
        w.drop = d as u64;
    }
    Ok(webhooks_view(&st))
}

async fn get_webhooks(State(shared): State<Shared>) -> Response {
    let st = shared.lock();
    Json(webhooks_view(&st)).into_response()
}

fn webhooks_view(st: &crate::store::Emulator) -> Value {
    let w = &st.webhooks;
    json!({"duplicate": w.duplicate, "shuffle": w.shuffle, "delay_ms": w.delay_ms,
           "drop": w.drop, "failed_deliveries": st.failed_deliveries})
}

/// `POST /_emulator/checkout/sessions/{id}/complete {"key": "sk_test_…", "card"?:
/// "pm_card_visa"}`: the customer completes the Checkout Session on Stripe's page, paying
/// with the test card (a declining one leaves the subscription incomplete); Stripe's events
/// follow. Answers the session as the API would show it.
async fn complete_checkout(
    State(shared): State<Shared>,
    axum::extract::Path(id): axum::extract::Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(body_params(&headers, &body).and_then(|m| {
        let key = str_field(&m, "key")?.ok_or("`key` is required.")?;
        let card = str_field(&m, "card")?.unwrap_or_else(|| "pm_card_visa".into());
        let mut st = shared.lock();
        let now = st.now();
        let clock_offset = st.clock_offset;
        let mut ctx = crate::store::Ctx {
            acct: st.account(&key),
            now,
            clock_offset,
        };
        let done = crate::resources::checkout::complete(&mut ctx, &id, &card);
        crate::events::emit(ctx.acct, now, None);
        drop(st);
        crate::events::flush(&shared);
        done.map_err(|e| e.message)
    }))
}

/// `POST /_emulator/portal/unconfigured {"key": "sk_test_…"}`: the account has never saved
/// its Billing Portal settings (no configuration), so Stripe refuses portal sessions.
async fn portal_unconfigured(
    State(shared): State<Shared>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    reply(body_params(&headers, &body).and_then(|m| {
        let key = str_field(&m, "key")?.ok_or("`key` is required.")?;
        let mut st = shared.lock();
        let acct = st.account(&key);
        let ids: Vec<String> = acct
            .all("billing_portal.configuration")
            .iter()
            .filter_map(|c| c["id"].as_str().map(str::to_string))
            .collect();
        for id in &ids {
            acct.remove(id);
        }
        Ok(json!({"removed": ids}))
    }))
}
