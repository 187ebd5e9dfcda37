//! What the fuzz targets (`fuzz/`, nightly, `make fuzz`) run, kept here so that the corpus
//! they grow is replayed by a stable test (`tests/tests/fuzz_corpus.rs`) in `make test`:
//! a crash found once stays fixed. Each entry point takes arbitrary bytes, must never
//! panic, and asserts the properties a caller relies on when it accepts an input.

use http::{HeaderMap, HeaderName, HeaderValue};
use serde_json::Value;

use crate::auth::caller::{Admits, Caller};
use crate::pipeline::endpoint::{Incoming, Query};
use crate::ports::tenants::{TenantConfig, TenantSecrets};
use crate::secret::Secret;
use crate::stripe::ids::valid_customer_id;

const TENANT: &str = "fuzz";
const NOW: i64 = 1_800_000_000;
const VISITOR_SECRET: &str = "fuzz-visitor-secret-0123456789abcdef";
const USER_HASH_SECRET: &str = "fuzz-user-hash-secret-0123456789abcdef";
/// The most an audit record keeps of one call's input, whatever was sent.
const AUDITED_MAX: usize = 16 * 1024;
const AGENT_SECRET: &str = "fuzz-agent-secret-0123456789abcdef0";

fn tenant(legacy: bool, trust_email: bool) -> TenantConfig {
    let mut config = TenantConfig::new(TENANT);
    config.legacy_user_hash = legacy;
    config.trust_email_claim = trust_email;
    config
}

fn secrets() -> TenantSecrets {
    TenantSecrets {
        stripe_key: Secret::new("sk_test_fuzz"),
        identity_secrets: vec![Secret::new(VISITOR_SECRET), Secret::new("short")],
        user_hash_secrets: vec![Secret::new(USER_HASH_SECRET)],
        agent_secrets: vec![Secret::new(AGENT_SECRET)],
        panel_keys: Vec::new(),
        webhook_secrets: Vec::new(),
    }
}

/// Signs `claims` (whatever JSON the fuzzer made) with `secret`, so the fuzzer reaches the
/// claim checks behind the signature and not only the parser in front of it.
fn signed(claims: &[u8], secret: &str) -> Option<String> {
    let claims: Value = serde_json::from_slice(claims).ok()?;
    let key = jsonwebtoken::EncodingKey::from_secret(secret.as_bytes());
    jsonwebtoken::encode(&jsonwebtoken::Header::default(), &claims, &key).ok()
}

/// The bytes as a raw token, or as claims signed by `signer`.
fn token(signer: Option<&str>, rest: &[u8]) -> Option<String> {
    match signer {
        None => Some(String::from_utf8_lossy(rest).into_owned()),
        Some(secret) => signed(rest, secret),
    }
}

fn bearer(token: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    if let Ok(v) = HeaderValue::from_str(&format!("Bearer {token}")) {
        headers.insert("authorization", v);
    }
    headers
}

/// What every accepted visitor must be: someone, and a customer id safe for a URL path.
fn check_visitor(caller: &Caller, trust_email: bool) {
    let Caller::Visitor(v) = caller else {
        panic!("a visitor endpoint admitted {caller:?}");
    };
    assert!(!v.user_id.is_empty(), "a visitor without a user id");
    if let Some(id) = &v.stripe_customer_id {
        assert!(valid_customer_id(id), "unsafe customer id {id:?} accepted");
    }
    if let Some(email) = &v.email {
        assert!(!email.is_empty());
        let _ = trust_email;
    }
}

/// The visitor's token. First byte: 0 = the rest is a raw token; 1 = the rest is claims
/// JSON signed with the tenant's visitor secret; 2 = signed with the agent secret (must
/// never admit a visitor); 3 = the same claims as 1 with the tenant trusting emails.
pub fn visitor_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let signer = match mode % 4 {
        0 => None,
        2 => Some(AGENT_SECRET),
        _ => Some(VISITOR_SECRET),
    };
    let Some(token) = token(signer, rest) else {
        return;
    };
    let trust = mode % 4 == 3;
    let verified = Caller::verify(
        Admits::Visitors,
        &bearer(&token),
        &[],
        &tenant(false, trust),
        &secrets(),
        NOW,
    );
    if let Ok(caller) = &verified {
        assert!(mode % 4 != 2, "an agent-signed token admitted a visitor");
        check_visitor(caller, trust);
        if let Caller::Visitor(v) = caller
            && !trust
        {
            // An email counts only when the token says it is verified.
            let claims: Value = serde_json::from_slice(rest).unwrap_or_default();
            if v.email.is_some() {
                assert_eq!(claims.get("email_verified"), Some(&Value::Bool(true)));
            }
        }
    }
}

/// The legacy headers: the bytes split at newlines into header name/value pairs
/// (`name: value`). A `x-user-hash: sign` line is replaced by the right hash of the given
/// user id, so the fuzzer reaches what follows a good hash.
pub fn legacy_headers(data: &[u8]) {
    let text = String::from_utf8_lossy(data);
    let mut headers = HeaderMap::new();
    let mut user_id = None;
    let mut sign = false;
    for line in text.lines().take(8) {
        let Some((name, value)) = line.split_once(':') else {
            continue;
        };
        let (name, value) = (name.trim().to_ascii_lowercase(), value.trim());
        if name == "x-user-hash" && value == "sign" {
            sign = true;
            continue;
        }
        if name == "x-user-id" {
            user_id = Some(value.to_string());
        }
        if let (Ok(n), Ok(v)) = (
            HeaderName::from_bytes(name.as_bytes()),
            HeaderValue::from_str(value),
        ) {
            headers.append(n, v);
        }
    }
    if sign && let Some(id) = &user_id {
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(USER_HASH_SECRET.as_bytes())
            .expect("hmac takes any key");
        mac.update(id.as_bytes());
        let hash = hex::encode(mac.finalize().into_bytes());
        headers.insert("x-user-hash", HeaderValue::from_str(&hash).expect("hex"));
    }
    for legacy in [false, true] {
        let verified = Caller::verify(
            Admits::Visitors,
            &headers,
            &[],
            &tenant(legacy, false),
            &secrets(),
            NOW,
        );
        if let Ok(caller) = &verified {
            check_visitor(caller, false);
            if headers.get("authorization").is_none() {
                assert!(legacy, "a user hash admitted with the legacy hash off");
            }
        }
    }
}

/// The agent's token: as [`visitor_token`], mode 1 signed with the agent secret and mode 2
/// with the visitor secret (which must never admit an agent).
pub fn agent_token(data: &[u8]) {
    let Some((&mode, rest)) = data.split_first() else {
        return;
    };
    let signer = match mode % 3 {
        0 => None,
        1 => Some(AGENT_SECRET),
        _ => Some(VISITOR_SECRET),
    };
    let Some(token) = token(signer, rest) else {
        return;
    };
    let verified = Caller::verify(
        Admits::Agents,
        &bearer(&token),
        &[],
        &tenant(false, false),
        &secrets(),
        NOW,
    );
    if let Ok(caller) = verified {
        assert!(mode % 3 != 2, "a visitor-signed token admitted an agent");
        assert!(matches!(caller, Caller::Agent { .. }));
    }
}

/// Every tool's argument parsing (and the agent insight's query): the first byte picks
/// the tool, the rest is its body (or, for the insight, its query string). What the audit
/// keeps of it must be JSON no bigger than a bound, whether it was accepted or not.
pub fn tool_args(data: &[u8]) {
    let Some((&pick, body)) = data.split_first() else {
        return;
    };
    let tools = crate::endpoints::registry::tools();
    let choice = usize::from(pick) % (tools.len() + 1);
    let mut audited = Value::Null;
    let headers = http::HeaderMap::new();
    if let Some(tool) = tools.get(choice) {
        let empty = Query::default();
        let _ = (tool.input)(
            &Incoming {
                path: "",
                headers: &headers,
                body,
                query: &empty,
            },
            &mut audited,
        );
    } else {
        let pairs: Vec<(String, String)> = serde_urlencoded::from_bytes(body).unwrap_or_default();
        let query = Query(pairs);
        let _ = crate::pipeline::endpoint::input_of::<crate::endpoints::agent_insight::Insight>(
            &Incoming {
                path: "",
                headers: &headers,
                body: &[],
                query: &query,
            },
            &mut audited,
        );
    }
    let kept = serde_json::to_vec(&audited).expect("audited is JSON");
    assert!(
        kept.len() <= AUDITED_MAX,
        "the audit would keep {} bytes of a {}-byte body",
        kept.len(),
        body.len()
    );
}

const WEBHOOK_SECRET: &str = "whsec_fuzz0123456789abcdef0123456789ab";

/// The `Stripe-Signature` header and the event envelope: the first line is the header
/// (`sign` is replaced by a good signature of the rest), the rest the body. Accepted bodies
/// must be events with a well-formed id and, when they name one, a safe customer id.
pub fn webhook_signature(data: &[u8]) {
    use crate::{auth::signature, stripe::event::Event};
    let split = data.iter().position(|b| *b == b'\n').unwrap_or(data.len());
    let (header, body) = (&data[..split], data.get(split + 1..).unwrap_or_default());
    let header = String::from_utf8_lossy(header);
    let header = if header == "sign" {
        signature::sign(WEBHOOK_SECRET, NOW, body)
    } else {
        header.into_owned()
    };
    let verified = signature::verify(Some(&header), body, &[Secret::new(WEBHOOK_SECRET)], NOW);
    if verified.is_ok()
        && let Some(event) = Event::parse(body)
    {
        assert!(event.id.starts_with("evt_") && event.created > 0);
        if let Some(c) = event.customer() {
            assert!(valid_customer_id(&c), "unsafe customer {c:?}");
        }
        let _ = (
            crate::endpoints::stripe_webhook::change_of(&event),
            crate::endpoints::stripe_webhook::fact_key(&event),
        );
    }
}
