//! Visitor identity: every kind of bad token is refused with the right code; good tokens
//! under each active secret (rotation) pass.
use base64::Engine;
use hmac::{Hmac, Mac};
use integration::{mint, now, random};
use jsonwebtoken::{Algorithm, EncodingKey, Header};
use lambda_http::http::{HeaderMap, HeaderValue};
use serde_json::{Value, json};
use sha2::Sha256;
use shared::auth::identity::verify_visitor;
use shared::ports::tenants::TenantConfig;
use shared::secret::Secret;

const TENANT: &str = "acme";

struct Case {
    secrets: Vec<String>,
    /// The legacy user-hash secrets: never identity secrets.
    hash_secrets: Vec<String>,
    config: TenantConfig,
}

impl Case {
    fn new() -> Self {
        let mut config = TenantConfig::new(TENANT);
        config.legacy_user_hash = true;
        Self {
            secrets: vec![random(32), random(32)],
            hash_secrets: vec![random(32), random(32)],
            config,
        }
    }

    fn check(
        &self,
        headers: HeaderMap,
    ) -> Result<shared::auth::identity::Visitor, (String, Option<String>)> {
        let secrets: Vec<Secret> = self.secrets.iter().map(Secret::new).collect();
        let hashes: Vec<Secret> = self.hash_secrets.iter().map(Secret::new).collect();
        verify_visitor(&headers, &self.config, &secrets, &hashes, now())
            .map_err(|e| (e.code.to_string(), e.reason))
    }

    fn bearer(&self, token: &str) -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            "authorization",
            HeaderValue::from_str(&format!("Bearer {token}")).unwrap(),
        );
        h
    }

    fn good_claims(&self) -> Value {
        json!({"sub": "user_1", "aud": TENANT, "iat": now(), "exp": now() + 600})
    }

    fn signed(&self, claims: Value) -> String {
        mint(&self.secrets[0], &claims)
    }

    fn with(&self, patch: Value) -> String {
        let mut c = self.good_claims();
        for (k, v) in patch.as_object().unwrap() {
            if v.is_null() {
                c.as_object_mut().unwrap().remove(k);
            } else {
                c[k] = v.clone();
            }
        }
        self.signed(c)
    }
}

fn b64(data: &[u8]) -> String {
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(data)
}

fn hmac_hex(secret: &str, msg: &str) -> String {
    let mut m = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    m.update(msg.as_bytes());
    hex::encode(m.finalize().into_bytes())
}

fn legacy(user: &str, hash: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert("x-user-id", HeaderValue::from_str(user).unwrap());
    h.insert("x-user-hash", HeaderValue::from_str(hash).unwrap());
    h
}

#[test]
fn bad_tokens_are_refused_with_the_right_code() {
    let case = Case::new();
    let claims = case.good_claims();
    let payload = b64(claims.to_string().as_bytes());
    let good = case.signed(claims.clone());
    let parts: Vec<&str> = good.split('.').collect();
    let tampered_payload = b64(
        json!({"sub": "admin", "aud": TENANT, "iat": now(), "exp": now() + 600})
            .to_string()
            .as_bytes(),
    );
    let alg = |a: Algorithm| {
        jsonwebtoken::encode(
            &Header::new(a),
            &claims,
            &EncodingKey::from_secret(case.secrets[0].as_bytes()),
        )
        .unwrap()
    };
    let mut other_tenant = case.good_claims();
    other_tenant["aud"] = json!("globex");

    let cases: Vec<(&str, HeaderMap, &str)> = vec![
        (
            "alg none, no signature",
            case.bearer(&format!(
                "{}.{payload}.",
                b64(br#"{"alg":"none","typ":"JWT"}"#)
            )),
            "identity_invalid",
        ),
        (
            "alg none, with signature",
            case.bearer(&format!(
                "{}.{payload}.{}",
                b64(br#"{"alg":"none"}"#),
                parts[2]
            )),
            "identity_invalid",
        ),
        (
            "alg NONE",
            case.bearer(&format!("{}.{payload}.", b64(br#"{"alg":"NONE"}"#))),
            "identity_invalid",
        ),
        (
            "HS512",
            case.bearer(&alg(Algorithm::HS512)),
            "identity_invalid",
        ),
        (
            "HS384",
            case.bearer(&alg(Algorithm::HS384)),
            "identity_invalid",
        ),
        (
            "header says RS256",
            case.bearer(&format!(
                "{}.{payload}.{}",
                b64(br#"{"alg":"RS256","typ":"JWT"}"#),
                parts[2]
            )),
            "identity_invalid",
        ),
        (
            "bad signature",
            case.bearer(&mint(&random(32), &claims)),
            "identity_invalid",
        ),
        (
            "another tenant's secret",
            case.bearer(&mint(&format!("globex-{}", case.secrets[0]), &claims)),
            "identity_invalid",
        ),
        (
            "wrong aud",
            case.bearer(&case.with(json!({"aud": "globex"}))),
            "identity_invalid",
        ),
        (
            "token for another tenant",
            case.bearer(&mint(&case.secrets[0], &other_tenant)),
            "identity_invalid",
        ),
        (
            "no aud",
            case.bearer(&case.with(json!({"aud": null}))),
            "identity_invalid",
        ),
        (
            "expired",
            case.bearer(&case.with(json!({"iat": now() - 7200, "exp": now() - 10}))),
            "identity_expired",
        ),
        (
            "no exp",
            case.bearer(&case.with(json!({"exp": null}))),
            "identity_invalid",
        ),
        (
            "lifetime over 24 h",
            case.bearer(&case.with(json!({"exp": now() + 25 * 3600}))),
            "identity_invalid",
        ),
        (
            "iat 2 minutes ahead",
            case.bearer(&case.with(json!({"iat": now() + 120, "exp": now() + 900}))),
            "identity_invalid",
        ),
        (
            "no iat",
            case.bearer(&case.with(json!({"iat": null}))),
            "identity_invalid",
        ),
        (
            "no sub",
            case.bearer(&case.with(json!({"sub": null}))),
            "identity_invalid",
        ),
        (
            "empty sub",
            case.bearer(&case.with(json!({"sub": ""}))),
            "identity_invalid",
        ),
        (
            "exp is a string",
            case.bearer(&case.with(json!({"exp": "tomorrow"}))),
            "identity_invalid",
        ),
        (
            "tampered claim",
            case.bearer(&format!("{}.{tampered_payload}.{}", parts[0], parts[2])),
            "identity_invalid",
        ),
        (
            "two parts",
            case.bearer(&format!("{}.{}", parts[0], parts[1])),
            "identity_invalid",
        ),
        ("garbage", case.bearer("not.a.jwt"), "identity_invalid"),
        (
            "customer claim is not a customer id",
            case.bearer(&case.with(json!({"stripe_customer_id": "acct_123"}))),
            "identity_invalid",
        ),
        (
            "basic auth",
            {
                let mut h = HeaderMap::new();
                h.insert(
                    "authorization",
                    HeaderValue::from_static("Basic dXNlcjpwYXNz"),
                );
                h
            },
            "identity_invalid",
        ),
        ("empty bearer", case.bearer(""), "identity_invalid"),
        (
            "legacy hash wrong",
            legacy("user_1", &hmac_hex(&random(16), "user_1")),
            "identity_invalid",
        ),
        (
            "legacy hash of another user",
            legacy("user_1", &hmac_hex(&case.hash_secrets[0], "user_2")),
            "identity_invalid",
        ),
        (
            "legacy hash uppercase",
            legacy(
                "user_1",
                &hmac_hex(&case.hash_secrets[0], "user_1").to_uppercase(),
            ),
            "identity_invalid",
        ),
        (
            "legacy id without hash",
            {
                let mut h = HeaderMap::new();
                h.insert("x-user-id", HeaderValue::from_static("user_1"));
                h
            },
            "identity_invalid",
        ),
        ("nothing at all", HeaderMap::new(), "identity_required"),
    ];
    assert!(cases.len() >= 20);
    for (name, headers, want) in cases {
        match case.check(headers) {
            Ok(v) => panic!("{name}: accepted as {v:?}"),
            Err((code, _)) => assert_eq!(code, want, "{name}"),
        }
    }
}

#[test]
fn legacy_hash_is_refused_when_the_tenant_has_it_off() {
    let mut case = Case::new();
    case.config.legacy_user_hash = false;
    let hash = hmac_hex(&case.hash_secrets[0], "user_1");
    let (code, reason) = case.check(legacy("user_1", &hash)).unwrap_err();
    assert_eq!(code, "identity_invalid");
    assert_eq!(reason.as_deref(), Some("user_hash_disabled"));
}

#[test]
fn good_tokens_under_each_active_secret_are_accepted() {
    let case = Case::new();
    for secret in &case.secrets {
        let token = mint(
            secret,
            &json!({
                "sub": "user_9", "aud": TENANT, "iat": now(), "exp": now() + 600,
                "email": "nine@example.com", "email_verified": true,
                "stripe_customer_id": "cus_123"
            }),
        );
        let v = case.check(case.bearer(&token)).expect("accepted");
        assert_eq!(v.user_id, "user_9");
        assert_eq!(v.email.as_deref(), Some("nine@example.com"));
        assert_eq!(v.stripe_customer_id.as_deref(), Some("cus_123"));
    }
    // An email the merchant did not mark verified never finds a customer.
    let unverified = mint(
        &case.secrets[0],
        &json!({"sub": "u", "aud": TENANT, "iat": now(), "exp": now() + 60,
                "email": "nine@example.com"}),
    );
    assert_eq!(case.check(case.bearer(&unverified)).unwrap().email, None);
    // Any case of the scheme, as HTTP allows.
    let lower: HeaderMap = [(
        lambda_http::http::header::AUTHORIZATION,
        format!("bearer {unverified}").parse().unwrap(),
    )]
    .into_iter()
    .collect();
    case.check(lower).expect("lowercase scheme accepted");
    // Within the skew and exactly at the lifetime cap are fine.
    let t = now();
    let edge = mint(
        &case.secrets[1],
        &json!({"sub": "u", "aud": TENANT, "iat": t + 30, "exp": t + 30 + 24 * 3600}),
    );
    case.check(case.bearer(&edge)).expect("edge accepted");
    // Legacy mode under each user-hash secret.
    for secret in &case.hash_secrets {
        let v = case
            .check(legacy("user_7", &hmac_hex(secret, "user_7")))
            .expect("legacy accepted");
        assert_eq!(v.user_id, "user_7");
        assert_eq!(v.email, None);
    }
}

/// A merchant that hashes user ids on demand for its widget must not become a token
/// signer: the hash and the token never share a key, either way round.
#[test]
fn the_user_hash_secret_signs_no_token_and_the_identity_secret_makes_no_hash() {
    let case = Case::new();
    let forged = mint(
        &case.hash_secrets[0],
        &json!({"sub": "victim", "aud": TENANT, "iat": now(), "exp": now() + 600}),
    );
    let (code, reason) = case.check(case.bearer(&forged)).unwrap_err();
    assert_eq!(
        (code.as_str(), reason.as_deref()),
        ("identity_invalid", Some("bad_signature"))
    );
    let hash = hmac_hex(&case.secrets[0], "victim");
    let (code, reason) = case.check(legacy("victim", &hash)).unwrap_err();
    assert_eq!(
        (code.as_str(), reason.as_deref()),
        ("identity_invalid", Some("bad_user_hash"))
    );
}

#[test]
fn issued_at_far_in_the_past_or_negative_is_refused_without_overflow() {
    let case = Case::new();
    for iat in [i64::MIN, -1, i64::MIN / 2] {
        let token = case.with(json!({"iat": iat}));
        let (code, reason) = case.check(case.bearer(&token)).unwrap_err();
        assert_eq!(
            (code.as_str(), reason.as_deref()),
            ("identity_invalid", Some("bad_issued_at")),
            "iat {iat}"
        );
    }
    // exp far beyond any lifetime: refused, not wrapped around.
    let token = case.with(json!({"iat": 0, "exp": i64::MAX}));
    let (code, _) = case.check(case.bearer(&token)).unwrap_err();
    assert_eq!(code, "identity_invalid");
}

#[test]
fn empty_or_short_secrets_never_verify() {
    let mut case = Case::new();
    case.secrets = vec![String::new(), "short".into()];
    case.hash_secrets = vec![String::new()];
    for secret in ["", "short"] {
        let token = mint(secret, &case.good_claims());
        let (code, _) = case.check(case.bearer(&token)).unwrap_err();
        assert_eq!(code, "identity_invalid", "secret {secret:?}");
    }
    let (code, _) = case
        .check(legacy("user_1", &hmac_hex("", "user_1")))
        .unwrap_err();
    assert_eq!(code, "identity_invalid");
}

#[test]
fn customer_claims_that_are_not_plain_customer_ids_are_refused() {
    let case = Case::new();
    for bad in [
        "cus_x/../../v1/balance",
        "cus_",
        "cus_a b",
        "cus_a%2F..",
        "cus_a?expand[]=x",
    ] {
        let token = case.with(json!({"stripe_customer_id": bad}));
        let (code, reason) = case.check(case.bearer(&token)).unwrap_err();
        assert_eq!(
            (code.as_str(), reason.as_deref()),
            ("identity_invalid", Some("bad_customer_claim")),
            "{bad}"
        );
    }
}

/// The merchant's mapping is data like any other: an id in it that is not a plain customer
/// id never reaches a Stripe URL.
#[tokio::test]
async fn a_malformed_mapped_customer_id_never_reaches_stripe() {
    let h = integration::Harness::new().await;
    h.map_contact("mapped_badly", "cus_x/../../v1/balance");
    let token = h.token(integration::visitor_claims("mapped_badly", json!({})));
    let before = h.stripe.request_count().await;
    let (status, body) = h
        .call(&shared::endpoints::read::GetBillingInfo, Some(&token), "{}")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (404, Some("customer_not_found")),
        "{body}"
    );
    assert_eq!(h.stripe.request_count().await, before);
}

/// Without Stripe's Search (a tenant that turned it off), an email is looked up as signed
/// and in lower case: a lower-case customer is found from a capitalised claim, and two
/// customers that differ only in case are refused as ambiguous, never one picked.
#[tokio::test]
async fn without_search_case_variants_are_found_together_and_never_picked() {
    let h = integration::Harness::new().await;
    h.configure(|c| c.customer_search = false);
    let email = format!("ada-{}@example.com", integration::random(6).to_lowercase());
    let capital = email.replacen('a', "A", 1);
    h.stripe.customer(&email, None).await;
    let claims =
        |e: &str| integration::visitor_claims("ada", json!({"email": e, "email_verified": true}));
    let token = h.token(claims(&capital));
    let (status, body) = h
        .call(&shared::endpoints::read::GetBillingInfo, Some(&token), "{}")
        .await;
    assert_eq!(status, 200, "the lower-case customer is found: {body}");
    h.stripe.customer(&capital, None).await;
    let (status, body) = h
        .call(&shared::endpoints::read::GetBillingInfo, Some(&token), "{}")
        .await;
    assert_eq!(
        (status, body["error"]["code"].as_str()),
        (409, Some("ambiguous_customer")),
        "{body}"
    );
}
