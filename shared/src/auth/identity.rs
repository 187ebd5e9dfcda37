//! Who is asking: the visitor's JWT (HS256 only, `aud` = tenant) or, where the tenant
//! turned it on, the legacy `X-User-Id` + `X-User-Hash` pair.
use hmac::{Hmac, Mac};
use http::HeaderMap;
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde::Deserialize;
use sha2::Sha256;

use crate::error::ApiError;
use crate::ports::tenants::TenantConfig;
use crate::secret::Secret;
use crate::stripe::ids::valid_customer_id;

/// Allowed clock difference for `iat` between the merchant's signer and us.
pub const IAT_SKEW_SECS: i64 = 60;
const MAX_TOKEN_BYTES: usize = 8 * 1024;
const MAX_USER_ID_BYTES: usize = 256;

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Visitor {
    pub user_id: String,
    pub email: Option<String>,
    pub stripe_customer_id: Option<String>,
}

#[derive(Debug, Deserialize)]
pub struct Claims {
    pub sub: Option<String>,
    pub exp: Option<i64>,
    pub iat: Option<i64>,
    pub email: Option<String>,
    pub stripe_customer_id: Option<String>,
    pub email_verified: Option<bool>,
    pub role: Option<String>,
}

/// The token of an `Authorization: Bearer <token>` header, the scheme matched
/// case-insensitively as HTTP says (RFC 9110 §11.1). `None` when there is no header.
pub fn bearer(headers: &HeaderMap) -> Result<Option<&str>, ApiError> {
    let Some(value) = headers.get("authorization") else {
        return Ok(None);
    };
    let token = value
        .to_str()
        .ok()
        .and_then(|v| v.trim().split_once(' '))
        .filter(|(scheme, _)| scheme.eq_ignore_ascii_case("bearer"))
        .map(|(_, token)| token.trim())
        .filter(|t| !t.is_empty())
        .ok_or_else(|| ApiError::identity_invalid("malformed_authorization"))?;
    Ok(Some(token))
}

/// Secrets shorter than this are refused when set and never verify anything.
pub const MIN_SECRET_BYTES: usize = 32;

/// The visitor of a request: a JWT signed with one of the tenant's `identity` secrets, or,
/// where the tenant allows it, the legacy user id and hash made with one of its `user_hash`
/// secrets. The two never share a key, so a merchant hashing user ids on demand can't be
/// used to sign tokens.
pub fn verify_visitor(
    headers: &HeaderMap,
    config: &TenantConfig,
    identity: &[Secret],
    user_hash: &[Secret],
    now: i64,
) -> Result<Visitor, ApiError> {
    if let Some(token) = bearer(headers)? {
        let claims = verify_jwt(
            token,
            &config.tenant,
            identity,
            config.max_token_lifetime_secs,
            now,
        )?;
        return visitor_from(claims, config.trust_email_claim);
    }
    match (header(headers, "x-user-id"), header(headers, "x-user-hash")) {
        (None, None) => Err(ApiError::identity_required()),
        (Some(user_id), Some(hash)) => {
            if !config.legacy_user_hash {
                return Err(ApiError::identity_invalid("user_hash_disabled"));
            }
            verify_user_hash(user_id, hash, user_hash)?;
            Ok(Visitor {
                user_id: user_id.to_string(),
                email: None,
                stripe_customer_id: None,
            })
        }
        _ => Err(ApiError::identity_invalid("incomplete_user_hash")),
    }
}

/// Checks an HS256 token against every active secret (rotation) and the contract's rules.
pub fn verify_jwt(
    token: &str,
    audience: &str,
    secrets: &[Secret],
    max_lifetime_secs: u64,
    now: i64,
) -> Result<Claims, ApiError> {
    if token.len() > MAX_TOKEN_BYTES {
        return Err(ApiError::identity_invalid("token_too_large"));
    }
    // Only HS256: `none` and every other algorithm fail here, before any key is tried.
    let header = jsonwebtoken::decode_header(token)
        .map_err(|_| ApiError::identity_invalid("malformed_token"))?;
    if header.alg != Algorithm::HS256 {
        return Err(ApiError::identity_invalid("algorithm_not_allowed"));
    }
    let mut validation = Validation::new(Algorithm::HS256);
    validation.set_audience(&[audience]);
    validation.set_required_spec_claims(&["exp", "sub", "aud"]);
    validation.leeway = 0;
    let mut outcome = Err(ApiError::identity_invalid("bad_signature"));
    for secret in usable(secrets) {
        let key = DecodingKey::from_secret(secret.expose().as_bytes());
        match jsonwebtoken::decode::<Claims>(token, &key, &validation) {
            Ok(data) => {
                outcome = Ok(data.claims);
                break;
            }
            Err(e) if matches!(e.kind(), ErrorKind::InvalidSignature) => continue,
            Err(e) => {
                outcome = Err(match e.kind() {
                    ErrorKind::ExpiredSignature => ApiError::identity_expired(),
                    ErrorKind::InvalidAudience => ApiError::identity_invalid("wrong_audience"),
                    ErrorKind::MissingRequiredClaim(_) => {
                        ApiError::identity_invalid("missing_claim")
                    }
                    ErrorKind::ImmatureSignature => ApiError::identity_invalid("not_yet_valid"),
                    _ => ApiError::identity_invalid("malformed_token"),
                });
                break;
            }
        }
    }
    let claims = outcome?;
    let (Some(iat), Some(exp)) = (claims.iat, claims.exp) else {
        return Err(ApiError::identity_invalid("missing_claim"));
    };
    if iat < 0 {
        return Err(ApiError::identity_invalid("bad_issued_at"));
    }
    if iat > now.saturating_add(IAT_SKEW_SECS) {
        return Err(ApiError::identity_invalid("issued_in_future"));
    }
    if exp <= now {
        return Err(ApiError::identity_expired());
    }
    // Checked: claims are the signer's numbers, and i64 arithmetic on them can overflow.
    let too_long = exp
        .checked_sub(iat)
        .is_none_or(|life| life > i64::try_from(max_lifetime_secs).unwrap_or(i64::MAX));
    if too_long {
        return Err(ApiError::identity_invalid("lifetime_too_long"));
    }
    if claims.sub.as_deref().is_none_or(str::is_empty) {
        return Err(ApiError::identity_invalid("missing_claim"));
    }
    Ok(claims)
}

/// An `email` claim finds a customer only when it is verified: `email_verified: true` in
/// the token, or a tenant that vouches for every email it signs.
fn visitor_from(claims: Claims, trust_email: bool) -> Result<Visitor, ApiError> {
    if let Some(id) = &claims.stripe_customer_id
        && !valid_customer_id(id)
    {
        return Err(ApiError::identity_invalid("bad_customer_claim"));
    }
    Ok(Visitor {
        user_id: claims.sub.unwrap_or_default(),
        email: claims
            .email
            .filter(|e| !e.is_empty() && (trust_email || claims.email_verified == Some(true))),
        stripe_customer_id: claims.stripe_customer_id,
    })
}

fn verify_user_hash(user_id: &str, hash: &str, secrets: &[Secret]) -> Result<(), ApiError> {
    if user_id.is_empty() || user_id.len() > MAX_USER_ID_BYTES {
        return Err(ApiError::identity_invalid("bad_user_id"));
    }
    let lower_hex =
        hash.len() == 64 && hash.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    let expected = hex::decode(hash)
        .ok()
        .filter(|_| lower_hex)
        .ok_or_else(|| ApiError::identity_invalid("bad_user_hash"))?;
    let matches = usable(secrets).any(|secret| {
        let Ok(mut mac) = Hmac::<Sha256>::new_from_slice(secret.expose().as_bytes()) else {
            return false;
        };
        mac.update(user_id.as_bytes());
        // Constant-time comparison.
        mac.verify_slice(&expected).is_ok()
    });
    if matches {
        Ok(())
    } else {
        Err(ApiError::identity_invalid("bad_user_hash"))
    }
}

/// Secrets long enough to be secrets; an empty or short one verifies nothing.
fn usable(secrets: &[Secret]) -> impl Iterator<Item = &Secret> {
    secrets
        .iter()
        .filter(|s| s.expose().len() >= MIN_SECRET_BYTES)
}

fn header<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::trim)
}
