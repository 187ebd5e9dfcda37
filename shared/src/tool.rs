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

use crate::app::App;
use crate::args;
use crate::audit;
use crate::billing::Dates;
use crate::error::ApiError;
use crate::identity::Visitor;
use crate::stripe::StripeSession;
use crate::tenant::TenantConfig;

pub trait Tool: Send + Sync + 'static {
    const NAME: &'static str;
    /// What the tool does, for the model that chooses it.
    const DESCRIPTION: &'static str;
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

/// What the pipeline runs for `POST /v1/{tenant}/tools/{NAME}`: the body's input, then the
/// call.
pub trait Endpoint: Send + Sync + 'static {
    const NAME: &'static str;
    type Input: Send;

    /// The body as this endpoint's input; `audited` receives what the audit may keep of it.
    fn input(bytes: &[u8], audited: &mut Value) -> Result<Self::Input, ApiError>;

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

    fn input(bytes: &[u8], audited: &mut Value) -> Result<T::Args, ApiError> {
        parse_checked::<T::Args>(T::NAME, bytes, T::validate, audited)
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, input: T::Args) -> Result<Reply, ApiError> {
        self.run(call, input).await.map(Reply::done)
    }
}

/// Everything a tool may use: the tenant, the resolved customer, Stripe under the
/// tenant's key.
pub struct Call<'a> {
    pub app: &'a App,
    pub tenant: &'a TenantConfig,
    pub visitor: &'a Visitor,
    pub customer_id: &'a str,
    pub stripe: &'a StripeSession<'a>,
    pub request_id: &'a str,
    /// How this tenant's summaries say dates.
    pub dates: &'a Dates,
    /// Set by a write before Stripe is asked: its write-ahead audit record's sort key and
    /// the change it sends, which the pipeline's closing record completes.
    pub write_ahead: &'a OnceLock<(String, Value)>,
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
