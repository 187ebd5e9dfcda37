//! `POST /v1/{tenant}/agent/portal_link` with `{"customer_id": "cus_..."}`: a Billing
//! Portal session for a customer the agent is looking at (the agent panel's button), so
//! the agent can send the customer there or see what the customer sees.
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject};
use crate::ports::tenants::TenantConfig;
use crate::stripe::api::{self, Need};
use crate::stripe::ids::CustomerId;
use crate::stripe::writes::PortalSessionCreate;

/// The agent's Billing Portal link.
#[derive(Default)]
pub struct AgentPortalLink;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct For {
    pub customer_id: CustomerId,
}

impl Endpoint for AgentPortalLink {
    const NAME: &'static str = "agent_portal_link";
    const ADMITS: Admits = Admits::AgentsOrPanel;
    const ROUTE: &'static [&'static str] = &["agent", "portal_link"];
    const SHAPE: Shape = Shape::Plain;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::PortalSession];
    type Input = For;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<For, ApiError> {
        let parsed: For = serde_json::from_slice(req.body).map_err(|_| {
            ApiError::invalid_request(
                "The body must be {\"customer_id\": \"cus_...\"}, a Stripe customer id.",
            )
            .with_reason("invalid_field")
        })?;
        *audited = json!({"customer_id": parsed.customer_id});
        Ok(parsed)
    }

    fn subject(_caller: &Caller, input: &For) -> Option<Subject> {
        Some(Subject::Customer(input.customer_id.to_string()))
    }

    /// Always on: the merchant's own staff asking, like agent insight.
    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, _input: For) -> Result<Reply, ApiError> {
        let params = api::portal_session(
            call.customer_id,
            &PortalSessionCreate {
                return_url: call.tenant.return_url.clone(),
                flow_data: None,
            },
        );
        let key = format!("{}:agent-portal", call.request_id);
        let session = call.stripe.post(&params, &key).await?;
        Ok(Reply::done(Answer {
            data: json!({"url": session.url, "customer_id": call.customer_id}),
            summary: "A Billing Portal link for this customer; it works once, for a short while."
                .into(),
        }))
    }
}
