//! The pipeline every tool call runs through, in order: route → tenant → identity →
//! tool switch → arguments → customer → tool → audit → envelope.
use std::convert::Infallible;
use std::future::Future;
use std::sync::{Arc, OnceLock};
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde_json::Value;

use crate::app::App;
use crate::audit::{self, AuditRecord};
use crate::caller::{Admits, Caller};
use crate::cors;
use crate::customer;
use crate::error::ApiError;
use crate::identity::Visitor;
use crate::limits;
use crate::response;
use crate::routes;
use crate::tenant::{TenantConfig, TenantSecrets, valid_tenant_id};
use crate::timefmt;
use crate::tool::{Call, Endpoint, Incoming, Reply, Subject};

/// The contract's body limit for calls (`413 payload_too_large` above it).
pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Runs a handler as a Lambda function until the runtime stops it. The app is built once
/// per cold start and lives as long as the process, so every invocation borrows it. Every
/// route answers a browser's preflight and grants the tenant's allowed origins here.
pub async fn serve<H, Fut>(app: App, handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(&'static App, Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response<Body>> + Send,
{
    let app: &'static App = Box::leak(Box::new(app));
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| {
        let answer = edge(app, req, handler);
        async move { Ok::<_, Infallible>(answer.await) }
    }))
    .await
}

/// One request at the edge: a preflight is answered here; any other call is handled, and
/// its answer carries the CORS grant when the tenant allows the caller's origin.
pub async fn edge<H, Fut>(app: &'static App, req: Request, handler: &H) -> Response<Body>
where
    H: Fn(&'static App, Request) -> Fut,
    Fut: Future<Output = Response<Body>>,
{
    if cors::is_preflight(&req) {
        return cors::preflight(app, &req).await;
    }
    let asked = cors::Asked::of(&req);
    let mut resp = handler(app, req).await;
    if let Some(origin) = asked.granted(app).await {
        cors::grant(&mut resp, &origin);
    }
    resp
}

/// Runs a handler that needs neither AWS nor Stripe (the route fallback): nothing to build,
/// so its cold start is the runtime's alone.
pub async fn serve_plain<H, Fut>(handler: H) -> Result<(), lambda_http::Error>
where
    H: Fn(Request) -> Fut + Send + Sync,
    Fut: Future<Output = Response<Body>> + Send,
{
    let handler = &handler;
    lambda_http::run(service_fn(move |req: Request| {
        let answer = handler(req);
        async move { Ok::<_, Infallible>(answer.await) }
    }))
    .await
}

/// Runs one tool (a read [`crate::Tool`] or a [`crate::write::Write`]) as a Lambda function.
pub async fn serve_tool<T: Endpoint>(app: App, tool: T) -> Result<(), lambda_http::Error> {
    let tool: &'static T = Box::leak(Box::new(tool));
    serve(app, move |app, req| handle(app, tool, req)).await
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
    pub write_ahead: Option<(String, Value)>,
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

pub async fn handle<T: Endpoint>(app: &App, tool: &T, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    // Locally the router sends every method to the function; API Gateway sends a wrong
    // one to the fallback. Both answer it the same way, from the same route table.
    if let Err(e) = routes::check(req.method().as_str(), req.uri().path()) {
        return response::failure(&e, &request_id);
    }
    let mut trail = Trail::new(audit::REST);
    let mut result = run(app, tool, &req, &request_id, &mut trail).await;
    if T::ADMITS == Admits::Agents {
        result = result.map_err(ApiError::for_agent);
    }
    record(app, T::NAME, trail, &result, &request_id, started).await;
    match result {
        Ok(reply) => T::respond(reply, &request_id),
        Err(err) => response::failure(&err, &request_id),
    }
}

pub(crate) fn request_id(req: &Request) -> String {
    req.lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
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
    let time = timefmt::rfc3339_now();
    let record = AuditRecord {
        pk: format!("{tenant}#{}", trail.customer.as_deref().unwrap_or("-")),
        sk: trail
            .write_ahead
            .as_ref()
            .map_or_else(|| format!("{time}#{request_id}"), |(sk, _)| sk.clone()),
        tenant,
        actor: trail.actor.unwrap_or_else(|| "anonymous".into()),
        customer: trail.customer,
        tool: tool.to_string(),
        args: trail.args,
        decision: if trail.reached_tool {
            "allowed"
        } else {
            "refused"
        }
        .into(),
        outcome,
        reason,
        http_status: status,
        stripe_request_ids: trail.stripe_request_ids,
        stripe_requests: trail.stripe_requests,
        latency_ms: started.elapsed().as_millis() as u64,
        time,
        request_id: request_id.to_string(),
        expires_at: timefmt::now_unix() + i64::from(app.audit_retention_days) * 86_400,
        sends: trail.write_ahead.map(|(_, sends)| sends),
        channel: trail.channel.to_string(),
    };
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

async fn run<T: Endpoint>(
    app: &App,
    tool: &T,
    req: &Request,
    request_id: &str,
    trail: &mut Trail,
) -> Result<Reply, ApiError> {
    let tenant_id = tenant_route(req.uri().path(), &T::route())?;
    let admitted = admit(app, T::ADMITS, T::MAX_BODY, req, tenant_id, trail).await?;
    let query = req.query_string_parameters();
    let incoming = Incoming {
        body: body_bytes(req),
        query: &query,
    };
    call(app, tool, &admitted, &incoming, request_id, trail).await
}

pub(crate) fn body_bytes(req: &Request) -> &[u8] {
    match req.body() {
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"",
    }
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
    req: &Request,
    tenant_id: &str,
    trail: &mut Trail,
) -> Result<Admitted, ApiError> {
    if req.body().len() > max_body {
        return Err(ApiError::payload_too_large());
    }
    let (config, mut secrets) = tenant(app, tenant_id).await?;
    trail.tenant = Some(config.tenant.clone());
    trail.stages.mark("tenant");
    let body = body_bytes(req);
    let verify = |secrets: &TenantSecrets| {
        Caller::verify(
            admits,
            req.headers(),
            body,
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
        Subject::Customer(id) => (Visitor::named(caller, Some(&id)), Some(id)),
        Subject::Tenant => (Visitor::named(caller, None), Some(String::new())),
    };
    let stripe = app.stripe.session(secrets.stripe_key.clone());
    let channel = trail.channel;
    let outcome = async {
        let customer_id = match named {
            Some(id) => id,
            None => customer::resolve(&stripe, config, &subject, known).await?,
        };
        trail.customer = Some(customer_id.clone()).filter(|c| !c.is_empty());
        trail.reached_tool = true;
        let dates = config.dates();
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
    if n < rest.len() + 2
        || segments[n - rest.len()..] != *rest
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
