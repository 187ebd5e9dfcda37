//! What a tool is: a name, an argument type, and a function from a resolved call to an
//! answer. The pipeline does everything else.
use std::future::Future;

use schemars::JsonSchema;
use serde::Serialize;
use serde::de::DeserializeOwned;
use serde_json::Value;

use crate::billing::Dates;
use crate::error::ApiError;
use crate::identity::Visitor;
use crate::pipeline::App;
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
}

#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub data: Value,
    /// One or two plain sentences a bot may say as they are.
    pub summary: String,
}
