//! What an endpoint is: a name, the callers it admits, its input, whose billing it is
//! about, and a function from a resolved call to an answer. The pipeline does everything
//! else. Read tools implement [`Tool`]; write tools implement
//! [`crate::pipeline::two_phase::WriteTool`] and run as
//! [`crate::pipeline::two_phase::Write`]; both are an [`Endpoint`] of the same pipeline.
use std::future::Future;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use http::HeaderMap;

use crate::auth::caller::{Admits, Caller};
use crate::auth::identity::Visitor;
use crate::billing::Dates;
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::pipeline::args;
use crate::ports::audit;
use crate::ports::tenants::TenantConfig;
use crate::stripe::StripeSession;
use crate::stripe::api::Need;

pub trait Tool: Send + Sync + 'static {
    const NAME: &'static str;
    /// What the tool does, for the model that chooses it.
    const DESCRIPTION: &'static str;
    /// Whether a call leaves the visitor's billing and mailbox as they were (MCP's
    /// `readOnlyHint`); a resent invoice email is not.
    const READ_ONLY: bool = true;
    /// The tool existed when tenants turned tools off with `disabled_tools`: a config
    /// stored then serves it unless it turned it off (a tool added since is off until
    /// listed in `enabled_tools`).
    const BEFORE_ENABLED_TOOLS: bool = false;
    /// See [`Endpoint::NEW_CUSTOMERS`].
    const NEW_CUSTOMERS: bool = false;
    /// What it asks Stripe with the tenant's key.
    const NEEDS: &'static [Need];
    /// Deserialized with unknown fields denied; its JSON Schema is what the tool list
    /// publishes.
    type Args: DeserializeOwned + Serialize + JsonSchema + Send + Sync;

    /// Range and format checks serde cannot express; a failure names the field.
    fn validate(_args: &Self::Args) -> Result<(), ApiError> {
        Ok(())
    }

    fn run<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: Self::Args,
    ) -> impl Future<Output = Result<Answer, ApiError>> + Send + 'a;
}

/// What the pipeline runs for one route: who it admits, its input, whose billing it is
/// about, then the call. By default a visitor's `POST /v1/{tenant}/tools/{NAME}`.
pub trait Endpoint: Send + Sync + 'static {
    const NAME: &'static str;
    const ADMITS: Admits = Admits::Visitors;
    /// The largest body it takes (`413 payload_too_large` above).
    const MAX_BODY: usize = crate::pipeline::MAX_BODY_BYTES;
    /// How a success is answered: the tool envelope unless the endpoint says otherwise.
    const SHAPE: Shape = Shape::Tool;
    /// See [`Tool::BEFORE_ENABLED_TOOLS`].
    const BEFORE_ENABLED_TOOLS: bool = false;
    /// The path after `/v1/{tenant}/`.
    const ROUTE: &'static [&'static str] = &["tools", Self::NAME];
    /// The route's method.
    const METHOD: &'static str = "POST";
    /// What it asks Stripe with the tenant's key (`tenantctl connect-key` probes each).
    const NEEDS: &'static [Need] = &[];
    /// The call is also for a visitor who is not a Stripe customer yet (a checkout): when
    /// none is found, `Call::customer_id` is empty instead of `customer_not_found`.
    const NEW_CUSTOMERS: bool = false;
    type Input: Send;

    /// The request as this endpoint's input; `audited` receives what the audit may keep of
    /// it.
    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Self::Input, ApiError>;

    /// Whose billing the call is about: the visitor themself unless the endpoint says
    /// otherwise (an agent names the customer in the input; a Stripe event names its
    /// customer; a tenant-wide list names none). `None`: nobody, `customer_not_found`.
    fn subject(caller: &Caller, _input: &Self::Input) -> Option<Subject> {
        caller.visitor().cloned().map(Subject::Visitor)
    }

    /// Whether the tenant serves this endpoint.
    fn enabled(tenant: &TenantConfig) -> bool {
        tenant.serves(Self::NAME, Self::BEFORE_ENABLED_TOOLS)
    }

    fn serve<'a>(
        &'a self,
        call: &'a Call<'a>,
        input: Self::Input,
    ) -> impl Future<Output = Result<Reply, ApiError>> + Send + 'a;
}

/// Parses and validates a tool's arguments; the audit keeps valid ones redacted and
/// invalid ones by shape only.
pub(crate) fn parse_checked<A: DeserializeOwned + JsonSchema>(
    tool: &str,
    bytes: &[u8],
    validate: fn(&A) -> Result<(), ApiError>,
    audited: &mut Value,
) -> Result<A, ApiError> {
    let mut seen = Value::Null;
    let parsed = args::parse::<A>(tool, bytes, &mut seen).and_then(|a| validate(&a).map(|()| a));
    *audited = match &parsed {
        Ok(_) => audit::redact(&seen),
        Err(_) => audit::shape(&seen),
    };
    parsed
}

impl<T: Tool> Endpoint for T {
    const NAME: &'static str = T::NAME;
    const BEFORE_ENABLED_TOOLS: bool = T::BEFORE_ENABLED_TOOLS;
    const NEW_CUSTOMERS: bool = T::NEW_CUSTOMERS;
    const NEEDS: &'static [Need] = T::NEEDS;
    type Input = T::Args;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<T::Args, ApiError> {
        parse_checked::<T::Args>(T::NAME, req.body, T::validate, audited)
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, input: T::Args) -> Result<Reply, ApiError> {
        self.run(call, input).await.map(Reply::done)
    }
}

/// The type of [`input_of`].
pub type InputFn = fn(&Incoming<'_>, &mut Value) -> Result<(), ApiError>;

/// An endpoint's input parsing on its own, for the tool list's table and the fuzzer.
pub fn input_of<E: Endpoint>(req: &Incoming<'_>, audited: &mut Value) -> Result<(), ApiError> {
    E::input(req, audited).map(drop)
}

/// Whose billing a call is about.
#[derive(Debug, Clone, PartialEq)]
pub enum Subject {
    /// Found as a visitor is: by claim, mapping or email.
    Visitor(Visitor),
    /// A customer id the (trusted) caller names.
    Customer(String),
    /// No one customer: the call is about the whole tenant.
    Tenant,
}

/// How a success is answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// The tool envelope: `ok`, `tool`, `status`, `data`, `summary`, `confirmation`.
    Tool,
    /// The answer's `data` as the body, with `ok` and `request_id`.
    Plain,
    /// As [`Shape::Plain`], with the summary in the body too.
    PlainWithSummary,
}

/// A call as the pipeline takes it, whatever carried it.
pub struct Incoming<'a> {
    /// The path as requested (a stage prefix allowed before `/v1/`).
    pub path: &'a str,
    pub headers: &'a HeaderMap,
    pub body: &'a [u8],
    pub query: &'a Query,
}

/// A request's query parameters, in order.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Query(pub Vec<(String, String)>);

impl Query {
    /// The first value of `name`.
    pub fn first(&self, name: &str) -> Option<&str> {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Everything a tool may use: the tenant, the resolved customer, Stripe under the
/// tenant's key.
pub struct Call<'a> {
    pub app: &'a App,
    pub tenant: &'a TenantConfig,
    pub caller: &'a Caller,
    /// Whose billing this is: the visitor, or the customer an agent named.
    pub visitor: &'a Visitor,
    pub customer_id: &'a str,
    pub stripe: &'a StripeSession<'a>,
    pub request_id: &'a str,
    /// How this tenant's summaries say dates.
    pub dates: &'a Dates,
    /// Set by a write before Stripe is asked: its write-ahead audit record's sort key and
    /// the change it sends, which the pipeline's closing record completes.
    /// (An approved write runs under the approvals route: its tool is named here, so the
    /// closing record is the write's.)
    pub write_ahead: &'a OnceLock<crate::pipeline::WriteAhead>,
    /// How the call arrived (`rest`, `mcp`), for the audit records it writes.
    pub channel: &'static str,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub data: Value,
    /// One or two plain sentences a bot may say as they are.
    pub summary: String,
}

/// An answer and the contract's `status` for it.
#[derive(Debug, Clone, PartialEq)]
pub struct Reply {
    /// `done`, or `confirmation_required` for a write's preview.
    pub status: &'static str,
    pub answer: Answer,
    /// A write's preview: `{"token", "expires_at", "preview"}`.
    pub confirmation: Option<Value>,
    /// A write waiting for a person: `{"id", "expires_at"}` (`status: pending_approval`).
    pub approval: Option<Value>,
}

impl Reply {
    pub fn done(answer: Answer) -> Self {
        Self {
            status: "done",
            answer,
            confirmation: None,
            approval: None,
        }
    }
}
