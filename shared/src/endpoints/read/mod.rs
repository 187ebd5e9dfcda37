//! The read tools, one module each: they answer from Stripe and change nothing (but
//! `resend_invoice`, which sends an email).
mod available_plans;
mod billing_info;
pub(crate) mod common;
mod credit_balance;
mod invoice_history;
pub(crate) mod payment_history;
mod portal_link;
mod resend_invoice;
pub(crate) mod subscription_status;
mod upcoming_invoice;

pub use available_plans::GetAvailablePlans;
pub use billing_info::{GetBillingInfo, NoArgs};
pub use credit_balance::GetCreditBalance;
pub use invoice_history::{GetInvoiceHistory, InvoiceHistoryArgs};
pub use payment_history::{GetPaymentHistory, PaymentHistoryArgs};
pub use portal_link::{GetBillingPortalLink, PortalFlow, PortalLinkArgs};
pub use resend_invoice::{ResendInvoice, ResendInvoiceArgs};
pub use subscription_status::{GetSubscriptionStatus, SubscriptionStatusArgs};
pub use upcoming_invoice::{GetUpcomingInvoice, UpcomingInvoiceArgs};

pub(crate) use billing_info::fetch as fetch_customer;

use crate::error::ApiError;

pub(crate) fn check_opt_id(field: &str, value: Option<&str>, prefix: &str) -> Result<(), ApiError> {
    value.map_or(Ok(()), |v| check_id(field, v, prefix))
}

/// Ids a visitor may pass must look like Stripe ids of the expected kind, so nothing
/// else reaches a Stripe URL.
pub(crate) fn check_id(field: &str, value: &str, prefix: &str) -> Result<(), ApiError> {
    let problem = if value.len() > MAX_ID_LEN {
        Some(format!(
            "too long: a Stripe id has at most {MAX_ID_LEN} characters"
        ))
    } else if !value.starts_with(prefix)
        || value.len() == prefix.len()
        || !value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_')
    {
        Some(format!(
            "must be a Stripe id starting with `{prefix}` (letters, digits and `_` only)"
        ))
    } else {
        None
    };
    match problem {
        None => Ok(()),
        Some(p) => Err(
            ApiError::invalid_request(format!("Invalid field `{field}`: {p}."))
                .with_reason("invalid_field"),
        ),
    }
}

/// Stripe ids are at most 255 characters.
const MAX_ID_LEN: usize = 255;
