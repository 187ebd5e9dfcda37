//! Deployment settings, read once per cold start from the environment template.yaml sets.
use std::time::Duration;

/// The Stripe API version every request pins; responses are modelled for it alone.
pub const STRIPE_VERSION: &str = "2026-10-28.endive";

#[derive(Debug, Clone)]
pub struct Settings {
    pub tenants_table: String,
    pub contacts_table: String,
    pub audit_table: String,
    /// Write confirmations and bound counters.
    pub ledger_table: String,
    /// What webhooks keep: facts per customer, recoveries, applied event ids.
    pub state_table: String,
    pub secrets_prefix: String,
    pub stripe: StripeSettings,
    /// How long a warm Lambda trusts its copy of a tenant's config and secrets.
    pub tenant_cache_ttl: Duration,
    /// Audit records expire (DynamoDB TTL) after this many days.
    pub audit_retention_days: u32,
    /// The EventBridge bus notices go on (empty: none).
    pub event_bus_name: String,
    /// The API's public base URL, for the links notices email (`PUBLIC_URL`; empty: no
    /// email with a link).
    pub public_url: Option<String>,
    pub aws: AwsBudget,
}

/// How long one call to DynamoDB, KMS or Secrets Manager may take, retries included. A call
/// touches AWS a few times in sequence (tenant, mapping, ledger, audit), so each operation
/// gets a small share of the function's 15 s: a slow or unreachable AWS answers
/// `503 billing_unavailable` in seconds, never an API Gateway timeout.
#[derive(Debug, Clone, Copy)]
pub struct AwsBudget {
    pub connect_timeout: Duration,
    pub attempt_timeout: Duration,
    pub operation_timeout: Duration,
    pub max_attempts: u32,
}

impl Default for AwsBudget {
    fn default() -> Self {
        Self {
            connect_timeout: Duration::from_millis(500),
            attempt_timeout: Duration::from_millis(800),
            operation_timeout: Duration::from_millis(1800),
            max_attempts: 2,
        }
    }
}

#[derive(Debug, Clone)]
pub struct StripeSettings {
    pub api_base: String,
    pub connect_timeout: Duration,
    /// Bound on one attempt.
    pub request_timeout: Duration,
    /// Bound on all attempts of one logical request, retries and backoff included.
    pub deadline: Duration,
    pub max_retries: u32,
}

impl Default for StripeSettings {
    fn default() -> Self {
        Self {
            api_base: "https://api.stripe.com".into(),
            connect_timeout: Duration::from_secs(2),
            request_timeout: Duration::from_secs(5),
            deadline: Duration::from_secs(9),
            max_retries: 2,
        }
    }
}

impl StripeSettings {
    /// Stripe's base URL and time budget from the environment (defaults otherwise); the
    /// functions and `tenantctl` read them alike.
    pub fn from_env() -> Result<Self, String> {
        let defaults = Self::default();
        Ok(Self {
            api_base: std::env::var("STRIPE_API_BASE")
                .ok()
                .filter(|v| !v.is_empty())
                .unwrap_or(defaults.api_base)
                .trim_end_matches('/')
                .to_string(),
            connect_timeout: millis("STRIPE_CONNECT_TIMEOUT_MS", defaults.connect_timeout)?,
            request_timeout: millis("STRIPE_TIMEOUT_MS", defaults.request_timeout)?,
            deadline: millis("STRIPE_DEADLINE_MS", defaults.deadline)?,
            max_retries: number("STRIPE_MAX_RETRIES", defaults.max_retries as u64)? as u32,
        })
    }
}

impl Settings {
    pub fn from_env() -> Result<Self, String> {
        Ok(Self {
            tenants_table: required("TENANTS_TABLE")?,
            contacts_table: required("CONTACTS_TABLE")?,
            audit_table: required("AUDIT_TABLE")?,
            ledger_table: required("LEDGER_TABLE")?,
            state_table: required("STATE_TABLE")?,
            secrets_prefix: required("SECRETS_PREFIX")?,
            stripe: StripeSettings::from_env()?,
            tenant_cache_ttl: Duration::from_secs(number("TENANT_CACHE_TTL_SECS", 300)?),
            audit_retention_days: number("AUDIT_RETENTION_DAYS", 400)? as u32,
            event_bus_name: std::env::var("EVENT_BUS_NAME").unwrap_or_default(),
            public_url: std::env::var("PUBLIC_URL")
                .ok()
                .map(|u| u.trim_end_matches('/').to_string())
                .filter(|u| u.starts_with("https://") || u.starts_with("http://")),
            aws: {
                let d = AwsBudget::default();
                AwsBudget {
                    connect_timeout: millis("AWS_CONNECT_TIMEOUT_MS", d.connect_timeout)?,
                    attempt_timeout: millis("AWS_ATTEMPT_TIMEOUT_MS", d.attempt_timeout)?,
                    operation_timeout: millis("AWS_OPERATION_TIMEOUT_MS", d.operation_timeout)?,
                    max_attempts: number("AWS_MAX_ATTEMPTS", u64::from(d.max_attempts))? as u32,
                }
            },
        })
    }
}

fn required(name: &str) -> Result<String, String> {
    std::env::var(name)
        .ok()
        .filter(|v| !v.is_empty())
        .ok_or_else(|| format!("environment variable {name} is not set"))
}

fn number(name: &str, default: u64) -> Result<u64, String> {
    match std::env::var(name) {
        Ok(v) if !v.is_empty() => v
            .parse()
            .map_err(|_| format!("environment variable {name} must be a whole number")),
        _ => Ok(default),
    }
}

fn millis(name: &str, default: Duration) -> Result<Duration, String> {
    number(name, default.as_millis() as u64).map(Duration::from_millis)
}
