//! The pipeline every tool call runs through, in order: route → tenant → identity →
//! tool switch → arguments → customer → tool → audit → envelope.
use std::convert::Infallible;
use std::sync::Arc;
use std::time::{Duration, Instant};

use lambda_http::{Body, Request, RequestExt, Response, service_fn};
use serde_json::Value;

use crate::audit::{self, AuditRecord, AuditSink};
use crate::aws::{DynamoAudit, DynamoTenants, ManagedSecrets};
use crate::catalog::Catalog;
use crate::config::{Settings, StripeSettings};
use crate::customer;
use crate::error::ApiError;
use crate::identity;
use crate::response;
use crate::stripe::StripeClient;
use crate::tenant::{SecretStore, TenantDirectory, TenantStore, valid_tenant_id};
use crate::timefmt;
use crate::tool::{Answer, Call, Tool};

pub const MAX_BODY_BYTES: usize = 64 * 1024;

/// Built once per cold start and borrowed by every invocation.
pub struct App {
    pub stripe: StripeClient,
    pub tenants: TenantDirectory,
    pub audit: Arc<dyn AuditSink>,
    pub catalog: Catalog,
    pub audit_retention_days: u32,
}

impl App {
    pub fn new(
        stripe: StripeSettings,
        store: Arc<dyn TenantStore>,
        secrets: Arc<dyn SecretStore>,
        audit: Arc<dyn AuditSink>,
        cache_ttl: Duration,
    ) -> Result<Self, lambda_http::Error> {
        Ok(Self {
            stripe: StripeClient::new(stripe)?,
            tenants: TenantDirectory::new(store, secrets, cache_ttl),
            audit,
            catalog: Catalog::new(cache_ttl),
            audit_retention_days: 400,
        })
    }

    /// The real adapters, configured from the environment template.yaml sets.
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let settings = Settings::from_env()?;
        let aws = aws_config::load_from_env().await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let store = Arc::new(DynamoTenants::new(
            dynamo.clone(),
            settings.tenants_table.clone(),
            settings.contacts_table.clone(),
        ));
        let secrets = Arc::new(ManagedSecrets::new(
            aws_sdk_secretsmanager::Client::new(&aws),
            aws_sdk_kms::Client::new(&aws),
            settings.secrets_prefix.clone(),
        ));
        let audit = Arc::new(DynamoAudit::new(dynamo, settings.audit_table.clone()));
        let mut app = Self::new(
            settings.stripe,
            store,
            secrets,
            audit,
            settings.tenant_cache_ttl,
        )?;
        app.audit_retention_days = settings.audit_retention_days;
        Ok(app)
    }
}

/// Runs one tool as a Lambda function until the runtime stops it.
pub async fn serve_tool<T: Tool>(app: App, tool: T) -> Result<(), lambda_http::Error> {
    let (app, tool) = (&app, &tool);
    lambda_http::run(service_fn(move |req: Request| async move {
        Ok::<_, Infallible>(handle(app, tool, req).await)
    }))
    .await
}

/// What the audit record needs to know, filled in as the call gets further.
#[derive(Default)]
struct Trail {
    tenant: Option<String>,
    actor: Option<String>,
    customer: Option<String>,
    args: Value,
    reached_tool: bool,
    stripe_request_ids: Vec<String>,
    stripe_requests: u32,
}

pub async fn handle<T: Tool>(app: &App, tool: &T, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = req
        .lambda_context_ref()
        .map(|c| c.request_id.clone())
        .filter(|id| !id.is_empty())
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string());
    let mut trail = Trail::default();
    let result = run(app, tool, &req, &request_id, &mut trail).await;
    let (status, outcome, reason) = match &result {
        Ok(_) => (200, "ok".to_string(), None),
        Err(e) => (e.status, e.code.to_string(), e.reason.clone()),
    };
    if let Some(tenant) = trail.tenant.clone() {
        let time = timefmt::rfc3339_now();
        let record = AuditRecord {
            pk: format!("{tenant}#{}", trail.customer.as_deref().unwrap_or("-")),
            sk: format!("{time}#{request_id}"),
            tenant,
            actor: trail.actor.unwrap_or_else(|| "anonymous".into()),
            customer: trail.customer,
            tool: T::NAME.to_string(),
            args: audit::redact(&trail.args),
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
            request_id: request_id.clone(),
            expires_at: timefmt::now_unix() + i64::from(app.audit_retention_days) * 86_400,
        };
        audit::log(&record);
        if let Err(e) = app.audit.write(&record).await {
            tracing::error!(error = %e, request_id, "audit record not stored");
        }
    }
    match result {
        Ok(answer) => response::success(T::NAME, "done", answer.data, &answer.summary, &request_id),
        Err(err) => response::failure(&err, &request_id),
    }
}

async fn run<T: Tool>(
    app: &App,
    tool: &T,
    req: &Request,
    request_id: &str,
    trail: &mut Trail,
) -> Result<Answer, ApiError> {
    let (tenant_id, tool_name) = route(req.uri().path())?;
    if tool_name != T::NAME {
        return Err(ApiError::not_found(format!(
            "There is no tool named {tool_name}."
        )));
    }
    if req.body().len() > MAX_BODY_BYTES {
        return Err(ApiError::payload_too_large());
    }
    let config = app
        .tenants
        .config(tenant_id)
        .await
        .map_err(|e| e.to_api_error())?
        .ok_or_else(ApiError::unknown_tenant)?;
    trail.tenant = Some(config.tenant.clone());
    let secrets = app
        .tenants
        .secrets(tenant_id)
        .await
        .map_err(|e| e.to_api_error())?
        .ok_or_else(|| ApiError::billing_unavailable(503, "tenant_not_connected"))?;
    let visitor = identity::verify_visitor(
        req.headers(),
        &config,
        &secrets.identity_secrets,
        timefmt::now_unix(),
    )?;
    trail.actor = Some(format!("visitor:{}", visitor.user_id));
    if !config.tool_enabled(T::NAME) {
        return Err(ApiError::tool_disabled(T::NAME));
    }
    let args = parse_args::<T>(req.body(), trail)?;
    let stripe = app.stripe.session(secrets.stripe_key.clone());
    let outcome = async {
        let customer_id =
            customer::resolve(&stripe, app.tenants.store(), &config, &visitor).await?;
        trail.customer = Some(customer_id.clone());
        trail.reached_tool = true;
        let call = Call {
            app,
            tenant: &config,
            visitor: &visitor,
            customer_id: &customer_id,
            stripe: &stripe,
            request_id,
        };
        tool.run(&call, args).await
    }
    .await;
    trail.stripe_request_ids = stripe.request_ids();
    trail.stripe_requests = stripe.request_count();
    outcome
}

/// `/v1/{tenant}/tools/{tool}`, wherever API Gateway or a local router mounts it.
fn route(path: &str) -> Result<(&str, &str), ApiError> {
    let segments: Vec<&str> = path.trim_end_matches('/').split('/').collect();
    match segments.as_slice() {
        [.., "v1", tenant, "tools", tool] if valid_tenant_id(tenant) => Ok((tenant, tool)),
        [.., "v1", _, "tools", _] => Err(ApiError::unknown_tenant()),
        _ => Err(ApiError::not_found("No such route.")),
    }
}

fn parse_args<T: Tool>(body: &Body, trail: &mut Trail) -> Result<T::Args, ApiError> {
    let bytes: &[u8] = match body {
        Body::Empty => b"{}",
        Body::Text(t) => t.as_bytes(),
        Body::Binary(b) => b,
        _ => b"{}",
    };
    let bytes = if bytes.iter().all(u8::is_ascii_whitespace) {
        b"{}"
    } else {
        bytes
    };
    let value: Value = serde_json::from_slice(bytes).map_err(|_| {
        ApiError::invalid_request("The body is not valid JSON.").with_reason("bad_json")
    })?;
    if !value.is_object() {
        return Err(
            ApiError::invalid_request("The body must be a JSON object of arguments.")
                .with_reason("bad_json"),
        );
    }
    trail.args = value.clone();
    let args: T::Args = serde_path_to_error::deserialize(value).map_err(|e| {
        let path = e.path().to_string();
        let inner = e.into_inner().to_string();
        let message = if path == "." {
            format!("Invalid arguments: {inner}.")
        } else {
            format!("Invalid field `{path}`: {inner}.")
        };
        ApiError::invalid_request(message).with_reason("invalid_field")
    })?;
    T::validate(&args)?;
    Ok(args)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes_follow_the_contract() {
        assert_eq!(route("/v1/demo/tools/get_x").unwrap(), ("demo", "get_x"));
        assert_eq!(
            route("/prod/v1/demo/tools/get_x/").unwrap(),
            ("demo", "get_x")
        );
        assert_eq!(
            route("/v1/BAD/tools/get_x").unwrap_err().code,
            "unknown_tenant"
        );
        assert_eq!(route("/v2/demo").unwrap_err().code, "not_found");
    }
}
