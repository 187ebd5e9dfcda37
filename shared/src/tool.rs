//! What a tool is: a name, an argument type, and a function from a resolved call to an
//! answer. The pipeline does everything else. Read tools implement [`Tool`]; write tools
//! implement [`crate::write::WriteTool`] and run as [`crate::write::Write`]; both are an
//! [`Endpoint`] of the same pipeline.
use std::future::Future;
use std::sync::OnceLock;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use lambda_http::aws_lambda_events::query_map::QueryMap;
use lambda_http::{Body, Response};

use crate::app::App;
use crate::args;
use crate::audit;
use crate::billing::Dates;
use crate::caller::{Admits, Caller};
use crate::error::ApiError;
use crate::identity::Visitor;
use crate::response;
use crate::stripe::StripeSession;
use crate::tenant::TenantConfig;

pub trait Tool: Send + Sync + 'static {
    const NAME: &'static str;
    /// What the tool does, for the model that chooses it.
    const DESCRIPTION: &'static str;
    /// Whether a call leaves the visitor's billing and mailbox as they were (MCP's
    /// `readOnlyHint`); a resent invoice email is not.
    const READ_ONLY: bool = true;
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
    type Input: Send;

    /// The path after `/v1/{tenant}/`.
    fn route() -> Vec<&'static str> {
        vec!["tools", Self::NAME]
    }

    /// The request as this endpoint's input; `audited` receives what the audit may keep of
    /// it.
    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Self::Input, ApiError>;

    /// Whose billing the call is about: the visitor themself unless the endpoint says
    /// otherwise (an agent names the customer in the input; a Stripe event names its
    /// customer; a tenant-wide list names none). `None`: nobody, `customer_not_found`.
    fn subject(caller: &Caller, _input: &Self::Input) -> Option<Subject> {
        caller.visitor().cloned().map(Subject::Visitor)
    }

    /// Whether the tenant has switched this endpoint off.
    fn enabled(tenant: &TenantConfig) -> bool {
        tenant.tool_enabled(Self::NAME)
    }

    /// The success answer's shape: the tool envelope unless the endpoint says otherwise.
    fn respond(reply: Reply, request_id: &str) -> Response<Body> {
        response::success(Self::NAME, reply, request_id)
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

/// What an endpoint reads its input from.
pub struct Incoming<'a> {
    pub body: &'a [u8],
    pub query: &'a QueryMap,
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
    pub write_ahead: &'a OnceLock<(String, Value)>,
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
}

impl Reply {
    pub fn done(answer: Answer) -> Self {
        Self {
            status: "done",
            answer,
            confirmation: None,
        }
    }
}
