//! The tools, one module each; a function crate's `main` picks one.
mod subscription_status;

pub use subscription_status::{GetSubscriptionStatus, SubscriptionStatusArgs};

use crate::error::ApiError;

/// Ids a visitor may pass must look like Stripe ids of the expected kind, so nothing
/// else reaches a Stripe URL.
pub(crate) fn check_id(field: &str, value: &str, prefix: &str) -> Result<(), ApiError> {
    let ok = value.starts_with(prefix)
        && value.len() <= 255
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_');
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_request(format!(
            "Invalid field `{field}`: expected a Stripe id starting with `{prefix}`."
        ))
        .with_reason("invalid_field"))
    }
}
