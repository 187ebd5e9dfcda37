//! The `/v1` request pipeline: faults and latency, auth, parameter decoding, idempotency,
//! dispatch, expansion, request logging, and Stripe's response headers.

use std::time::Duration;

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, Uri};
use axum::response::Response;
use base64::Engine;
use serde_json::{Value, json};

use crate::errors::ApiError;
use crate::params::Params;
use crate::resources::{dispatch, lifecycle};
use crate::store::{Ctx, Emulator, FaultKind, Shared, StoredResponse, random_alnum};
use crate::wire::{DEFAULT_API_VERSION, mask};
use crate::{expand, form};

const MAX_IDEMPOTENCY_KEY: usize = 255;

/// Unwinding with this payload drops the connection without an HTTP response (the
/// `reset` fault). `resume_unwind` skips the panic hook, so nothing is printed.
pub struct ConnectionReset;

struct Outcome {
    status: u16,
    body: Value,
    original_request: Option<String>,
}

fn unix_micros() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_micros() as u64)
}

pub async fn handle(
    State(shared): State<Shared>,
    method: Method,
    uri: Uri,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let request_id = format!("req_{}", random_alnum(14));
    let key = api_key(&headers);
    let idem = header(&headers, "idempotency-key");
    let path = uri.path().to_string();
    let log_key = key.clone().filter(|k| well_formed(k));
    // Wall-clock bounds, so a client can tell requests made one after another from
    // requests made at once (its round trips to Stripe).
    let started_us = unix_micros();
    let log = |status: u16| {
        if let Some(k) = &log_key {
            shared.lock().log_request(
                k,
                json!({"method": method.as_str(), "path": path, "status": status,
                       "idempotency_key": idem, "started_us": started_us,
                       "ended_us": unix_micros()}),
            );
        }
    };

    // A POST whose idempotency key another request is still using gets Stripe's 409.
    let _claim = match (&method, &log_key, &idem) {
        (&Method::POST, Some(k), Some(i)) => match InFlight::claim(&shared, k, i) {
            Some(claim) => Some(claim),
            None => {
                let outcome = error_outcome(ApiError::idempotency_in_use(i), &request_id);
                log(outcome.status);
                return respond(outcome, &headers, &request_id, idem.as_deref());
            }
        },
        _ => None,
    };
    let (fault, latency) = {
        let mut st = shared.lock();
        (
            st.take_fault(key.as_deref(), method.as_str()),
            st.latency_for(key.as_deref()),
        )
    };
    if latency > 0 {
        tokio::time::sleep(Duration::from_millis(latency)).await;
    }
    let (fault, after) = match fault {
        Some((kind, true)) => (None, Some(kind)),
        Some((kind, false)) => (Some(kind), None),
        None => (None, None),
    };
    let outcome = match fault {
        Some(FaultKind::Reset) => {
            log(0);
            std::panic::resume_unwind(Box::new(ConnectionReset));
        }
        Some(FaultKind::Hang(ms)) => {
            log(0);
            tokio::time::sleep(Duration::from_millis(ms)).await;
            std::panic::resume_unwind(Box::new(ConnectionReset));
        }
        Some(FaultKind::ServerError) => error_outcome(ApiError::server_error(), &request_id),
        Some(FaultKind::RateLimit) => error_outcome(ApiError::rate_limit(), &request_id),
        None => match check_version(header(&headers, "stripe-version").as_deref()) {
            Err(e) => error_outcome(e, &request_id),
            Ok(()) => {
                let mut st = shared.lock();
                process(
                    &mut st,
                    &method,
                    &uri,
                    &body,
                    key.as_deref(),
                    idem.as_deref(),
                    &request_id,
                )
            }
        },
    };
    log(outcome.status);
    crate::record::answer(
        method.as_str(),
        &path,
        uri.query(),
        &body,
        outcome.status,
        &outcome.body,
    );
    crate::events::flush(&shared);
    // Applied, but the answer never arrives.
    match after {
        Some(FaultKind::Hang(ms)) => {
            tokio::time::sleep(Duration::from_millis(ms)).await;
            std::panic::resume_unwind(Box::new(ConnectionReset));
        }
        Some(_) => std::panic::resume_unwind(Box::new(ConnectionReset)),
        None => {}
    }
    respond(outcome, &headers, &request_id, idem.as_deref())
}

fn error_outcome(e: ApiError, request_id: &str) -> Outcome {
    Outcome {
        status: e.status,
        body: e.body(request_id),
        original_request: None,
    }
}

fn process(
    st: &mut Emulator,
    method: &Method,
    uri: &Uri,
    body: &[u8],
    key: Option<&str>,
    idem: Option<&str>,
    request_id: &str,
) -> Outcome {
    let key = match authenticate(st, key) {
        Ok(k) => k,
        Err(e) => return error_outcome(e, request_id),
    };
    // A restricted key works on its parent's account, within its permissions.
    let key = match st.restricted.get(&key) {
        Some(r) => {
            let segs: Vec<&str> = segments(uri.path());
            if let Err(e) = r.check(&key, method.as_str(), &segs) {
                return error_outcome(e, request_id);
            }
            r.parent.clone()
        }
        None => key,
    };
    let params = match decode_params(method, uri, body) {
        Ok(p) => p,
        Err(e) => return error_outcome(e, request_id),
    };
    let idem = if *method == Method::POST { idem } else { None };
    let fingerprint = format!(
        "{method} {} {}",
        uri.path(),
        Value::Object(params.0.clone())
    );
    if let Some(k) = idem {
        if k.len() > MAX_IDEMPOTENCY_KEY {
            return error_outcome(
                ApiError::invalid(format!(
                    "Idempotency keys can be at most {MAX_IDEMPOTENCY_KEY} characters long."
                )),
                request_id,
            );
        }
        let now = st.now();
        st.account(&key)
            .idempotency
            .retain(|_, r| now - r.stored_at < crate::store::IDEMPOTENCY_KEY_LIFE);
        if let Some(stored) = st.account(&key).idempotency.get(k) {
            if stored.fingerprint == fingerprint {
                return Outcome {
                    status: stored.status,
                    body: stored.body.clone(),
                    original_request: Some(stored.request_id.clone()),
                };
            }
            return error_outcome(
                ApiError::idempotency(format!(
                    "Keys for idempotent requests can only be used with the same parameters they were first used with. Try using a key other than '{k}' if you meant to execute a different request."
                )),
                request_id,
            );
        }
    }
    let (status, body, keep) = match run(st, &key, method, uri.path(), &params, request_id, idem) {
        Ok(v) => (200, v, true),
        // Stripe saves no result for requests that fail parameter validation.
        Err(e) => (
            e.status,
            e.body(request_id),
            !e.code.is_some_and(|c| c.starts_with("parameter_")),
        ),
    };
    if let Some(k) = idem.filter(|_| keep) {
        let stored_at = st.now();
        st.account(&key).idempotency.insert(
            k.to_string(),
            StoredResponse {
                fingerprint,
                status,
                body: body.clone(),
                request_id: request_id.to_string(),
                stored_at,
            },
        );
    }
    Outcome {
        status,
        body,
        original_request: None,
    }
}

fn run(
    st: &mut Emulator,
    key: &str,
    method: &Method,
    path: &str,
    params: &Params,
    request_id: &str,
    idem: Option<&str>,
) -> Result<Value, ApiError> {
    let paths = params.expand()?;
    expand::check_depth(&paths)?;
    let segs = segments(path);
    let now = st.now();
    let clock_offset = st.clock_offset;
    // Whatever came due as real time passed (a renewal's finalization, say) happens first.
    lifecycle::advance(st.account(key), clock_offset, now);
    let mut ctx = Ctx {
        acct: st.account(key),
        now,
        clock_offset,
    };
    let answer = dispatch(&mut ctx, method.as_str(), &segs, params);
    // A refused request may have changed things too (a declined payment is recorded).
    crate::events::emit(ctx.acct, now, Some((request_id, idem)));
    let mut value = answer?;
    // Every answer leaves out includable fields, whichever handler made it; `expand[]` puts
    // back those asked for.
    crate::render::strip_includable(&mut value);
    expand::apply(ctx.acct, &mut value, &paths)?;
    Ok(value)
}

fn segments(path: &str) -> Vec<&str> {
    path.strip_prefix("/v1")
        .unwrap_or(path)
        .split('/')
        .filter(|s| !s.is_empty())
        .collect()
}

fn decode_params(method: &Method, uri: &Uri, body: &[u8]) -> Result<Params, ApiError> {
    let mut map = form::decode(uri.query().unwrap_or_default().as_bytes())?;
    if *method == Method::POST {
        if body.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'{') {
            return Err(ApiError::invalid(
                "Invalid request: Stripe expects application/x-www-form-urlencoded bodies.",
            ));
        }
        map.extend(form::decode(body)?);
    }
    Ok(Params(map))
}

const MISSING_KEY: &str = "You did not provide an API key. You need to provide your API key in the Authorization header, using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY'). See https://stripe.com/docs/api#authentication for details, or we can help at https://support.stripe.com/.";

fn authenticate(st: &Emulator, key: Option<&str>) -> Result<String, ApiError> {
    let Some(key) = key.filter(|k| !k.is_empty()) else {
        return Err(ApiError::auth(MISSING_KEY.into()));
    };
    if !well_formed(key) || st.revoked.contains(key) {
        return Err(ApiError::auth(format!(
            "Invalid API Key provided: {}",
            mask(key)
        )));
    }
    Ok(key.to_string())
}

/// `^(sk|rk)_(test|live)_[A-Za-z0-9]{10,}$`
pub fn well_formed(key: &str) -> bool {
    let mut parts = key.splitn(3, '_');
    let (Some(kind), Some(mode), Some(rest)) = (parts.next(), parts.next(), parts.next()) else {
        return false;
    };
    matches!(kind, "sk" | "rk")
        && matches!(mode, "test" | "live")
        && rest.len() >= 10
        && rest.chars().all(|c| c.is_ascii_alphanumeric())
}

/// Holds an idempotency key while its request runs; released when dropped, even when the
/// request ends by unwinding (the `reset` fault).
struct InFlight {
    shared: Shared,
    slot: (String, String),
}

impl InFlight {
    fn claim(shared: &Shared, api_key: &str, idem: &str) -> Option<Self> {
        let slot = (api_key.to_string(), idem.to_string());
        shared.lock().in_flight.insert(slot.clone()).then(|| Self {
            shared: shared.clone(),
            slot,
        })
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.shared.lock().in_flight.remove(&self.slot);
    }
}

/// A `Stripe-Version` must look like a Stripe version: `YYYY-MM-DD`, optionally followed by
/// a release name (`.endive`) and beta flags (`; feature_beta=v1`).
fn check_version(version: Option<&str>) -> Result<(), ApiError> {
    let Some(raw) = version else {
        return Ok(());
    };
    let base = raw.split(';').next().unwrap_or_default().trim();
    let (date, name) = match base.split_once('.') {
        Some((d, n)) => (d, Some(n)),
        None => (base, None),
    };
    let parts: Vec<&str> = date.split('-').collect();
    let digits = |s: &str, n: usize| s.len() == n && s.chars().all(|c| c.is_ascii_digit());
    let date_ok = parts.len() == 3
        && digits(parts[0], 4)
        && digits(parts[1], 2)
        && digits(parts[2], 2)
        && parts[1].parse::<u32>().is_ok_and(|m| (1..=12).contains(&m))
        && parts[2].parse::<u32>().is_ok_and(|d| (1..=31).contains(&d));
    let name_ok = name.is_none_or(|n| !n.is_empty() && n.chars().all(|c| c.is_ascii_lowercase()));
    if date_ok && name_ok {
        Ok(())
    } else {
        Err(ApiError::invalid(format!(
            "Invalid Stripe API version: {raw}"
        )))
    }
}

fn header(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(String::from)
}

fn api_key(headers: &HeaderMap) -> Option<String> {
    let auth = header(headers, "authorization")?;
    let (scheme, value) = auth.trim().split_once(' ')?;
    let value = value.trim();
    if scheme.eq_ignore_ascii_case("bearer") {
        return Some(value.to_string());
    }
    if scheme.eq_ignore_ascii_case("basic") {
        let decoded = base64::engine::general_purpose::STANDARD
            .decode(value)
            .ok()?;
        let text = String::from_utf8(decoded).ok()?;
        return Some(text.split(':').next().unwrap_or_default().to_string());
    }
    None
}

fn respond(outcome: Outcome, req: &HeaderMap, request_id: &str, idem: Option<&str>) -> Response {
    let mut resp = Response::new(Body::from(outcome.body.to_string()));
    *resp.status_mut() =
        StatusCode::from_u16(outcome.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let h = resp.headers_mut();
    let mut set = |name: &'static str, value: &str| {
        if let Ok(v) = HeaderValue::from_str(value) {
            h.insert(name, v);
        }
    };
    set("content-type", "application/json");
    set("request-id", request_id);
    let version = req
        .get("stripe-version")
        .and_then(|v| v.to_str().ok())
        .filter(|v| check_version(Some(v)).is_ok())
        .unwrap_or(DEFAULT_API_VERSION);
    set("stripe-version", version);
    if let Some(k) = idem {
        set("idempotency-key", k);
    }
    if let Some(original) = &outcome.original_request {
        set("idempotent-replayed", "true");
        set("original-request", original);
    }
    if outcome.status == 429 {
        set("stripe-should-retry", "true");
    }
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shapes() {
        assert!(well_formed("sk_test_abcdefghij"));
        assert!(well_formed("rk_live_ABCDEFGHIJ123"));
        assert!(!well_formed("sk_test_short"));
        assert!(!well_formed("pk_test_abcdefghijkl"));
        assert!(!well_formed("sk_test_abc_defghijkl"));
        assert_eq!(mask("sk_test_abcdefghijWXYZ"), "sk_test_****WXYZ");
        assert_eq!(mask("garbage"), "****");
        assert!(!mask("nonsense-secret-value").contains("secret"));
    }

    #[test]
    fn version_formats() {
        for ok in [
            "2026-10-28.endive",
            "2024-06-20",
            "2025-03-31.basil; some_beta=v1",
        ] {
            assert!(check_version(Some(ok)).is_ok(), "{ok}");
        }
        for bad in [
            "latest",
            "2026-13-01",
            "2026-10-28.",
            "2026-10-28.Endive",
            "26-10-28",
            "",
        ] {
            assert!(check_version(Some(bad)).is_err(), "{bad}");
        }
    }
}
