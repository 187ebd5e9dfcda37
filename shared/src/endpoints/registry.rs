//! THE table of endpoints this deployment serves. One list of types, below; everything that
//! needs to know the endpoints is made from it: the routes (`crate::edge::routes`), the
//! tools' names, the permissions `tenantctl connect-key` probes, the tool list and MCP's
//! `tools/call`. Each endpoint says its own name, route, method and needs in its own file;
//! a new one is one line here. `template.yaml`, the local router in `Cargo.toml` and
//! `events/` are checked against it by tests (`tests/tests/registry.rs`).
//!
//! Two kinds of entry: what every function links (plain data: [`ENDPOINTS`]), and what only
//! the functions that run any tool link (the tool list's schemas, MCP's calls), so a route
//! that runs one tool does not carry every tool's code.
use std::future::Future;
use std::pin::Pin;

use serde_json::Value;

use crate::endpoints::agent_insight::Insight;
use crate::endpoints::agent_portal::AgentPortalLink;
use crate::endpoints::agent_recovery::RecoveryQueue;
use crate::endpoints::approvals::{ApprovalDecision, ApprovalList, VisitorRequests};
use crate::endpoints::checkout::{AgentCheckout, StartSubscription};
use crate::endpoints::pay_link::{PayCard, PayNow, PayPage};
use crate::endpoints::read::{
    EmailInvoices, GetAvailablePlans, GetBillingInfo, GetBillingPortalLink, GetCreditBalance,
    GetInvoiceHistory, GetPaymentHistory, GetSubscriptionStatus, GetUpcomingInvoice, ResendInvoice,
};
use crate::endpoints::stripe_webhook::StripeWebhook;
use crate::endpoints::visitor_tags::VisitorTags;
use crate::endpoints::write::{
    ApplyCoupon, CancelSubscription, ChangePlan, PauseSubscription, RequestRefund,
    ResumeSubscription, RetryPayment, UpdateBillingDetails,
};
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::endpoint::{Call, Endpoint, Incoming, InputFn, Reply, Tool};
use crate::pipeline::two_phase::{ApproveFn, TWO_PHASE, Write, WriteTool};
use crate::pipeline::{Admitted, Trail};
use crate::ports::ledger::Confirmation;
use crate::ports::tenants::TenantConfig;
use crate::stripe::api::Need;

/// One endpoint, as data.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Entry {
    pub name: &'static str,
    pub method: &'static str,
    /// The path after `/v1/{tenant}/`.
    pub route: &'static [&'static str],
    pub needs: &'static [Need],
    /// A tool (`/v1/{tenant}/tools/{name}`), which a tenant serves when it lists it.
    pub tool: bool,
    /// A tool that tenants stored before `enabled_tools` serve unless they turned it off.
    pub before_enabled_tools: bool,
}

impl Entry {
    /// `/v1/{tenant}/...`.
    pub fn path(&self) -> String {
        format!("/v1/{{tenant}}/{}", self.route.join("/"))
    }
}

const fn entry<E: Endpoint>(tool: bool) -> Entry {
    Entry {
        name: E::NAME,
        method: E::METHOD,
        route: E::ROUTE,
        needs: E::NEEDS,
        tool,
        before_enabled_tools: E::BEFORE_ENABLED_TOOLS,
    }
}

/// What the tool list publishes about one tool.
pub struct ToolInfo {
    pub name: &'static str,
    pub description: std::borrow::Cow<'static, str>,
    pub schema: fn() -> Value,
    /// Parses and validates a call's input as the pipeline does.
    pub input: InputFn,
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

/// One write tool's approved run, as a plain function the registry can hold.
fn approve_as<'a, W: WriteTool + Default>(
    call: &'a Call<'a>,
    c: Confirmation,
) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>> {
    Box::pin(async move { crate::pipeline::two_phase::approve(&W::default(), call, c).await })
}

/// The type of [`call_as`].
pub type CallFn = for<'a> fn(
    &'a App,
    &'a Admitted,
    &'a Incoming<'a>,
    &'a str,
    &'a mut Trail,
) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>>;

/// One endpoint's call, as a plain function the registry can hold.
fn call_as<'a, E: Endpoint + Default>(
    app: &'a App,
    admitted: &'a Admitted,
    incoming: &'a Incoming<'a>,
    request_id: &'a str,
    trail: &'a mut Trail,
) -> Pin<Box<dyn Future<Output = Result<Reply, ApiError>> + Send + 'a>> {
    Box::pin(async move {
        crate::pipeline::call(app, &E::default(), admitted, incoming, request_id, trail).await
    })
}

fn read_info<T: Tool>() -> ToolInfo {
    ToolInfo {
        name: T::NAME,
        description: T::DESCRIPTION.into(),
        schema: crate::pipeline::args::schema::<T::Args>,
        input: crate::pipeline::endpoint::input_of::<T>,
        effect: if T::READ_ONLY {
            Effect::Reads
        } else {
            Effect::Sends
        },
    }
}

fn write_info<W: WriteTool>() -> ToolInfo {
    ToolInfo {
        name: W::NAME,
        description: format!("{} {TWO_PHASE}", W::DESCRIPTION).into(),
        schema: write_schema::<W>,
        input: crate::pipeline::endpoint::input_of::<Write<W>>,
        effect: Effect::Writes,
    }
}

/// A write tool's arguments, plus the `confirm` token of its second call.
fn write_schema<W: WriteTool>() -> Value {
    let mut v = crate::pipeline::args::schema::<W::Args>();
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

/// The one list. Read tools, write tools (run as [`Write`]), then the other endpoints, each
/// in the order the tool list and the route table show them.
macro_rules! endpoints {
    (reads: [$($r:ty),* $(,)?], writes: [$($w:ty),* $(,)?], others: [$($o:ty),* $(,)?] $(,)?) => {
        /// Every endpoint, as data: what every function may link without linking any
        /// endpoint's code.
        pub const ENDPOINTS: &[Entry] = &[
            $(entry::<$r>(true),)*
            $(entry::<Write<$w>>(true),)*
            $(entry::<$o>(false),)*
        ];

        /// Every tool's pipeline call by name, for MCP (only the MCP function links it).
        pub fn calls() -> Vec<(&'static str, CallFn)> {
            vec![
                $((<$r as Endpoint>::NAME, call_as::<$r> as CallFn),)*
                $((<Write<$w> as Endpoint>::NAME, call_as::<Write<$w>> as CallFn),)*
            ]
        }

        /// Every write tool's approved run by name, for the approvals route (only its
        /// function links it).
        pub fn approvers() -> Vec<(&'static str, ApproveFn)> {
            vec![$((<$w as WriteTool>::NAME, approve_as::<$w> as ApproveFn),)*]
        }

        /// Every tool, as the tool list publishes it.
        pub fn tools() -> Vec<ToolInfo> {
            vec![$(read_info::<$r>(),)* $(write_info::<$w>(),)*]
        }
    };
}

endpoints! {
    reads: [
        GetSubscriptionStatus,
        GetInvoiceHistory,
        GetPaymentHistory,
        GetBillingInfo,
        GetUpcomingInvoice,
        GetAvailablePlans,
        GetCreditBalance,
        GetBillingPortalLink,
        ResendInvoice,
        EmailInvoices,
        StartSubscription,
    ],
    writes: [
        ChangePlan,
        CancelSubscription,
        ResumeSubscription,
        PauseSubscription,
        ApplyCoupon,
        UpdateBillingDetails,
        RequestRefund,
        RetryPayment,
    ],
    others: [
        Insight,
        AgentPortalLink,
        AgentCheckout,
        RecoveryQueue,
        ApprovalList,
        ApprovalDecision,
        VisitorTags,
        VisitorRequests,
        StripeWebhook,
        PayPage,
        PayNow,
        PayCard,
    ],
}

/// The tools' entries, in the tool list's order.
pub fn tool_entries() -> impl Iterator<Item = &'static Entry> {
    ENDPOINTS.iter().filter(|e| e.tool)
}

/// The tools' names.
pub fn tool_names() -> impl Iterator<Item = &'static str> {
    tool_entries().map(|e| e.name)
}

/// The tools a tenant stored before `enabled_tools` serves unless it turned them off.
pub fn tools_before_enabled_tools() -> Vec<&'static str> {
    tool_entries()
        .filter(|e| e.before_enabled_tools)
        .map(|e| e.name)
        .collect()
}

/// Whether the tenant serves the tool named `name` (a name this release does not have: no).
pub fn served(config: &TenantConfig, name: &str) -> bool {
    find(name).is_some_and(|e| config.serves(name, e.before_enabled_tools))
}

/// The endpoint named `name`.
pub fn find(name: &str) -> Option<&'static Entry> {
    ENDPOINTS.iter().find(|e| e.name == name)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_data_the_calls_and_the_tool_list_are_the_same_tools() {
        let data: Vec<&str> = tool_names().collect();
        let calls: Vec<&str> = calls().iter().map(|(n, _)| *n).collect();
        let listed: Vec<&str> = tools().iter().map(|t| t.name).collect();
        assert_eq!(data, calls);
        assert_eq!(data, listed);
        let mut unique = data.clone();
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), data.len(), "names are unique");
    }

    #[test]
    fn every_endpoint_that_asks_stripe_says_what_it_needs() {
        for e in ENDPOINTS {
            let asks_stripe = e.tool
                || [
                    Insight::NAME,
                    StripeWebhook::NAME,
                    AgentPortalLink::NAME,
                    AgentCheckout::NAME,
                    ApprovalDecision::NAME,
                    PayPage::NAME,
                    PayNow::NAME,
                    PayCard::NAME,
                ]
                .contains(&e.name);
            assert_eq!(!e.needs.is_empty(), asks_stripe, "{}", e.name);
            if e.tool {
                assert!(
                    e.needs.contains(&Need::Customer),
                    "{} resolves a customer",
                    e.name
                );
            }
        }
    }
}
