//! Restricted keys (`rk_test_…`): a parent secret key's account seen through a permission
//! set. Anything outside the set gets the 403 Stripe answers, naming the permission that
//! would let the request continue, so a key probe can be tested against it.
use std::collections::BTreeSet;

use crate::errors::ApiError;
use crate::wire::mask;

#[derive(Debug, Clone)]
pub struct Restricted {
    /// The secret key whose account this key reads and writes.
    pub parent: String,
    /// `customer_read`, `refund_write`, ... (Stripe's names without the `rak_` prefix);
    /// a `_write` permission includes its `_read`.
    pub permissions: BTreeSet<String>,
}

/// Every permission the emulator knows, one per resource and access.
pub const RESOURCES: &[&str] = &[
    "balance",
    "billing_portal_configuration",
    "billing_portal_session",
    "charge",
    "checkout_session",
    "coupon",
    "customer",
    "event",
    "invoice",
    "invoice_item",
    "payment_intent",
    "payment_method",
    "price",
    "product",
    "promotion_code",
    "refund",
    "subscription",
    "webhook_endpoint",
];

pub fn known(permission: &str) -> bool {
    permission
        .strip_suffix("_read")
        .or_else(|| permission.strip_suffix("_write"))
        .is_some_and(|r| RESOURCES.contains(&r))
}

/// The permission a request needs: its resource, read for GET (and invoice previews, which
/// change nothing), write for the rest.
pub fn required(method: &str, segs: &[&str]) -> Option<String> {
    let resource = match segs {
        ["billing_portal", "sessions", ..] => "billing_portal_session",
        ["billing_portal", "configurations", ..] => "billing_portal_configuration",
        ["checkout", "sessions", ..] => "checkout_session",
        ["invoice_payments", ..] => "invoice",
        ["invoiceitems", ..] => "invoice_item",
        [first, ..] => RESOURCES
            .iter()
            .find(|r| first.strip_suffix('s') == Some(**r) || *first == **r)?,
        [] => return None,
    };
    let read = method == "GET" || matches!(segs, ["invoices", "create_preview"]);
    Some(format!(
        "{resource}_{}",
        if read { "read" } else { "write" }
    ))
}

impl Restricted {
    pub fn allows(&self, permission: &str) -> bool {
        self.permissions.contains(permission)
            || permission
                .strip_suffix("_read")
                .is_some_and(|r| self.permissions.contains(&format!("{r}_write")))
    }

    pub fn check(&self, key: &str, method: &str, segs: &[&str]) -> Result<(), ApiError> {
        match required(method, segs) {
            Some(p) if !self.allows(&p) => Err(ApiError::permission(format!(
                "The provided key '{}' does not have the required permissions for this endpoint on account 'acct_emulator'. Having the 'rak_{p}' permission would allow this request to continue.",
                mask(key)
            ))),
            _ => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(perms: &[&str]) -> Restricted {
        Restricted {
            parent: "sk_test_parent0000".into(),
            permissions: perms.iter().map(|p| p.to_string()).collect(),
        }
    }

    #[test]
    fn requests_need_their_resource_permission() {
        assert_eq!(
            required("GET", &["customers", "cus_1"]).unwrap(),
            "customer_read"
        );
        assert_eq!(
            required("GET", &["customers", "search"]).unwrap(),
            "customer_read"
        );
        assert_eq!(required("POST", &["refunds"]).unwrap(), "refund_write");
        assert_eq!(
            required("POST", &["invoices", "create_preview"]).unwrap(),
            "invoice_read"
        );
        assert_eq!(
            required("POST", &["invoices", "in_1", "pay"]).unwrap(),
            "invoice_write"
        );
        assert_eq!(
            required("POST", &["billing_portal", "sessions"]).unwrap(),
            "billing_portal_session_write"
        );
        assert_eq!(
            required("DELETE", &["subscriptions", "sub_1"]).unwrap(),
            "subscription_write"
        );
    }

    #[test]
    fn write_includes_read_and_the_error_names_the_permission() {
        let k = key(&["customer_write"]);
        assert!(
            k.check("rk_test_abcdefghij1234", "GET", &["customers"])
                .is_ok()
        );
        let e = k
            .check("rk_test_abcdefghij1234", "POST", &["refunds"])
            .unwrap_err();
        assert_eq!(e.status, 403);
        assert!(e.message.contains("'rak_refund_write'"), "{}", e.message);
        assert!(!e.message.contains("abcdefghij"), "the key is masked");
    }
}
