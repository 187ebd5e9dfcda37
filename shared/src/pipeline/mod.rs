//! The pipeline every call runs through, transport-neutral: it takes a plain [`Incoming`]
//! (path, headers, body, query), whatever carried it (a REST route, an MCP `tools/call`),
//! and answers a [`Reply`] or the contract's error. In order: tenant → identity
//! ([`admit`]) → rate limits and the known customer → the endpoint switch → its input →
//! whose billing → the endpoint ([`call`]) → audit ([`record`]).
pub mod app;
pub mod args;
pub mod catalog;
pub mod customer;
pub mod endpoint;
pub mod limits;
pub mod notify;
pub mod policy;
pub mod tenants;
pub mod two_phase;

use std::sync::{Arc, OnceLock};
use std::time::Instant;

use serde_json::Value;

use crate::auth::caller::{Admits, Caller};
use crate::billing::Dates;
use crate::error::ApiError;
use crate::ports::audit::{self, AuditRecord};
use crate::ports::tenants::{TenantConfig, TenantSecrets, valid_tenant_id};
use crate::timefmt;
use app::App;
use endpoint::{Call, Endpoint, Incoming, Reply, Subject};

/// The contract's body limit for calls (`413 payload_too_large` above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// A write's write-ahead audit record, which the call's closing record completes.
#[derive(Debug, Clone)]
pub struct WriteAhead {
    pub sk: String,
    /// The Stripe change it sends.
    pub sends: Value,
    pub tool: &'static str,
    pub customer: String,
}

/// What the audit record needs to know, filled in as the call gets further.
pub struct Trail {
    pub tenant: Option<String>,
    pub actor: Option<String>,
    pub customer: Option<String>,
    pub args: Value,
    pub reached_tool: bool,
    pub stripe_request_ids: Vec<String>,
    pub stripe_requests: u32,
    /// A write's write-ahead record (sort key, change sent), which this call's record
    /// completes.
    pub write_ahead: Option<WriteAhead>,
    /// How the call arrived: `rest` (its own route) or `mcp`.
    pub channel: &'static str,
    pub stages: Stages,
}

/// How long each stage of one call took, logged at debug level (target `stages`) for the
/// bench, which turns it on: where a warm call's own time goes.
pub struct Stages {
    last: Instant,
    marks: Vec<(&'static str, u128)>,
}

impl Stages {
    fn new() -> Self {
        Self {
            last: Instant::now(),
            marks: Vec::new(),
        }
    }

    /// The time since the previous mark is `stage`'s.
    pub fn mark(&mut self, stage: &'static str) {
        let now = Instant::now();
        self.marks
            .push((stage, now.duration_since(self.last).as_micros()));
        self.last = now;
    }

    fn line(&self) -> String {
        self.marks
            .iter()
            .map(|(s, us)| format!("{s}={us}"))
            .collect::<Vec<_>>()
            .join(" ")
    }
}

impl Trail {
    pub fn new(channel: &'static str) -> Self {
        Self {
            tenant: None,
            actor: None,
            customer: None,
            args: Value::Null,
            reached_tool: false,
            stripe_request_ids: Vec::new(),
            stripe_requests: 0,
            write_ahead: None,
            channel,
            stages: Stages::new(),
        }
    }
}

/// Writes the call's audit record (DynamoDB and one log line). Calls that never got as far
/// as a known tenant have no tenant to file them under and are only logged by the runtime.
pub(crate) async fn record<A>(
    app: &App,
    tool: &str,
    trail: Trail,
    result: &Result<A, ApiError>,
    request_id: &str,
    started: Instant,
) {
    let Some(tenant) = trail.tenant else { return };
    let (status, outcome, reason) = match result {
        Ok(_) => (200, "ok".to_string(), None),
        Err(e) => (e.status, e.code.to_string(), e.reason.clone()),
    };
    if trail.actor.is_none() {
        // Refused before we knew who asked: counted, never stored one by one, so a flood
        // of bad tokens cannot fill the audit table.
        audit::count_refused(&tenant, tool, &outcome, reason.as_deref());
        return;
    }
    // A write's record is completed under the write's customer, also where the call found
    // that customer on its own (a pay-now link names it only once it is read).
    let customer = trail
        .customer
        .clone()
        .or_else(|| trail.write_ahead.as_ref().map(|w| w.customer.clone()));
    let mut record = AuditRecord::new(
        &tenant,
        customer.as_deref(),
        trail.actor.unwrap_or_else(|| "anonymous".into()),
        tool,
        trail.args,
        trail.channel,
        request_id,
        app.audit_retention_days,
    );
    if let Some(w) = trail.write_ahead {
        // The write's record, written ahead: completed under its key, as the write's tool
        // (an agent's approval runs a visitor's write).
        record.sk = w.sk;
        record.sends = Some(w.sends);
        record.tool = w.tool.to_string();
    }
    record.decision = if trail.reached_tool {
        "allowed"
    } else {
        "refused"
    }
    .into();
    record.outcome = outcome;
    record.reason = reason;
    record.http_status = status;
    record.stripe_request_ids = trail.stripe_request_ids;
    record.stripe_requests = trail.stripe_requests;
    record.latency_ms = started.elapsed().as_millis() as u64;
    let stored = match app.audit.write(&record).await {
        Ok(()) => true,
        Err(e) => {
            tracing::error!(error = %e, request_id, "audit record not stored");
            false
        }
    };
    let mut stages = trail.stages;
    stages.mark("audit");
    tracing::debug!(target: "stages", tool, request_id, stages_us = %stages.line(), "stages");
    audit::log(&record, stored);
}

fn signed_with_unknown_secret(e: &ApiError) -> bool {
    matches!(
        e.reason.as_deref(),
        Some("bad_signature" | "bad_user_hash" | "no_matching_signature")
    )
}

/// The tenant's config and secrets, or the contract's answer for a tenant we can't serve.
pub(crate) async fn tenant(
    app: &App,
    tenant_id: &str,
) -> Result<(Arc<TenantConfig>, Arc<TenantSecrets>), ApiError> {
    let config = app
        .tenants
        .config(tenant_id)
        .await?
        .ok_or_else(ApiError::unknown_tenant)?;
    let secrets = app
        .tenants
        .secrets(tenant_id)
        .await?
        .ok_or_else(|| ApiError::billing_unavailable(503, "tenant_not_connected"))?;
    Ok((config, secrets))
}

/// One call of an endpoint on its own route: the tenant from the path, the caller, then
/// the call.
pub async fn run<T: Endpoint>(
    app: &App,
    endpoint: &T,
    incoming: &Incoming<'_>,
    request_id: &str,
    trail: &mut Trail,
) -> Result<Reply, ApiError> {
    let tenant_id = tenant_route(incoming.path, T::ROUTE)?;
    let admitted = admit(app, T::ADMITS, T::MAX_BODY, incoming, tenant_id, trail).await?;
    call(app, endpoint, &admitted, incoming, request_id, trail).await
}

/// A request whose tenant is known and whose caller proved who they are.
pub struct Admitted {
    pub config: Arc<TenantConfig>,
    pub secrets: Arc<TenantSecrets>,
    pub caller: Caller,
    /// The request's calls were counted against the rates already (an MCP batch counts as
    /// its size before any of its messages runs).
    pub prepaid: bool,
}

/// The first half of every call: size, tenant, then the caller's credentials against the
/// tenant's secrets (`trail.tenant` set as soon as the tenant is known).
pub async fn admit(
    app: &App,
    admits: Admits,
    max_body: usize,
    req: &Incoming<'_>,
    tenant_id: &str,
    trail: &mut Trail,
) -> Result<Admitted, ApiError> {
    if req.body.len() > max_body {
        return Err(ApiError::payload_too_large());
    }
    let (config, mut secrets) = tenant(app, tenant_id).await?;
    trail.tenant = Some(config.tenant.clone());
    trail.stages.mark("tenant");
    let verify = |secrets: &TenantSecrets| {
        Caller::verify(
            admits,
            req.headers,
            req.body,
            &config,
            secrets,
            timefmt::now_unix(),
        )
    };
    let caller = match verify(&secrets) {
        // Signed with a secret rotated in after this process read the tenant's: read once
        // more (bounded per tenant), so a new secret works at once.
        Err(e) if signed_with_unknown_secret(&e) => {
            match app.tenants.refresh_secrets(tenant_id).await? {
                Some(fresh) => {
                    secrets = fresh;
                    verify(&secrets)
                }
                None => Err(e),
            }
        }
        other => other,
    }?;
    trail.stages.mark("identity");
    Ok(Admitted {
        config,
        secrets,
        caller,
        prepaid: false,
    })
}

/// The second half: limits, the tool switch, the input, whose billing, then the tool. The
/// REST routes run it once per request; MCP once per `tools/call`.
pub async fn call<T: Endpoint>(
    app: &App,
    tool: &T,
    admitted: &Admitted,
    incoming: &Incoming<'_>,
    request_id: &str,
    trail: &mut Trail,
) -> Result<Reply, ApiError> {
    let Admitted {
        config,
        secrets,
        caller,
        prepaid,
    } = admitted;
    trail.actor = Some(caller.actor());
    // A visitor's customer is known before any input (without Stripe), so a call refused
    // below is still filed under it. Looked up beside the rate check (both DynamoDB, neither
    // needs the other): one round trip, not two; a refused call's look-up is thrown away.
    let (limited, known) = futures::join!(
        async {
            match prepaid {
                true => Ok(()),
                false => limits::check(app, config, caller, 1, timefmt::now_unix()).await,
            }
        },
        async {
            match caller.visitor() {
                Some(v) => customer::known(app.tenants.store(), config, v).await,
                None => Ok(None),
            }
        }
    );
    trail.stages.mark("limits_and_mapping");
    limited?;
    let mut known = known?;
    trail.customer = known.clone();
    if !T::enabled(config) {
        return Err(ApiError::tool_disabled(T::NAME));
    }
    let input = T::input(incoming, &mut trail.args)?;
    trail.stages.mark("input");
    let subject = T::subject(caller, &input).ok_or_else(ApiError::customer_not_found)?;
    // Whose billing, as a visitor for the rest of the pipeline: an event's customer and a
    // tenant-wide call are named by the caller, not looked up.
    let (subject, named) = match subject {
        Subject::Visitor(v) => {
            if caller.visitor().is_none() {
                known = customer::known(app.tenants.store(), config, &v).await?;
            }
            (v, None)
        }
        Subject::Customer(id) => (caller.as_visitor(Some(&id)), Some(id)),
        Subject::Tenant => (caller.as_visitor(None), Some(String::new())),
    };
    let stripe = app.stripe.session(secrets.stripe_key.clone());
    let channel = trail.channel;
    let outcome = async {
        let customer_id = match named {
            Some(id) => id,
            None => match customer::resolve(&stripe, config, &subject, known).await {
                // Not a customer yet, and the endpoint serves those too (a checkout).
                Err(e) if T::NEW_CUSTOMERS && e.code == "customer_not_found" => String::new(),
                other => other?,
            },
        };
        trail.customer = Some(customer_id.clone()).filter(|c| !c.is_empty());
        trail.reached_tool = true;
        let dates = Dates::new(config.time_zone.as_deref());
        let write_ahead = OnceLock::new();
        let call = Call {
            app,
            tenant: config,
            caller,
            visitor: &subject,
            customer_id: &customer_id,
            stripe: &stripe,
            request_id,
            dates: &dates,
            write_ahead: &write_ahead,
            channel,
        };
        let reply = tool.serve(&call, input).await;
        trail.write_ahead = write_ahead.get().cloned();
        reply
    }
    .await;
    trail.stages.mark("customer_and_tool");
    trail.stripe_request_ids = stripe.request_ids();
    trail.stripe_requests = stripe.request_count();
    outcome
}

/// `/v1/{tenant}/{rest...}`: the tenant, when `rest` is what the path ends with.
pub fn tenant_route<'a>(path: &'a str, rest: &[&str]) -> Result<&'a str, ApiError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    let n = segments.len();
    // A `{name}` segment of the route (an id) takes any non-empty segment.
    let matches = |tail: &[&str]| {
        tail.iter().zip(rest).all(|(seg, r)| {
            if r.starts_with('{') {
                !seg.is_empty()
            } else {
                seg == r
            }
        })
    };
    if n < rest.len() + 2
        || !matches(&segments[n - rest.len()..])
        || segments[n - rest.len() - 2] != "v1"
    {
        return Err(ApiError::not_found("No such route."));
    }
    tenant_of(segments[n - rest.len() - 1])
}

fn tenant_of(id: &str) -> Result<&str, ApiError> {
    if valid_tenant_id(id) {
        Ok(id)
    } else {
        Err(ApiError::unknown_tenant())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_routes_follow_the_contract() {
        let tail = ["tools", "get_x"];
        assert_eq!(tenant_route("/v1/demo/tools/get_x", &tail).unwrap(), "demo");
        assert_eq!(
            tenant_route("/prod/v1/demo/tools/get_x/", &tail).unwrap(),
            "demo"
        );
        assert_eq!(
            tenant_route("/v1/BAD/tools/get_x", &tail).unwrap_err().code,
            "unknown_tenant"
        );
        assert_eq!(
            tenant_route("/v1/demo/tools/get_y", &tail)
                .unwrap_err()
                .code,
            "not_found"
        );
        assert_eq!(
            tenant_route("/v2/demo", &tail).unwrap_err().code,
            "not_found"
        );
    }

    #[test]
    fn tenant_routes_match_their_tail_only() {
        assert_eq!(
            tenant_route("/v1/demo/agent/insight", &["agent", "insight"]).unwrap(),
            "demo"
        );
        assert_eq!(tenant_route("/v1/demo/tools", &["tools"]).unwrap(), "demo");
        assert_eq!(
            tenant_route("/v1/x/tools", &["tools"]).unwrap_err().code,
            "unknown_tenant"
        );
        assert_eq!(
            tenant_route("/v1/demo/tools/a", &["tools"])
                .unwrap_err()
                .code,
            "not_found"
        );
        assert_eq!(
            tenant_route("/tools", &["tools"]).unwrap_err().code,
            "not_found"
        );
    }
}
