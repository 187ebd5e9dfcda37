//! `GET /v1/{tenant}/agent/recovery?status=open|resolved`: the agents' queue of failed
//! payments, as the webhooks opened and resolved them.
use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject};
use crate::ports::state::RecoveryStatus;
use crate::ports::tenants::TenantConfig;

/// The agents' recovery queue.
pub struct RecoveryQueue;

impl Endpoint for RecoveryQueue {
    const NAME: &'static str = "agent_recovery";
    const ADMITS: Admits = Admits::Agents;
    type Input = RecoveryStatus;

    const ROUTE: &'static [&'static str] = &["agent", "recovery"];
    const METHOD: &'static str = "GET";
    const SHAPE: Shape = Shape::Plain;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<RecoveryStatus, ApiError> {
        let status = match req.query.first("status") {
            None | Some("open") => RecoveryStatus::Open,
            Some("resolved") => RecoveryStatus::Resolved,
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "Invalid field `status`: must be `open` or `resolved`.",
                )
                .with_reason("invalid_field"));
            }
        };
        *audited = json!({"status": status});
        Ok(status)
    }

    fn subject(_caller: &Caller, _input: &RecoveryStatus) -> Option<Subject> {
        Some(Subject::Tenant)
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(
        &'a self,
        call: &'a Call<'a>,
        status: RecoveryStatus,
    ) -> Result<Reply, ApiError> {
        let list = call
            .app
            .state
            .recoveries(&call.tenant.tenant, status, None)
            .await?;
        Ok(Reply::done(Answer {
            data: json!({"status": status, "recoveries": list}),
            summary: String::new(),
        }))
    }
}
