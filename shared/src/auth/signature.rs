//! Stripe's webhook signature (`Stripe-Signature: t=<unix>,v1=<hex>[,v1=<hex>...]`): an
//! HMAC-SHA256 of `"{t}.{raw body}"` under the endpoint's `whsec_` secret. Any `v1` that
//! matches any of the tenant's active secrets passes (Stripe sends one `v1` per secret
//! while an endpoint's secret is being rolled; we keep several during our own rotation);
//! `v0` and other schemes are ignored. Checked on the raw body, before anything reads it.
use hmac::{Hmac, Mac};
use sha2::Sha256;

use crate::error::ApiError;
use crate::secret::Secret;

/// Stripe's own libraries' default tolerance, applied both ways (a timestamp from the
/// future is as suspect as a replay from the past).
pub const TOLERANCE_SECS: i64 = 300;

/// The most `v1` signatures one header may carry; more is not a header Stripe sends.
const MAX_SIGNATURES: usize = 8;

/// Checks the header against the body and every secret; the error's reason says which
/// rule failed, never what the secret or the expected signature is.
pub fn verify(
    header: Option<&str>,
    body: &[u8],
    secrets: &[Secret],
    now: i64,
) -> Result<(), ApiError> {
    let header = header.ok_or_else(|| refused("missing_signature"))?;
    let (timestamp, signatures) = parse(header)?;
    if (now - timestamp).abs() > TOLERANCE_SECS {
        return Err(refused("timestamp_out_of_tolerance"));
    }
    let usable = secrets
        .iter()
        .filter(|s| s.expose().len() >= crate::auth::identity::MIN_SECRET_BYTES);
    for secret in usable {
        let mut mac = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes())
            .expect("HMAC takes a key of any length");
        mac.update(timestamp.to_string().as_bytes());
        mac.update(b".");
        mac.update(body);
        // Constant-time comparison against each candidate.
        if signatures
            .iter()
            .any(|sig| mac.clone().verify_slice(sig).is_ok())
        {
            return Ok(());
        }
    }
    Err(refused("no_matching_signature"))
}

/// The header's timestamp and its `v1` signatures (decoded). One `t`, at least one
/// well-formed `v1`; unknown schemes are skipped.
pub fn parse(header: &str) -> Result<(i64, Vec<Vec<u8>>), ApiError> {
    let mut timestamp = None;
    let mut signatures = Vec::new();
    for part in header.split(',') {
        let Some((key, value)) = part.trim().split_once('=') else {
            return Err(refused("malformed_signature"));
        };
        match key {
            "t" => {
                let t = value
                    .parse::<i64>()
                    .ok()
                    .filter(|t| *t > 0)
                    .ok_or_else(|| refused("malformed_signature"))?;
                if timestamp.replace(t).is_some() {
                    return Err(refused("malformed_signature"));
                }
            }
            "v1" => {
                let sig = hex::decode(value)
                    .ok()
                    .filter(|s| s.len() == 32)
                    .ok_or_else(|| refused("malformed_signature"))?;
                if signatures.len() == MAX_SIGNATURES {
                    return Err(refused("malformed_signature"));
                }
                signatures.push(sig);
            }
            _ => {}
        }
    }
    let timestamp = timestamp.ok_or_else(|| refused("malformed_signature"))?;
    if signatures.is_empty() {
        return Err(refused("no_v1_signature"));
    }
    Ok((timestamp, signatures))
}

/// What Stripe sends for `body` at `timestamp` under `secret` (for tests and the emulator's
/// twin; a deployment never signs).
pub fn sign(secret: &str, timestamp: i64, body: &[u8]) -> String {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes a key of any length");
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body);
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

fn refused(reason: &str) -> ApiError {
    ApiError::invalid_request("The Stripe-Signature header does not verify this body.")
        .with_reason(reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    const SECRET: &str = "whsec_0123456789abcdef0123456789abcdef";
    const NOW: i64 = 1_800_000_000;

    fn reason(r: Result<(), ApiError>) -> Option<String> {
        r.err().and_then(|e| e.reason)
    }

    #[test]
    fn the_matrix() {
        let body = br#"{"id":"evt_1"}"#;
        let secrets = [Secret::new(SECRET)];
        let good = sign(SECRET, NOW, body);
        assert!(verify(Some(&good), body, &secrets, NOW).is_ok());
        assert!(verify(Some(&good), body, &secrets, NOW + TOLERANCE_SECS).is_ok());
        let cases: Vec<(Option<String>, &[u8], &str)> = vec![
            (None, body, "missing_signature"),
            (
                Some(sign("whsec_wrongwrongwrongwrongwrongwrongwr", NOW, body)),
                body,
                "no_matching_signature",
            ),
            (
                Some(good.clone()),
                br#"{"id":"evt_2"}"#,
                "no_matching_signature",
            ),
            (
                Some(sign(SECRET, NOW - TOLERANCE_SECS - 1, body)),
                body,
                "timestamp_out_of_tolerance",
            ),
            (
                Some(sign(SECRET, NOW + TOLERANCE_SECS + 1, body)),
                body,
                "timestamp_out_of_tolerance",
            ),
            (Some(good.replace("v1=", "v0=")), body, "no_v1_signature"),
            (Some("t=abc,v1=00".into()), body, "malformed_signature"),
            (Some("garbage".into()), body, "malformed_signature"),
            (Some(format!("{good},t={NOW}")), body, "malformed_signature"),
        ];
        for (header, b, want) in cases {
            assert_eq!(
                reason(verify(header.as_deref(), b, &secrets, NOW)).as_deref(),
                Some(want),
                "{header:?}"
            );
        }
    }

    #[test]
    fn any_v1_against_any_active_secret() {
        let body = b"{}";
        let old = "whsec_oldoldoldoldoldoldoldoldoldoldold";
        let bogus = format!("v1={}", "ab".repeat(32));
        let header = format!("{},{bogus},v0=ff", sign(SECRET, NOW, body));
        let secrets = [Secret::new(old), Secret::new(SECRET)];
        assert!(verify(Some(&header), body, &secrets, NOW).is_ok());
        let rolled = format!(
            "{},{}",
            sign(old, NOW, body),
            &sign(SECRET, NOW, body)[13..]
        );
        assert!(verify(Some(&rolled), body, &[Secret::new(SECRET)], NOW).is_ok());
        // An empty or short secret never verifies, even against a signature made with it.
        assert!(verify(Some(&sign("", NOW, body)), body, &[Secret::new("")], NOW).is_err());
    }
}
