//! One audit record per call: to DynamoDB and, identically, as one JSON log line.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::ports::error::StoreError;

#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct AuditRecord {
    /// `{tenant}#{customer}` (or `{tenant}#-`): the bot's actions for one customer sit
    /// together, newest last, for agent insight.
    pub pk: String,
    /// `{time}#{request_id}`: unique and time-ordered.
    pub sk: String,
    pub tenant: String,
    pub actor: String,
    pub customer: Option<String>,
    pub tool: String,
    pub args: Value,
    /// `allowed` when the call reached the tool, `refused` when identity, tenant or policy
    /// stopped it first.
    pub decision: String,
    /// `ok` or the error code.
    pub outcome: String,
    pub reason: Option<String>,
    pub http_status: u16,
    pub stripe_request_ids: Vec<String>,
    pub stripe_requests: u32,
    pub latency_ms: u64,
    pub time: String,
    pub request_id: String,
    /// DynamoDB TTL (unix seconds).
    pub expires_at: i64,
    /// A write's Stripe change (method, path, redacted parameters), recorded before it is
    /// sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sends: Option<Value>,
    /// How the call arrived: [`REST`] (its own route), [`MCP`], or [`OPERATOR`]
    /// (tenantctl). Records written before channels existed read as `rest`.
    #[serde(default = "rest")]
    pub channel: String,
}

impl AuditRecord {
    /// A record of one action: filed under the customer when there is one (or the
    /// tenant's `-`), keyed by `time` and `request_id`, kept `retention_days`. The outcome
    /// and the rest are the caller's to fill.
    #[allow(clippy::too_many_arguments)]
    pub fn new(
        tenant: &str,
        customer: Option<&str>,
        actor: String,
        tool: &str,
        args: Value,
        channel: &str,
        request_id: &str,
        retention_days: u32,
    ) -> Self {
        let time = crate::timefmt::rfc3339_now();
        Self {
            pk: format!("{tenant}#{}", customer.unwrap_or("-")),
            sk: format!("{time}#{request_id}"),
            tenant: tenant.to_string(),
            actor,
            customer: customer.map(str::to_string),
            tool: tool.to_string(),
            args,
            decision: "allowed".into(),
            outcome: "ok".into(),
            reason: None,
            http_status: 0,
            stripe_request_ids: Vec::new(),
            stripe_requests: 0,
            latency_ms: 0,
            time,
            request_id: request_id.to_string(),
            expires_at: crate::timefmt::now_unix() + i64::from(retention_days) * 86_400,
            sends: None,
            channel: channel.to_string(),
        }
    }
}

pub const REST: &str = "rest";
pub const MCP: &str = "mcp";
pub const OPERATOR: &str = "operator";

fn rest() -> String {
    REST.into()
}

#[async_trait]
pub trait AuditSink: Send + Sync {
    async fn write(&self, record: &AuditRecord) -> Result<(), StoreError>;
    /// The newest `limit` records about one customer, newest first.
    async fn recent(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;
    /// The newest `limit` writes (records with `sends`: a change sent, or about to be, to
    /// Stripe) about one customer, newest first, however many reads came after them.
    async fn recent_writes(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError>;
}

/// Emits the record as one JSON log line (target `audit`) for CloudWatch Logs Insights.
/// The record's log line; `stored` says whether the audit table has it too (when it does
/// not, this line is the record).
pub fn log(record: &AuditRecord, stored: bool) {
    tracing::info!(
        target: "audit",
        tenant = %record.tenant,
        actor = %record.actor,
        customer = record.customer.as_deref().unwrap_or("-"),
        tool = %record.tool,
        args = %record.args,
        decision = %record.decision,
        outcome = %record.outcome,
        reason = record.reason.as_deref().unwrap_or("-"),
        http_status = record.http_status,
        stripe_request_ids = %record.stripe_request_ids.join(","),
        stripe_requests = record.stripe_requests,
        latency_ms = record.latency_ms,
        request_id = %record.request_id,
        channel = %record.channel,
        // A write that reached Stripe (its write-ahead line says `pending`, its closing
        // line the outcome): what the pending-writes query and alarm pair up.
        write = if record.sends.is_some() { "yes" } else { "no" },
        stored,
        "audit"
    );
}

/// One call refused before its caller was known, as a CloudWatch embedded-metric line
/// (`RefusedBeforeIdentity`, by tenant and code) instead of an audit record.
pub fn count_refused(tenant: &str, tool: &str, code: &str, reason: Option<&str>) {
    let line = serde_json::json!({
        "_aws": {
            "Timestamp": crate::timefmt::now_unix() * 1000,
            "CloudWatchMetrics": [{
                "Namespace": "StripeBillingBot",
                "Dimensions": [["tenant", "code"]],
                "Metrics": [{"Name": "RefusedBeforeIdentity", "Unit": "Count"}],
            }],
        },
        "tenant": tenant, "tool": tool, "code": code, "reason": reason.unwrap_or("-"),
        "RefusedBeforeIdentity": 1,
    });
    // Printed as is: CloudWatch reads the metric from the raw JSON line.
    println!("{line}");
}

/// Argument names whose values never reach a record, whatever the tool.
const SECRET_NAMES: &[&str] = &[
    "token", "confirm", "secret", "password", "key", "card", "cvc", "number", "iban",
];

/// What an audit record keeps of arguments that failed validation: their names and JSON
/// kinds, never their values, since a value nobody checked may be anything (a pasted
/// token, a card number). Bounded whatever was sent: at most [`SHAPE_KEYS`] names of at
/// most [`SHAPE_KEY_CHARS`] characters per object, [`SHAPE_DEPTH`] objects deep.
pub fn shape(args: &Value) -> Value {
    shape_at(args, 0)
}

pub const SHAPE_KEYS: usize = 32;
pub const SHAPE_KEY_CHARS: usize = 64;
pub const SHAPE_DEPTH: usize = 4;

fn shape_at(args: &Value, depth: usize) -> Value {
    match args {
        Value::Object(_) if depth >= SHAPE_DEPTH => Value::String("<object>".into()),
        Value::Object(map) => {
            let mut kept: Map<String, Value> = map
                .iter()
                .take(SHAPE_KEYS)
                .map(|(k, v)| {
                    (
                        k.chars().take(SHAPE_KEY_CHARS).collect(),
                        shape_at(v, depth + 1),
                    )
                })
                .collect();
            if map.len() > SHAPE_KEYS {
                kept.insert(
                    "…".into(),
                    Value::String(format!("{} more", map.len() - SHAPE_KEYS)),
                );
            }
            Value::Object(kept)
        }
        Value::Array(_) => Value::String("<list>".into()),
        Value::String(_) => Value::String("<string>".into()),
        Value::Number(_) => Value::String("<number>".into()),
        Value::Bool(_) => Value::String("<boolean>".into()),
        Value::Null => Value::Null,
    }
}

/// Values that are secrets whatever field they sit in: JWTs, Stripe keys, webhook secrets.
fn looks_secret(s: &str) -> bool {
    let jwt = s.split('.').count() == 3 && s.contains("eyJ");
    let stripe = ["sk_live_", "sk_test_", "rk_live_", "rk_test_", "whsec_"]
        .iter()
        .any(|p| s.contains(p));
    jwt || stripe
}

/// A copy of valid arguments fit for an audit record: secret-named fields and
/// secret-looking values replaced, emails masked, long strings cut.
pub fn redact(args: &Value) -> Value {
    match args {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| {
                    let lower = k.to_ascii_lowercase();
                    let value = if SECRET_NAMES.iter().any(|s| lower.contains(s)) {
                        Value::String("[redacted]".into())
                    } else if lower.contains("email") {
                        v.as_str()
                            .map(mask_email)
                            .map(Value::String)
                            .unwrap_or(Value::Null)
                    } else {
                        redact(v)
                    };
                    (k.clone(), value)
                })
                .collect::<Map<_, _>>(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(redact).collect()),
        Value::String(s) if looks_secret(s) => Value::String("[redacted]".into()),
        Value::String(s) if s.len() > 200 => {
            Value::String(format!("{}…", s.chars().take(200).collect::<String>()))
        }
        other => other.clone(),
    }
}

pub fn mask_email(email: &str) -> String {
    match email.split_once('@') {
        Some((local, domain)) => {
            let first = local.chars().next().map(String::from).unwrap_or_default();
            format!("{first}***@{domain}")
        }
        None => "***".into(),
    }
}

/// An in-memory sink for tests.
#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn redacts_secrets_and_masks_emails() {
        let out = redact(&json!({
            "confirm": "tok_abc", "email": "jane@example.com", "limit": 3,
            "address": {"line1": "1 Main St"}, "api_key": "sk_live_x"
        }));
        assert_eq!(
            out,
            json!({"confirm": "[redacted]", "email": "j***@example.com", "limit": 3,
                   "address": {"line1": "1 Main St"}, "api_key": "[redacted]"})
        );
        let out = redact(&json!({"note": ["see sk_live_abc123", "eyJhbGciOi.eyJzdWIi.c2ln"]}));
        assert_eq!(out, json!({"note": ["[redacted]", "[redacted]"]}));
        assert_eq!(
            shape(&json!({"limit": "s3cret", "a": {"b": 1}})),
            json!({"limit": "<string>", "a": {"b": "<number>"}})
        );
    }
}
