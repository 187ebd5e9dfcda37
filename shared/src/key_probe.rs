//! What a merchant's Stripe key may do, found without changing anything: one request per
//! permission the tools rely on, each built from the same [`api`] constructors the tools
//! use, aimed at an object that does not exist or missing a required parameter. Stripe
//! checks a restricted key's permissions before it looks at the request, so a key that has
//! the permission gets a 404 or 400 and one that lacks it gets a 403 naming the permission
//! (`Having the 'rak_refund_write' permission would allow this request to continue.`).
//! Nothing is created, changed or sent.
use std::collections::{BTreeMap, BTreeSet};

use serde::Serialize;
use serde_json::Value;

use crate::stripe::api::{self, Request};
use crate::stripe::{StripeError, StripeSession};

/// Ids no Stripe account has (Stripe ids never contain `probe_`).
const NO_CUSTOMER: &str = "cus_probe_nonexistent";

/// One thing the tools ask Stripe for, and the request that proves a key may ask it.
struct Probe {
    id: &'static str,
    request: Request<Value>,
    write: bool,
}

fn probes() -> Vec<Probe> {
    let read = |id, request: Request<Value>| Probe {
        id,
        request,
        write: false,
    };
    let write = |id, request: Request<Value>| Probe {
        id,
        request,
        write: true,
    };
    vec![
        read("customer", api::customer(NO_CUSTOMER).untyped()),
        write(
            "customer_update",
            api::update_customer(NO_CUSTOMER).untyped(),
        ),
        read(
            "balance_transactions",
            api::balance_transactions(NO_CUSTOMER).untyped(),
        ),
        read("subscriptions", api::subscriptions(NO_CUSTOMER).untyped()),
        write(
            "subscription_update",
            api::update_subscription("sub_probe_nonexistent").untyped(),
        ),
        read("prices", api::prices().untyped()),
        read("products", api::products().untyped()),
        read("invoices", api::invoices(NO_CUSTOMER).untyped()),
        read(
            "invoice_preview",
            api::preview_invoice(NO_CUSTOMER).untyped(),
        ),
        write(
            "invoice_pay",
            api::pay_invoice("in_probe_nonexistent").untyped(),
        ),
        write(
            "invoice_send",
            api::send_invoice("in_probe_nonexistent").untyped(),
        ),
        read("charges", api::charges(NO_CUSTOMER).untyped()),
        read("charge", api::charge("ch_probe_nonexistent").untyped()),
        read(
            "payment_intent",
            api::payment_intent("pi_probe_nonexistent").untyped(),
        ),
        // No `charge` or `payment_intent`: refused for its parameters when permitted.
        write("refund_create", api::create_refund().untyped()),
        write("portal_session", api::portal_session(NO_CUSTOMER).untyped()),
        read("promotion_codes", api::promotion_codes().untyped()),
    ]
}

/// What each tool (and each endpoint that asks Stripe) needs, by probe id. Every visitor
/// call may resolve the customer, so every tool needs `customer`.
pub fn needs(endpoint: &str) -> &'static [&'static str] {
    match endpoint {
        "get_subscription_status" => &["customer", "subscriptions", "products"],
        "get_invoice_history" => &["customer", "invoices"],
        "get_payment_history" => &["customer", "charges"],
        "get_billing_info" => &["customer"],
        "get_upcoming_invoice" => &["customer", "invoice_preview"],
        "get_available_plans" => &["customer", "prices", "subscriptions"],
        "get_credit_balance" => &["customer", "balance_transactions", "invoices"],
        "get_billing_portal_link" => &["customer", "portal_session"],
        "resend_invoice" => &["customer", "invoices", "invoice_send"],
        "change_plan" => &[
            "customer",
            "subscriptions",
            "prices",
            "invoice_preview",
            "subscription_update",
        ],
        "cancel_subscription" | "resume_subscription" | "pause_subscription" => {
            &["customer", "subscriptions", "subscription_update"]
        }
        "update_billing_details" => &["customer", "customer_update"],
        "apply_coupon" => &[
            "customer",
            "subscriptions",
            "invoices",
            "invoice_preview",
            "promotion_codes",
            "subscription_update",
        ],
        "request_refund" => &["customer", "charge", "payment_intent", "refund_create"],
        "retry_payment" => &["customer", "invoices", "invoice_pay", "portal_session"],
        "agent_insight" => &["customer", "subscriptions", "invoices", "charges"],
        "stripe_webhook" => &["subscriptions", "products"],
        _ => &[],
    }
}

/// Endpoints other than the tools that ask Stripe with the tenant's key (reported, never
/// switched off: the operator decides).
pub const OTHER_ENDPOINTS: &[&str] = &["agent_insight", "stripe_webhook"];

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Access {
    pub endpoint: String,
    pub ok: bool,
    /// Stripe's names of the permissions it lacks (`rak_refund_write`).
    pub missing: Vec<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct KeyReport {
    pub live: bool,
    pub restricted: bool,
    pub tools: Vec<Access>,
    pub other: Vec<Access>,
}

impl KeyReport {
    /// Tools this key cannot serve.
    pub fn unserved(&self) -> Vec<String> {
        self.tools
            .iter()
            .filter(|a| !a.ok)
            .map(|a| a.endpoint.clone())
            .collect()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    #[error("Stripe does not accept this key ({0})")]
    Rejected(String),
    #[error("Stripe could not be asked: {0}")]
    Unavailable(String),
}

/// The permission a 403 names, or `None` when the answer is not a permission error.
fn permission_named(e: &StripeError) -> Option<String> {
    let StripeError::Api {
        status: 403,
        message,
        ..
    } = e
    else {
        return None;
    };
    let named = message
        .split("Having the '")
        .nth(1)
        .and_then(|rest| rest.split('\'').next())
        .filter(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_'));
    Some(named.map_or_else(|| "a permission Stripe did not name".into(), str::to_string))
}

/// Probes `session`'s key. Every request is sent once, at most a few at a time.
pub async fn probe(session: &StripeSession<'_>, tools: &[&str]) -> Result<KeyReport, ProbeError> {
    use futures::StreamExt;
    let all = probes();
    let answers: Vec<(&'static str, Result<(), StripeError>)> =
        futures::stream::iter(all.iter().map(|p| async move {
            let answer = if p.write {
                let key = format!("probe-{}", uuid::Uuid::new_v4());
                session.post(&p.request, &key).await.map(|_| ())
            } else {
                session.get(&p.request).await.map(|_| ())
            };
            (p.id, answer)
        }))
        .buffer_unordered(4)
        .collect()
        .await;
    let mut missing: BTreeMap<&str, String> = BTreeMap::new();
    for (id, answer) in answers {
        match answer {
            Ok(()) => {}
            Err(e) => {
                if let Some(p) = permission_named(&e) {
                    missing.insert(id, p);
                    continue;
                }
                match e.status() {
                    // The permission is there: Stripe looked at the request itself.
                    Some(400 | 402 | 404) => {}
                    Some(401) => return Err(ProbeError::Rejected("invalid API key".into())),
                    Some(s) => return Err(ProbeError::Unavailable(format!("HTTP {s}"))),
                    None => return Err(ProbeError::Unavailable(e.to_string())),
                }
            }
        }
    }
    let access = |endpoint: &str| {
        let lacks: BTreeSet<String> = needs(endpoint)
            .iter()
            .filter_map(|id| missing.get(id).cloned())
            .collect();
        Access {
            endpoint: endpoint.to_string(),
            ok: lacks.is_empty(),
            missing: lacks.into_iter().collect(),
        }
    };
    Ok(KeyReport {
        live: session.live(),
        restricted: session.restricted(),
        tools: tools.iter().map(|t| access(t)).collect(),
        other: OTHER_ENDPOINTS.iter().map(|t| access(t)).collect(),
    })
}

/// `sk_`/`rk_`, `test`/`live`, then letters and digits: `Some(live)` when well formed.
pub fn key_mode(key: &str) -> Option<bool> {
    let mut parts = key.splitn(3, '_');
    let (kind, mode, rest) = (parts.next()?, parts.next()?, parts.next()?);
    let ok = matches!(kind, "sk" | "rk")
        && rest.len() >= 10
        && rest.bytes().all(|b| b.is_ascii_alphanumeric());
    match mode {
        "test" if ok => Some(false),
        "live" if ok => Some(true),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tool_and_endpoint_needs_known_probes() {
        let ids: BTreeSet<&str> = probes().iter().map(|p| p.id).collect();
        for t in crate::tools::all() {
            let n = needs(t.name);
            assert!(!n.is_empty(), "{} has no probes", t.name);
            assert!(n.iter().all(|id| ids.contains(id)), "{}", t.name);
        }
        for e in OTHER_ENDPOINTS {
            assert!(needs(e).iter().all(|id| ids.contains(id)));
        }
    }

    #[test]
    fn probes_never_name_a_real_object() {
        for p in probes() {
            let names_probe = p.request.path.contains("probe_nonexistent")
                || p.request
                    .params
                    .pairs()
                    .iter()
                    .any(|(_, v)| v.contains("probe_nonexistent"));
            // A write either names an object no account has, or lacks what it must name.
            assert!(
                names_probe || (!p.write || p.request.path == "/v1/refunds"),
                "{}",
                p.request.path
            );
            if p.write && !names_probe {
                assert!(p.request.params.pairs().is_empty(), "{}", p.request.path);
            }
        }
    }

    #[test]
    fn key_formats() {
        assert_eq!(key_mode("sk_test_abcdefghij"), Some(false));
        assert_eq!(key_mode("rk_live_abcdefghij"), Some(true));
        assert_eq!(key_mode("pk_test_abcdefghij"), None);
        assert_eq!(key_mode("sk_test_short"), None);
        assert_eq!(key_mode("sk_prod_abcdefghij"), None);
        assert_eq!(key_mode("sk_test_abc-defghijk"), None);
    }

    #[test]
    fn the_permission_comes_from_stripes_message() {
        let e = StripeError::Api {
            status: 403,
            kind: "invalid_request_error".into(),
            code: None,
            message: "The provided key 'rk_test_****abcd' does not have the required permissions for this endpoint on account 'acct_1'. Having the 'rak_refund_write' permission would allow this request to continue.".into(),
            param: None,
            decline_code: None,
            request_id: None,
        };
        assert_eq!(permission_named(&e).unwrap(), "rak_refund_write");
    }
}
