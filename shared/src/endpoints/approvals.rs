//! Approvals that resume. A confirmed write that a bound the tenant lets a person lift held
//! (`policy.approval_for`) waits as an approval (see `pipeline::two_phase`); here agents
//! list them, `GET /v1/{tenant}/agent/approvals?status=`, and decide one,
//! `POST /v1/{tenant}/agent/approvals/{id}`; the visitor reads how theirs went,
//! `GET /v1/{tenant}/visitor/requests`.
use serde::Deserialize;
use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::auth::identity::Visitor;
use crate::billing::approvals::{agent_view, visitor_view};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject};
use crate::pipeline::notify;
use crate::pipeline::two_phase::ApproveFn;
use crate::pipeline::two_phase::approver_has_room;
use crate::ports::notices::NoticeKind;
use crate::ports::state::{Approval, ApprovalStatus};
use crate::ports::tenants::TenantConfig;
use crate::stripe::api::Need;
use crate::timefmt::now_unix;

/// The longest note an agent may leave with a decision.
const MAX_NOTE: usize = 500;

/// `GET /v1/{tenant}/agent/approvals?status=pending|approved|denied|expired[&customer_id=]`.
#[derive(Default)]
pub struct ApprovalList;

pub struct ListInput {
    status: ApprovalStatus,
    customer: Option<String>,
}

impl Endpoint for ApprovalList {
    const NAME: &'static str = "agent_approvals";
    const ADMITS: Admits = Admits::AgentsOrPanel;
    const ROUTE: &'static [&'static str] = &["agent", "approvals"];
    const METHOD: &'static str = "GET";
    const SHAPE: Shape = Shape::Plain;
    type Input = ListInput;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<ListInput, ApiError> {
        let status = match req.query.first("status") {
            None | Some("pending") => ApprovalStatus::Pending,
            Some("approved") => ApprovalStatus::Approved,
            Some("denied") => ApprovalStatus::Denied,
            Some("expired") => ApprovalStatus::Expired,
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "Invalid field `status`: must be `pending`, `approved`, `denied` or `expired`.",
                )
                .with_reason("invalid_field"));
            }
        };
        let customer = match req.query.first("customer_id") {
            None => None,
            Some(c) if Approval::customer_of(&format!("apr_{c}.{}", "0".repeat(24))).is_some() => {
                Some(c.to_string())
            }
            Some(_) => {
                return Err(ApiError::invalid_request(
                    "Invalid field `customer_id`: must be a Stripe customer id (cus_...).",
                )
                .with_reason("invalid_field"));
            }
        };
        *audited = json!({"status": status, "customer_id": customer});
        Ok(ListInput { status, customer })
    }

    fn subject(_caller: &Caller, _input: &ListInput) -> Option<Subject> {
        Some(Subject::Tenant)
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, input: ListInput) -> Result<Reply, ApiError> {
        let now = now_unix();
        let all = call
            .app
            .state
            .approvals(&call.tenant.tenant, input.customer.as_deref())
            .await?;
        let listed: Vec<Value> = all
            .iter()
            .filter(|a| a.status_at(now) == input.status)
            .map(|a| agent_view(a, now))
            .collect();
        Ok(Reply::done(Answer {
            data: json!({"status": input.status, "approvals": listed}),
            summary: String::new(),
        }))
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Decision {
    Approve,
    Deny,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct DecisionBody {
    decision: Decision,
    #[serde(default)]
    note: Option<String>,
}

pub struct DecideInput {
    id: String,
    customer: String,
    decision: Decision,
    note: Option<String>,
}

/// `POST /v1/{tenant}/agent/approvals/{id}` with `{"decision": "approve"|"deny", "note"?}`.
/// It runs any write tool once approved: the table of them is given by the function that
/// serves it (`endpoints::registry::approvers`), so this file needs no table above it.
pub struct ApprovalDecision {
    pub approvers: fn() -> Vec<(&'static str, ApproveFn)>,
}

fn unknown() -> ApiError {
    ApiError::not_found("No such approval for this tenant.").with_reason("unknown_approval")
}

impl Endpoint for ApprovalDecision {
    const NAME: &'static str = "agent_approval_decision";
    const ADMITS: Admits = Admits::AgentsOrPanel;
    const ROUTE: &'static [&'static str] = &["agent", "approvals", "{id}"];
    const SHAPE: Shape = Shape::PlainWithSummary;
    /// An approved write is any write tool's: what those ask Stripe.
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::CustomerUpdate,
        Need::Subscriptions,
        Need::SubscriptionUpdate,
        Need::Prices,
        Need::Products,
        Need::Invoices,
        Need::InvoicePreview,
        Need::InvoicePay,
        Need::Charges,
        Need::Charge,
        Need::PaymentIntent,
        Need::RefundCreate,
        Need::PromotionCodes,
    ];
    type Input = DecideInput;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<DecideInput, ApiError> {
        let id = req
            .path
            .trim_end_matches('/')
            .rsplit('/')
            .next()
            .unwrap_or_default();
        let customer = Approval::customer_of(id).ok_or_else(unknown)?.to_string();
        let body: DecisionBody = serde_json::from_slice(req.body).map_err(|_| {
            ApiError::invalid_request(
                "The body must be {\"decision\": \"approve\" or \"deny\", \"note\": optional text}.",
            )
            .with_reason("invalid_field")
        })?;
        if body
            .note
            .as_ref()
            .is_some_and(|n| n.chars().count() > MAX_NOTE)
        {
            return Err(ApiError::invalid_request(format!(
                "Invalid field `note`: at most {MAX_NOTE} characters."
            ))
            .with_reason("invalid_field"));
        }
        *audited = json!({"approval": id, "decision": format!("{:?}", body.decision).to_lowercase(),
                          "note_chars": body.note.as_ref().map(|n| n.chars().count())});
        Ok(DecideInput {
            id: id.to_string(),
            customer,
            decision: body.decision,
            note: body.note,
        })
    }

    fn subject(_caller: &Caller, input: &DecideInput) -> Option<Subject> {
        Some(Subject::Customer(input.customer.clone()))
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(
        &'a self,
        call: &'a Call<'a>,
        input: DecideInput,
    ) -> Result<Reply, ApiError> {
        let now = now_unix();
        let tenant = &call.tenant.tenant;
        let by = call.caller.actor();
        let to = match input.decision {
            Decision::Approve => ApprovalStatus::Approved,
            Decision::Deny => ApprovalStatus::Denied,
        };
        if input.decision == Decision::Approve {
            // Over the approver's own cap: refused before deciding, so it stays pending for
            // another agent.
            let (stored, _) = call
                .app
                .state
                .change_approval(tenant, &input.id, &|_| None)
                .await?;
            let a = stored.ok_or_else(unknown)?;
            if a.status_at(now) == ApprovalStatus::Pending
                && let Some(c) = call.app.ledger.get(tenant, &a.confirmation).await?
            {
                approver_has_room(call, &c).await?;
            }
        }
        // The decision is one compare-and-set: of racing decisions, one is written.
        let (stored, decided_now) = call
            .app
            .state
            .change_approval(tenant, &input.id, &|s| {
                let s = s?;
                (s.status_at(now) == ApprovalStatus::Pending).then(|| Approval {
                    status: to,
                    decided_by: Some(by.clone()),
                    decided_at: Some(now),
                    note: input.note.clone(),
                    ..s.clone()
                })
            })
            .await?;
        let a = stored.ok_or_else(unknown)?;
        if decided_now {
            notify::approval(call.app, tenant, &a, NoticeKind::ApprovalDecided).await;
        }
        match (input.decision, a.status_at(now)) {
            (Decision::Deny, ApprovalStatus::Denied) if decided_now => Ok(Reply::done(Answer {
                data: json!({"approval": agent_view(&a, now)}),
                summary: "Declined: nothing was changed, and the visitor will hear so.".into(),
            })),
            // Approved now, or before: the write runs (or its first outcome is answered),
            // once however many approvals race.
            (Decision::Approve, ApprovalStatus::Approved) => {
                run(call, a, now, (self.approvers)()).await
            }
            (_, ApprovalStatus::Expired) => Err(ApiError::approval_closed(
                "approval_expired",
                format!(
                    "This approval expired at {} without a decision, so nothing was changed.",
                    call.dates.time(a.expires_at)
                ),
            )),
            (_, status) => Err(ApiError::approval_closed(
                "already_decided",
                format!(
                    "This approval was already {} by {}, so nothing more was done.",
                    json!(status).as_str().unwrap_or_default(),
                    a.decided_by.as_deref().unwrap_or("someone")
                ),
            )),
        }
    }
}

/// Runs an approved write as the visitor confirmed it (their customer, their user id), by
/// the approver, and keeps its first outcome on the approval for the visitor.
async fn run(
    call: &Call<'_>,
    a: Approval,
    now: i64,
    approvers: Vec<(&'static str, ApproveFn)>,
) -> Result<Reply, ApiError> {
    let tenant = &call.tenant.tenant;
    let c = call
        .app
        .ledger
        .get(tenant, &a.confirmation)
        .await?
        .ok_or_else(|| {
            ApiError::approval_closed(
                "write_gone",
                "The write this approval was for is no longer kept, so nothing was done.",
            )
        })?;
    let approve = approvers
        .into_iter()
        .find(|(name, _)| *name == a.tool)
        .map(|(_, f)| f)
        .ok_or_else(unknown)?;
    let visitor = Visitor {
        user_id: a.user_id.clone(),
        email: None,
        stripe_customer_id: Some(a.customer.clone()),
    };
    let as_asked = Call {
        visitor: &visitor,
        customer_id: &a.customer,
        ..*call
    };
    let result = approve(&as_asked, c).await;
    let outcome = match &result {
        Ok(r) => json!({"data": r.answer.data, "summary": r.answer.summary}),
        Err(e) => json!({"error": {"status": e.status, "code": e.code, "reason": e.reason,
                                   "message": e.message}}),
    };
    let (kept, _) = call
        .app
        .state
        .change_approval(tenant, &a.id, &|s| {
            s.filter(|s| s.outcome.is_none()).map(|s| Approval {
                outcome: Some(outcome.clone()),
                ..s.clone()
            })
        })
        .await?;
    let a = kept.unwrap_or(a);
    let reply = result?;
    Ok(Reply::done(Answer {
        data: json!({"approval": agent_view(&a, now), "outcome": reply.answer.data}),
        summary: format!("Approved. {}", reply.answer.summary),
    }))
}

/// `GET /v1/{tenant}/visitor/requests`: the visitor's requests that waited for a person,
/// and how each ended.
#[derive(Default)]
pub struct VisitorRequests;

impl Endpoint for VisitorRequests {
    const NAME: &'static str = "visitor_requests";
    const ROUTE: &'static [&'static str] = &["visitor", "requests"];
    const METHOD: &'static str = "GET";
    const SHAPE: Shape = Shape::Plain;
    type Input = ();

    fn input(_req: &Incoming<'_>, _audited: &mut Value) -> Result<(), ApiError> {
        Ok(())
    }

    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, _input: ()) -> Result<Reply, ApiError> {
        let now = now_unix();
        let mine = call
            .app
            .state
            .approvals(&call.tenant.tenant, Some(call.customer_id))
            .await?;
        Ok(Reply::done(Answer {
            data: json!({"requests": mine.iter().map(|a| visitor_view(a, now)).collect::<Vec<_>>()}),
            summary: String::new(),
        }))
    }
}
