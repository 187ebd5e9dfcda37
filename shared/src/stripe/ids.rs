//! Stripe's ids as Stripe makes them: checked before one reaches a URL.

/// A Stripe customer id as Stripe makes them (`cus_` and letters and digits), safe to put
/// in a URL path: `cus_x/../../v1/balance` is not one.
pub fn valid_customer_id(id: &str) -> bool {
    id.len() <= 255
        && id
            .strip_prefix("cus_")
            .is_some_and(|rest| !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_alphanumeric()))
}
