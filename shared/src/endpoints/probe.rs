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

use crate::endpoints::registry::{ENDPOINTS, Entry};
use crate::stripe::api::{self, Need, Request};
use crate::stripe::{StripeError, StripeSession};

/// Ids no Stripe account has (Stripe ids never contain `probe_`).
const NO_CUSTOMER: &str = "cus_probe_nonexistent";

/// The request that proves a key may do what `need` names, and whether it is a write.
/// Exhaustive: a new [`Need`] does not compile until it has its probe.
fn probe_of(need: Need) -> (Request<Value>, bool) {
    let read = |r: Request<Value>| (r, false);
    let write = |r: Request<Value>| (r, true);
    match need {
        Need::Customer => read(api::customer(NO_CUSTOMER).untyped()),
        Need::CustomerUpdate => {
            write(api::update_customer(NO_CUSTOMER, &Default::default()).untyped())
        }
        Need::BalanceTransactions => read(api::balance_transactions(NO_CUSTOMER).untyped()),
        Need::Subscriptions => read(api::subscriptions(NO_CUSTOMER).untyped()),
        Need::SubscriptionUpdate => {
            write(api::update_subscription("sub_probe_nonexistent", &Default::default()).untyped())
        }
        Need::Prices => read(api::prices().untyped()),
        Need::Products => read(api::products().untyped()),
        Need::Invoices => read(api::invoices(NO_CUSTOMER).untyped()),
        Need::InvoicePreview => {
            read(api::preview_invoice(NO_CUSTOMER, &Default::default()).untyped())
        }
        Need::InvoicePay => write(api::pay_invoice("in_probe_nonexistent").untyped()),
        Need::InvoiceSend => write(api::send_invoice("in_probe_nonexistent").untyped()),
        Need::Charges => read(api::charges(NO_CUSTOMER).untyped()),
        Need::Charge => read(api::charge("ch_probe_nonexistent").untyped()),
        Need::PaymentIntent => read(api::payment_intent("pi_probe_nonexistent").untyped()),
        // No `charge` or `payment_intent`: refused for its parameters when permitted.
        Need::RefundCreate => write(api::create_refund_of_nothing()),
        Need::PortalSession => {
            write(api::portal_session(NO_CUSTOMER, &Default::default()).untyped())
        }
        Need::PromotionCodes => read(api::promotion_codes().untyped()),
        // No `mode` or line items: refused for its parameters when permitted.
        Need::CheckoutSession => write(api::checkout_sessions().untyped()),
    }
}

/// Every need some endpoint has, once.
fn all_needs() -> Vec<Need> {
    let all: BTreeSet<Need> = ENDPOINTS
        .iter()
        .flat_map(|e| e.needs.iter().copied())
        .collect();
    all.into_iter().collect()
}

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

/// Probes `session`'s key: every tool, and the other endpoints that ask Stripe. Every
/// request is sent once, at most a few at a time.
pub async fn probe(session: &StripeSession<'_>) -> Result<KeyReport, ProbeError> {
    use futures::StreamExt;
    let answers: Vec<(Need, Result<(), StripeError>)> =
        futures::stream::iter(all_needs().into_iter().map(|need| async move {
            let (request, write) = probe_of(need);
            let answer = if write {
                let key = format!("probe-{}", uuid::Uuid::new_v4());
                session.post(&request, &key).await.map(|_| ())
            } else {
                session.get(&request).await.map(|_| ())
            };
            (need, answer)
        }))
        .buffer_unordered(4)
        .collect()
        .await;
    let mut missing: BTreeMap<Need, String> = BTreeMap::new();
    for (need, answer) in answers {
        match answer {
            Ok(()) => {}
            Err(e) => {
                if let Some(p) = permission_named(&e) {
                    missing.insert(need, p);
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
    let access = |endpoint: &str, needs: &[Need]| {
        let lacks: BTreeSet<String> = needs
            .iter()
            .filter_map(|n| missing.get(n).cloned())
            .collect();
        Access {
            endpoint: endpoint.to_string(),
            ok: lacks.is_empty(),
            missing: lacks.into_iter().collect(),
        }
    };
    let (tools, other): (Vec<&Entry>, Vec<&Entry>) = ENDPOINTS
        .iter()
        .filter(|e| !e.needs.is_empty())
        .partition(|e| e.tool);
    Ok(KeyReport {
        live: session.live(),
        restricted: session.restricted(),
        tools: tools.iter().map(|e| access(e.name, e.needs)).collect(),
        other: other.iter().map(|e| access(e.name, e.needs)).collect(),
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
    fn probes_never_name_a_real_object() {
        for need in all_needs() {
            let (request, write) = probe_of(need);
            let names_probe = request.path.contains("probe_nonexistent")
                || request
                    .params
                    .pairs()
                    .iter()
                    .any(|(_, v)| v.contains("probe_nonexistent"));
            // A write either names an object no account has, or lacks what it must name.
            assert!(
                names_probe
                    || !write
                    || matches!(
                        request.path.as_str(),
                        "/v1/refunds" | "/v1/checkout/sessions"
                    ),
                "{}",
                request.path
            );
            if write && !names_probe {
                assert!(request.params.pairs().is_empty(), "{}", request.path);
            }
        }
        assert!(
            crate::endpoints::registry::find("stripe_webhook").is_some_and(|e| !e.needs.is_empty())
        );
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
