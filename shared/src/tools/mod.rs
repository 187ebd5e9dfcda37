//! The tools, one module each; a function crate's `main` picks one.
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

use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::error::ApiError;
use crate::pipeline::{Admitted, Trail};
use crate::tool::{Endpoint, Incoming, Reply, Tool};
use crate::write::WriteTool;
use crate::writes::{
    ApplyCoupon, CancelSubscription, ChangePlan, PauseSubscription, RequestRefund,
    ResumeSubscription, RetryPayment, UpdateBillingDetails,
};

/// What the tool list publishes about one tool.
pub struct ToolInfo {
    pub name: &'static str,
    pub description: std::borrow::Cow<'static, str>,
    pub schema: fn() -> Value,
    /// Parses and validates a call's input as the pipeline does.
    pub input: crate::tool::InputFn,
    pub effect: Effect,
}

/// What a call may change, for clients that ask before running a tool.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Effect {
    /// Reads (a portal session is a link, not a change).
    Reads,
    /// Sends something (an invoice email) but changes no billing.
    Sends,
    /// A two-phase write: changes billing once confirmed; a replayed confirmation does
    /// nothing more.
    Writes,
}

/// The type of [`call_as`].
pub type CallFn = for<'a> fn(
    &'a crate::App,
    &'a Admitted,
    &'a Incoming<'a>,
    &'a str,
    &'a mut Trail,
) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>>;

/// One endpoint's call, as a plain function the registry can hold.
fn call_as<'a, E: Endpoint + Default>(
    app: &'a crate::App,
    admitted: &'a Admitted,
    incoming: &'a Incoming<'a>,
    request_id: &'a str,
    trail: &'a mut Trail,
) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>> {
    Box::pin(async move {
        crate::pipeline::call(app, &E::default(), admitted, incoming, request_id, trail).await
    })
}

fn entry<E: Endpoint + Default>() -> (&'static str, CallFn) {
    (E::NAME, call_as::<E>)
}

/// Every tool's pipeline call by name, for MCP. Apart from [`all`], which every function
/// links for its route table, so that only the MCP function carries every tool's code.
pub fn calls() -> Vec<(&'static str, CallFn)> {
    use crate::write::Write;
    vec![
        entry::<GetSubscriptionStatus>(),
        entry::<GetInvoiceHistory>(),
        entry::<GetPaymentHistory>(),
        entry::<GetBillingInfo>(),
        entry::<GetUpcomingInvoice>(),
        entry::<GetAvailablePlans>(),
        entry::<GetCreditBalance>(),
        entry::<GetBillingPortalLink>(),
        entry::<ResendInvoice>(),
        entry::<Write<ChangePlan>>(),
        entry::<Write<CancelSubscription>>(),
        entry::<Write<ResumeSubscription>>(),
        entry::<Write<PauseSubscription>>(),
        entry::<Write<ApplyCoupon>>(),
        entry::<Write<UpdateBillingDetails>>(),
        entry::<Write<RequestRefund>>(),
        entry::<Write<RetryPayment>>(),
    ]
}

fn write_info<W: WriteTool>() -> ToolInfo {
    ToolInfo {
        name: W::NAME,
        description: format!("{} {}", W::DESCRIPTION, crate::write::TWO_PHASE).into(),
        schema: write_schema::<W>,
        input: crate::tool::input_of::<crate::write::Write<W>>,
        effect: Effect::Writes,
    }
}

/// A write tool's arguments, plus the `confirm` token of its second call.
fn write_schema<W: WriteTool>() -> Value {
    let mut v = crate::args::schema::<W::Args>();
    if let Some(props) = v.get_mut("properties").and_then(Value::as_object_mut) {
        props.insert(
            "confirm".into(),
            serde_json::json!({
                "type": ["string", "null"],
                "description": "The token from this tool's preview, once the visitor has agreed to exactly what it said.",
            }),
        );
    }
    v
}

fn info<T: Tool>() -> ToolInfo {
    ToolInfo {
        name: T::NAME,
        description: T::DESCRIPTION.into(),
        schema: schema::<T>,
        input: crate::tool::input_of::<T>,
        effect: if T::READ_ONLY {
            Effect::Reads
        } else {
            Effect::Sends
        },
    }
}

/// The JSON Schema of a tool's arguments, generated from its Rust type.
pub fn schema<T: Tool>() -> Value {
    crate::args::schema::<T::Args>()
}

/// Every tool's name, in the order of [`all`]. The route table needs the names alone: every
/// function links it, and [`all`] would link every tool's argument parsing and schema too.
pub const NAMES: &[&str] = &[
    "get_subscription_status",
    "get_invoice_history",
    "get_payment_history",
    "get_billing_info",
    "get_upcoming_invoice",
    "get_available_plans",
    "get_credit_balance",
    "get_billing_portal_link",
    "resend_invoice",
    "change_plan",
    "cancel_subscription",
    "resume_subscription",
    "pause_subscription",
    "apply_coupon",
    "update_billing_details",
    "request_refund",
    "retry_payment",
];

/// Every tool this deployment has, in the order the tool list shows them.
pub fn all() -> Vec<ToolInfo> {
    vec![
        info::<GetSubscriptionStatus>(),
        info::<GetInvoiceHistory>(),
        info::<GetPaymentHistory>(),
        info::<GetBillingInfo>(),
        info::<GetUpcomingInvoice>(),
        info::<GetAvailablePlans>(),
        info::<GetCreditBalance>(),
        info::<GetBillingPortalLink>(),
        info::<ResendInvoice>(),
        write_info::<ChangePlan>(),
        write_info::<CancelSubscription>(),
        write_info::<ResumeSubscription>(),
        write_info::<PauseSubscription>(),
        write_info::<ApplyCoupon>(),
        write_info::<UpdateBillingDetails>(),
        write_info::<RequestRefund>(),
        write_info::<RetryPayment>(),
    ]
}

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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_route_tables_names_are_the_tools() {
        let names: Vec<&str> = all().iter().map(|t| t.name).collect();
        assert_eq!(names, NAMES);
    }
}
