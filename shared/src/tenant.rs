//! Tenants: non-secret config (DynamoDB) and secrets (Secrets Manager + KMS), behind ports
//! so tests can swap them, and cached per warm Lambda for a bounded time.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::secret::Secret;

/// `{tenant}` is `[a-z0-9-]{3,40}`.
pub fn valid_tenant_id(id: &str) -> bool {
    (3..=40).contains(&id.len())
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TenantConfig {
    pub tenant: String,
    /// The tools this tenant serves, and no other (fail closed: a tool a later release
    /// adds is off until it is listed). `None` only in a config stored before the list
    /// existed: that tenant keeps what it served then ([`LEGACY_TOOLS`] minus
    /// `disabled_tools`) until `tenantctl migrate` writes the list out.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enabled_tools: Option<Vec<String>>,
    /// The switch before `enabled_tools` (read from old configs, never written).
    #[serde(default, skip_serializing)]
    pub disabled_tools: Vec<String>,
    /// Tools the connected Stripe key lacks a permission for (set by `tenantctl
    /// connect-key`'s probe); off until a key that can serve them is connected.
    #[serde(default)]
    pub key_unserved_tools: Vec<String>,
    /// A live-mode tenant takes only live keys (`sk_live_`, `rk_live_`), a test one only
    /// test keys.
    #[serde(default)]
    pub livemode: bool,
    /// Accept `X-User-Id` + `X-User-Hash` instead of a JWT (Chatbase/Intercom style).
    #[serde(default)]
    pub legacy_user_hash: bool,
    #[serde(default = "default_lifetime")]
    pub max_token_lifetime_secs: u64,
    /// Resolve customers by email with Stripe's Search API as well as the exact-match list
    /// (Search is case-insensitive but not available to merchants in India).
    #[serde(default = "yes")]
    pub customer_search: bool,
    #[serde(default)]
    pub return_url: Option<String>,
    /// Prices `get_available_plans` offers and `change_plan` reaches; empty means none
    /// (no plan change).
    #[serde(default)]
    pub allowed_prices: Vec<String>,
    /// IANA time zone summaries say dates in (e.g. `Europe/Berlin`); unset means UTC, said
    /// as such.
    #[serde(default)]
    pub time_zone: Option<String>,
    /// The merchant vouches that every `email` it signs is verified, so tokens need no
    /// `email_verified: true` claim for email look-up.
    #[serde(default)]
    pub trust_email_claim: bool,
    /// Bounds and switches of the write tools; every field has a safe default.
    #[serde(default)]
    pub policy: Policy,
    /// Origins (`https://shop.example.com`) whose pages may call the API from a browser.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    #[serde(default)]
    pub rate_limits: crate::limits::RateLimits,
    /// Audience tag `plan_tier` per price id (`{"price_123": "pro"}`); a price not in it is
    /// tagged with its product's name.
    #[serde(default)]
    pub price_tiers: std::collections::BTreeMap<String, String>,
}

/// The merchant's bounds on what the bot may do. Checked in code, never by the model;
/// every field has a safe default and a documented range ([`TenantConfig::check`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Policy {
    /// Write tools that act at once, without a confirmed preview.
    pub confirmation_off: Vec<String>,
    /// How long a confirmation token lives.
    pub confirmation_ttl_secs: i64,
    /// Plan changes per customer per calendar month (UTC).
    pub plan_changes_per_month: u64,
    /// `cancel_subscription` answers a Billing Portal cancel link instead of cancelling.
    pub cancel_via_portal: bool,
    /// What Stripe does with invoices while collection is paused.
    pub pause_behavior: PauseBehavior,
    /// The latest `resumes_at` a pause may have, in days from now.
    pub max_pause_days: i64,
    /// Pauses per customer in any 12 months.
    pub pauses_per_year: u64,
    /// Paused days per customer in any 12 months.
    pub paused_days_per_year: i64,
    /// Promotion codes `apply_coupon` accepts; empty means any valid one.
    pub allowed_codes: Vec<String>,
    /// A promotion code may be added to a subscription that already has a discount.
    pub stack_codes: bool,
    /// `apply_coupon` proposals per customer per hour (a bound against guessing codes).
    pub code_attempts_per_hour: u64,
    /// Refunds only of charges at most this many days old.
    pub refund_window_days: i64,
    /// The most refunded to one customer in any 30 days, per currency, in its minor unit.
    pub refund_max_per_30_days: u64,
    /// Refunds per customer in any hour, counted before the tenant's.
    pub refunds_per_customer_per_hour: u64,
    /// Refunds per tenant in any hour.
    pub refunds_per_hour: u64,
    /// What a full refund of the payment for a subscription's current period does to the
    /// subscription.
    pub refund_current_period: RefundCurrentPeriod,
    /// `retry_payment` attempts per invoice in any 24 hours, declines included (a bound
    /// against card testing).
    pub retries_per_invoice_per_day: u64,
    /// An identical write within this many seconds of a done one whose effect stands
    /// answers the earlier outcome (`duplicate_of`) and does nothing.
    pub duplicate_window_secs: i64,
    /// `update_billing_details` may change the billing email (at most once in 30 days).
    pub email_changes: bool,
}

/// `pause_collection[behavior]`, as Stripe names them.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseBehavior {
    #[default]
    Void,
    KeepAsDraft,
    MarkUncollectible,
}

impl PauseBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseBehavior::Void => "void",
            PauseBehavior::KeepAsDraft => "keep_as_draft",
            PauseBehavior::MarkUncollectible => "mark_uncollectible",
        }
    }
}

/// `policy.refund_current_period`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RefundCurrentPeriod {
    /// The subscription is canceled at once, without proration, with the refund.
    #[default]
    CancelNow,
    /// The subscription is set to cancel at the end of the refunded period.
    CancelAtPeriodEnd,
    /// The subscription goes on (plan changes stay refused for that period).
    Keep,
}

impl Default for Policy {
    fn default() -> Self {
        Self {
            confirmation_off: Vec::new(),
            confirmation_ttl_secs: 600,
            plan_changes_per_month: 3,
            cancel_via_portal: false,
            pause_behavior: PauseBehavior::Void,
            max_pause_days: 90,
            pauses_per_year: 1,
            paused_days_per_year: 90,
            allowed_codes: Vec::new(),
            stack_codes: false,
            code_attempts_per_hour: 10,
            refund_window_days: 14,
            refund_max_per_30_days: 50_000,
            refunds_per_customer_per_hour: 3,
            refunds_per_hour: 20,
            refund_current_period: RefundCurrentPeriod::CancelNow,
            retries_per_invoice_per_day: 3,
            duplicate_window_secs: 600,
            email_changes: true,
        }
    }
}

fn default_lifetime() -> u64 {
    24 * 3600
}

fn yes() -> bool {
    true
}

impl TenantConfig {
    /// A tenant that serves no tool yet (`tenantctl create` lists the read tools).
    pub fn new(tenant: &str) -> Self {
        Self {
            tenant: tenant.to_string(),
            enabled_tools: Some(Vec::new()),
            disabled_tools: Vec::new(),
            key_unserved_tools: Vec::new(),
            livemode: false,
            legacy_user_hash: false,
            max_token_lifetime_secs: default_lifetime(),
            customer_search: true,
            return_url: None,
            allowed_prices: Vec::new(),
            time_zone: None,
            trust_email_claim: false,
            policy: Policy::default(),
            allowed_origins: Vec::new(),
            rate_limits: crate::limits::RateLimits::default(),
            price_tiers: Default::default(),
        }
    }

    /// Whether a browser page at `origin` may call this tenant's API (exact match; the
    /// scheme and host compared case-insensitively, as browsers serialize them lowercase).
    pub fn allows_origin(&self, origin: &str) -> bool {
        origin != "null"
            && self
                .allowed_origins
                .iter()
                .any(|o| o.trim_end_matches('/').eq_ignore_ascii_case(origin))
    }

    /// How this tenant's summaries say dates.
    pub fn dates(&self) -> crate::billing::Dates {
        crate::billing::Dates::new(self.time_zone.as_deref())
    }

    /// The tools the tenant lists (for an old config: what it served before the list).
    pub fn enabled(&self) -> Vec<String> {
        match &self.enabled_tools {
            Some(list) => list.clone(),
            None => LEGACY_TOOLS
                .iter()
                .filter(|t| !self.disabled_tools.iter().any(|d| d == *t))
                .map(|t| t.to_string())
                .collect(),
        }
    }

    pub fn tool_enabled(&self, tool: &str) -> bool {
        let listed = match &self.enabled_tools {
            Some(list) => list.iter().any(|t| t == tool),
            None => LEGACY_TOOLS.contains(&tool) && !self.disabled_tools.iter().any(|t| t == tool),
        };
        listed && !self.key_unserved_tools.iter().any(|t| t == tool)
    }

    /// Refuses what would weaken the tenant: a bound outside its documented range, a
    /// `return_url` that is not https. `tenantctl` runs it before storing a config.
    pub fn check(&self) -> Result<(), String> {
        let p = &self.policy;
        let ranges: [(&str, i64, i64, i64); 15] = [
            (
                "policy.confirmation_ttl_secs",
                p.confirmation_ttl_secs,
                60,
                3_600,
            ),
            (
                "policy.plan_changes_per_month",
                p.plan_changes_per_month as i64,
                0,
                10,
            ),
            ("policy.max_pause_days", p.max_pause_days, 1, 365),
            ("policy.pauses_per_year", p.pauses_per_year as i64, 0, 4),
            (
                "policy.paused_days_per_year",
                p.paused_days_per_year,
                0,
                365,
            ),
            (
                "policy.code_attempts_per_hour",
                p.code_attempts_per_hour as i64,
                1,
                60,
            ),
            ("policy.refund_window_days", p.refund_window_days, 0, 180),
            (
                "policy.refund_max_per_30_days",
                p.refund_max_per_30_days as i64,
                0,
                100_000_000,
            ),
            (
                "policy.refunds_per_customer_per_hour",
                p.refunds_per_customer_per_hour as i64,
                0,
                10,
            ),
            (
                "policy.refunds_per_hour",
                p.refunds_per_hour as i64,
                0,
                1_000,
            ),
            (
                "policy.retries_per_invoice_per_day",
                p.retries_per_invoice_per_day as i64,
                0,
                10,
            ),
            (
                "policy.duplicate_window_secs",
                p.duplicate_window_secs,
                60,
                86_400,
            ),
            (
                "max_token_lifetime_secs",
                self.max_token_lifetime_secs as i64,
                60,
                7 * 86_400,
            ),
            // Capacity, not money: any positive rate, but no caller over the whole tenant's.
            (
                "rate_limits.per_tenant_per_minute",
                self.rate_limits.per_tenant_per_minute as i64,
                1,
                i64::MAX,
            ),
            (
                "rate_limits.per_visitor_per_minute (at most the tenant's)",
                self.rate_limits.per_visitor_per_minute as i64,
                1,
                self.rate_limits.per_tenant_per_minute as i64,
            ),
        ];
        for (name, value, min, max) in ranges {
            if !(min..=max).contains(&value) {
                return Err(format!(
                    "{name} must be between {min} and {max} (got {value})"
                ));
            }
        }
        if let Some(url) = &self.return_url
            && !https_or_local(url, self.livemode)
        {
            return Err(format!(
                "return_url must be an https:// URL (got {url:?}); http:// is taken only for localhost in test mode"
            ));
        }
        Ok(())
    }
}

/// Every tool there was when `disabled_tools` was the switch: what an old config served
/// unless it turned the tool off. Frozen: a tool added since is off until listed.
pub const LEGACY_TOOLS: &[&str] = &[
    "get_subscription_status",
    "get_invoice_history",
    "get_payment_history",
    "get_billing_info",
    "get_upcoming_invoice",
    "get_available_plans",
    "get_credit_balance",
    "get_billing_portal_link",
    "resend_invoice",
    "change_plan",
    "cancel_subscription",
    "resume_subscription",
    "pause_subscription",
    "apply_coupon",
    "update_billing_details",
    "request_refund",
    "retry_payment",
];

/// `https://host...`, or `http://localhost` / `127.0.0.1` for a test-mode tenant.
fn https_or_local(url: &str, live: bool) -> bool {
    let host_of = |rest: &str| {
        let host = rest.split(['/', '?', '#']).next().unwrap_or("");
        host.rsplit_once(':').map_or(host, |(h, _)| h).to_string()
    };
    if let Some(rest) = url.strip_prefix("https://") {
        return !host_of(rest).is_empty() && !url.chars().any(char::is_whitespace);
    }
    match url.strip_prefix("http://") {
        Some(rest) if !live => matches!(host_of(rest).as_str(), "localhost" | "127.0.0.1"),
        _ => false,
    }
}

/// Decrypted secrets of one tenant. Several identity, agent and webhook secrets may be
/// active at once so they can be rotated without downtime.
#[derive(Debug, Clone)]
pub struct TenantSecrets {
    pub stripe_key: Secret,
    pub identity_secrets: Vec<Secret>,
    /// For the legacy `X-User-Hash` only; never an identity secret.
    pub user_hash_secrets: Vec<Secret>,
    pub agent_secrets: Vec<Secret>,
    pub webhook_secrets: Vec<Secret>,
}

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("storage is unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is malformed: {0}")]
    Malformed(String),
}

impl StoreError {
    pub fn to_api_error(&self) -> crate::ApiError {
        tracing::error!(error = %self, "tenant storage failed");
        crate::ApiError::billing_unavailable(503, "storage_unavailable")
    }
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, StoreError>;
    /// The merchant's own mapping of its user id to a Stripe customer id.
    async fn contact(&self, tenant: &str, user_id: &str) -> Result<Option<String>, StoreError>;
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn secrets(&self, tenant: &str) -> Result<Option<TenantSecrets>, StoreError>;
}

/// How long a warm Lambda remembers that a tenant does not exist: long enough that a flood
/// of calls for a bad tenant id reaches AWS once a second at most, short enough that a
/// tenant created after a first miss is served within seconds.
pub const UNKNOWN_TENANT_TTL: Duration = Duration::from_secs(2);

/// A bounded-time cache in front of the ports: a warm Lambda asks DynamoDB, Secrets
/// Manager and KMS at most once per tenant per `ttl`, and about an unknown tenant at most
/// once per [`UNKNOWN_TENANT_TTL`].
pub struct TenantDirectory {
    store: Arc<dyn TenantStore>,
    secrets: Arc<dyn SecretStore>,
    ttl: Duration,
    configs: Cache<TenantConfig>,
    keys: Cache<TenantSecrets>,
    /// When each tenant's secrets were last re-read for an unknown signature.
    refreshed: Mutex<HashMap<String, Instant>>,
}

impl TenantDirectory {
    pub fn new(store: Arc<dyn TenantStore>, secrets: Arc<dyn SecretStore>, ttl: Duration) -> Self {
        Self {
            store,
            secrets,
            ttl,
            configs: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            refreshed: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &dyn TenantStore {
        self.store.as_ref()
    }

    /// Drops what this process remembers of a tenant, so its next call reads afresh.
    pub fn forget(&self, tenant: &str) {
        if let Ok(mut map) = self.configs.lock() {
            map.remove(tenant);
        }
        if let Ok(mut map) = self.keys.lock() {
            map.remove(tenant);
        }
    }

    pub async fn config(&self, tenant: &str) -> Result<Option<Arc<TenantConfig>>, StoreError> {
        if let Some(hit) = cached(&self.configs, tenant, self.ttl) {
            return Ok(hit);
        }
        let fresh = self.store.config(tenant).await?.map(Arc::new);
        remember(&self.configs, tenant, fresh.clone());
        Ok(fresh)
    }

    pub async fn secrets(&self, tenant: &str) -> Result<Option<Arc<TenantSecrets>>, StoreError> {
        if let Some(hit) = cached(&self.keys, tenant, self.ttl) {
            return Ok(hit);
        }
        let fresh = self.secrets.secrets(tenant).await?.map(Arc::new);
        remember(&self.keys, tenant, fresh.clone());
        Ok(fresh)
    }
}

/// A signature that none of the cached secrets verifies may be signed with one rotated in
/// since: the secrets are read again at once, then at most this often per tenant per
/// process, so a flood of bad signatures costs one Secrets Manager read per interval.
pub const SECRET_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

impl TenantDirectory {
    /// Fresh secrets, unless this process re-read them less than
    /// [`SECRET_REFRESH_INTERVAL`] ago (`None`: what is held is as fresh as allowed).
    pub async fn refresh_secrets(
        &self,
        tenant: &str,
    ) -> Result<Option<Arc<TenantSecrets>>, StoreError> {
        {
            let Ok(mut last) = self.refreshed.lock() else {
                return Ok(None);
            };
            if last
                .get(tenant)
                .is_some_and(|at| at.elapsed() < SECRET_REFRESH_INTERVAL)
            {
                return Ok(None);
            }
            if last.len() >= MAX_CACHED_TENANTS {
                last.clear();
            }
            last.insert(tenant.to_string(), Instant::now());
        }
        let fresh = self.secrets.secrets(tenant).await?.map(Arc::new);
        remember(&self.keys, tenant, fresh.clone());
        Ok(fresh)
    }
}

type Cache<T> = Mutex<HashMap<String, (Instant, Option<Arc<T>>)>>;

fn cached<T>(cache: &Cache<T>, tenant: &str, ttl: Duration) -> Option<Option<Arc<T>>> {
    let map = cache.lock().ok()?;
    let (at, value) = map.get(tenant)?;
    let ttl = if value.is_some() {
        ttl
    } else {
        ttl.min(UNKNOWN_TENANT_TTL)
    };
    (at.elapsed() < ttl).then(|| value.clone())
}

/// How many tenants a warm Lambda remembers: a flood of made-up tenant ids must not grow
/// its memory without end.
pub const MAX_CACHED_TENANTS: usize = 1024;

fn remember<T>(cache: &Cache<T>, tenant: &str, value: Option<Arc<T>>) {
    if let Ok(mut map) = cache.lock() {
        if map.len() >= MAX_CACHED_TENANTS && !map.contains_key(tenant) {
            // Misses go first (they are cheap to learn again), then the oldest.
            map.retain(|_, (_, v)| v.is_some());
            while map.len() >= MAX_CACHED_TENANTS {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        map.insert(tenant.to_string(), (Instant::now(), value));
    }
}

/// In-memory adapters for tests and benchmarks of the pipeline without AWS.
pub mod memory {
    use super::*;

    #[derive(Default)]
    pub struct MemoryTenants {
        pub configs: Mutex<HashMap<String, TenantConfig>>,
        pub contacts: Mutex<HashMap<(String, String), String>>,
        pub secrets: Mutex<HashMap<String, TenantSecrets>>,
        pub reads: Mutex<u32>,
    }

    #[async_trait]
    impl TenantStore for MemoryTenants {
        async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, StoreError> {
            *self.reads.lock().unwrap() += 1;
            Ok(self.configs.lock().unwrap().get(tenant).cloned())
        }
        async fn contact(&self, tenant: &str, user: &str) -> Result<Option<String>, StoreError> {
            let key = (tenant.to_string(), user.to_string());
            Ok(self.contacts.lock().unwrap().get(&key).cloned())
        }
    }

    #[async_trait]
    impl SecretStore for MemoryTenants {
        async fn secrets(&self, tenant: &str) -> Result<Option<TenantSecrets>, StoreError> {
            Ok(self.secrets.lock().unwrap().get(tenant).cloned())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::memory::MemoryTenants;
    use super::*;

    #[test]
    fn tenant_ids_follow_the_contract() {
        assert!(valid_tenant_id("demo"));
        assert!(valid_tenant_id("acme-2"));
        assert!(!valid_tenant_id("ab"));
        assert!(!valid_tenant_id("Demo"));
        assert!(!valid_tenant_id("a_b_c"));
        assert!(!valid_tenant_id(&"a".repeat(41)));
    }

    #[tokio::test]
    async fn config_is_cached_for_the_ttl_only() {
        let mem = Arc::new(MemoryTenants::default());
        mem.configs
            .lock()
            .unwrap()
            .insert("demo".into(), TenantConfig::new("demo"));
        let dir = TenantDirectory::new(mem.clone(), mem.clone(), Duration::from_millis(50));
        assert!(dir.config("demo").await.unwrap().is_some());
        assert!(dir.config("demo").await.unwrap().is_some());
        assert_eq!(*mem.reads.lock().unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        dir.config("demo").await.unwrap();
        assert_eq!(*mem.reads.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn an_unknown_signature_reads_secrets_again_at_most_once_per_interval() {
        let mem = Arc::new(MemoryTenants::default());
        let keys = |s: &str| TenantSecrets {
            stripe_key: Secret::new("sk_test_abcdefghijkl"),
            identity_secrets: vec![Secret::new(s)],
            user_hash_secrets: Vec::new(),
            agent_secrets: Vec::new(),
            webhook_secrets: Vec::new(),
        };
        mem.secrets
            .lock()
            .unwrap()
            .insert("demo".into(), keys("old"));
        let dir = TenantDirectory::new(mem.clone(), mem.clone(), Duration::from_secs(300));
        dir.secrets("demo").await.unwrap();
        mem.secrets
            .lock()
            .unwrap()
            .insert("demo".into(), keys("new"));
        let fresh = dir.refresh_secrets("demo").await.unwrap().unwrap();
        assert_eq!(
            fresh.identity_secrets[0].expose(),
            "new",
            "read again at once"
        );
        let held = dir.secrets("demo").await.unwrap().unwrap();
        assert_eq!(
            held.identity_secrets[0].expose(),
            "new",
            "the cache holds the fresh copy"
        );
        mem.secrets
            .lock()
            .unwrap()
            .insert("demo".into(), keys("newer"));
        assert!(
            dir.refresh_secrets("demo").await.unwrap().is_none(),
            "a second unknown signature within the interval does not read again"
        );
        tokio::time::sleep(SECRET_REFRESH_INTERVAL + Duration::from_millis(20)).await;
        let fresh = dir.refresh_secrets("demo").await.unwrap().unwrap();
        assert_eq!(fresh.identity_secrets[0].expose(), "newer");
    }

    #[tokio::test]
    async fn a_tenant_created_after_a_miss_is_served_within_seconds() {
        let mem = Arc::new(MemoryTenants::default());
        let dir = TenantDirectory::new(mem.clone(), mem.clone(), Duration::from_secs(300));
        assert!(dir.config("late").await.unwrap().is_none());
        assert!(
            dir.config("late").await.unwrap().is_none(),
            "the miss is cached"
        );
        assert_eq!(*mem.reads.lock().unwrap(), 1);
        mem.configs
            .lock()
            .unwrap()
            .insert("late".into(), TenantConfig::new("late"));
        tokio::time::sleep(UNKNOWN_TENANT_TTL + Duration::from_millis(50)).await;
        assert!(dir.config("late").await.unwrap().is_some());
    }
}
