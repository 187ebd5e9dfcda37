//! Tenants: non-secret config (DynamoDB) and secrets (Secrets Manager + KMS), behind ports
//! so tests can swap them. `crate::pipeline::tenants` caches them per warm Lambda.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ports::error::StoreError;
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
    /// existed: that tenant keeps what it served then (the tools of that release minus
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
    /// Origins of the helpdesks that may show the agent panel in a frame
    /// (`frame-ancestors`); none: no page may frame it.
    #[serde(default)]
    pub panel_origins: Vec<String>,
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Audience tag `plan_tier` per price id (`{"price_123": "pro"}`); a price not in it is
    /// tagged with its product's name.
    #[serde(default)]
    pub price_tiers: std::collections::BTreeMap<String, String>,
    /// Whether and how the customers are emailed notices (the bus gets every notice
    /// whatever this says).
    #[serde(default)]
    pub notify: Notify,
}

/// Email notices: a failed payment with its pay-now link, a card expiring before the next
/// renewal, an invoice bundle asked for with `email_invoices`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default)]
pub struct Notify {
    /// Send the emails (through SES in the stack's account).
    pub email: bool,
    /// The sender: an address SES has verified for the stack's account.
    pub from: Option<String>,
    /// The merchant's name as the emails say it (the tenant id when unset).
    pub name: Option<String>,
}

impl Notify {
    /// The sender's address and the merchant's name, when emails are on.
    pub fn sender<'a>(&'a self, tenant: &'a str) -> Option<(&'a str, &'a str)> {
        let from = self.from.as_deref().filter(|_| self.email)?;
        Some((from, self.name.as_deref().unwrap_or(tenant)))
    }
}

/// A plain `local@domain.tld` address (what SES takes as a sender).
pub fn plain_email(s: &str) -> bool {
    let Some((local, domain)) = s.split_once('@') else {
        return false;
    };
    !local.is_empty()
        && s.len() <= 254
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"@._+-".contains(&b))
        && s.matches('@').count() == 1
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
    /// Bounds a person may lift: a confirmed write one of these holds becomes a pending
    /// approval for the tenant's agents instead of a refusal (see [`LIFTABLE`]).
    pub approval_for: Vec<String>,
    /// How long an approval waits for a decision.
    pub approval_ttl_hours: i64,
    /// The most one agent's approvals refund in any 30 days, per currency, minor unit.
    pub agent_refund_max_per_30_days: u64,
    /// Offers `cancel_subscription`'s preview makes, by the reason the visitor gives (its
    /// `reason` values; `any` for every reason, after the reason's own).
    pub retention: std::collections::BTreeMap<String, Vec<RetentionOffer>>,
}

pub use crate::stripe::writes::PauseBehavior;

/// An offer made to a visitor who is cancelling; accepting it is a write under its own
/// bounds, never a second path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum RetentionOffer {
    /// `pause_subscription` for `days` (within the pause bounds).
    Pause { days: i64 },
    /// `apply_coupon` with this promotion code, at most once per customer in 12 months.
    Discount { code: String },
    /// `change_plan` to this price, one of `allowed_prices` and cheaper than the plan.
    Downgrade { price: String },
}

/// The reasons `policy.retention` is keyed by: `cancel_subscription`'s `reason` values, and
/// `any`.
pub const RETENTION_REASONS: &[&str] = &[
    "too_expensive",
    "missing_features",
    "switched_service",
    "unused",
    "customer_service",
    "too_complex",
    "low_quality",
    "other",
    "any",
];

impl Policy {
    /// Whether `code` is one of the retention offers' discount codes (as Stripe compares
    /// codes: regardless of case).
    pub fn is_retention_code(&self, code: &str) -> bool {
        self.retention.values().flatten().any(
            |o| matches!(o, RetentionOffer::Discount { code: c } if c.eq_ignore_ascii_case(code)),
        )
    }

    /// The offers for a cancellation `reason`: its own, then those for any reason.
    pub fn retention_for(&self, reason: &str) -> Vec<&RetentionOffer> {
        let own = self.retention.get(reason).into_iter().flatten();
        let any = self.retention.get("any").into_iter().flatten();
        let mut all: Vec<&RetentionOffer> = Vec::new();
        for o in own.chain(any) {
            if !all.contains(&o) {
                all.push(o);
            }
        }
        all
    }
}

/// The bounds `policy.approval_for` may list: the policy's own, judged on the customer's
/// history, where a person's judgement can stand in for the rule. Never a tenant-wide
/// rate, a disputed charge or an ownership check.
pub const LIFTABLE: &[&str] = &[
    "refund_cap_exceeded",
    "refund_window_passed",
    "customer_refund_rate_exceeded",
    "plan_change_limit",
    "pause_limit",
    "pause_days_exceeded",
];

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
            approval_for: vec!["refund_cap_exceeded".into(), "refund_window_passed".into()],
            approval_ttl_hours: 72,
            agent_refund_max_per_30_days: 100_000,
            retention: Default::default(),
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
            panel_origins: Vec::new(),
            rate_limits: RateLimits::default(),
            price_tiers: Default::default(),
            notify: Notify::default(),
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

    /// The tools the tenant lists; for a config stored before the list, what it served
    /// then: every one of `legacy` (the tools of that release) it did not turn off.
    pub fn enabled(&self, legacy: &[&str]) -> Vec<String> {
        match &self.enabled_tools {
            Some(list) => list.clone(),
            None => legacy
                .iter()
                .filter(|t| !self.disabled_tools.iter().any(|d| d == *t))
                .map(|t| t.to_string())
                .collect(),
        }
    }

    /// Whether the tenant serves `tool`; `legacy`: the tool is one an old config (stored
    /// before `enabled_tools`) served unless it turned it off.
    pub fn serves(&self, tool: &str, legacy: bool) -> bool {
        let listed = match &self.enabled_tools {
            Some(list) => list.iter().any(|t| t == tool),
            None => legacy && !self.disabled_tools.iter().any(|t| t == tool),
        };
        listed && !self.key_unserved_tools.iter().any(|t| t == tool)
    }

    /// Refuses what would weaken the tenant: a bound outside its documented range, a
    /// `return_url` that is not https. `tenantctl` runs it before storing a config.
    pub fn check(&self) -> Result<(), String> {
        let p = &self.policy;
        let ranges: [(&str, i64, i64, i64); 17] = [
            ("policy.approval_ttl_hours", p.approval_ttl_hours, 1, 720),
            (
                "policy.agent_refund_max_per_30_days",
                p.agent_refund_max_per_30_days as i64,
                0,
                100_000_000,
            ),
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
        if let Some(bad) = p
            .approval_for
            .iter()
            .find(|r| !LIFTABLE.contains(&r.as_str()))
        {
            return Err(format!(
                "policy.approval_for lists {bad:?}; a person may lift only {}",
                LIFTABLE.join(", ")
            ));
        }
        for (reason, offers) in &p.retention {
            if !RETENTION_REASONS.contains(&reason.as_str()) {
                return Err(format!(
                    "policy.retention has {reason:?}; reasons are {}",
                    RETENTION_REASONS.join(", ")
                ));
            }
            for offer in offers {
                match offer {
                    RetentionOffer::Pause { days } if !(1..=p.max_pause_days).contains(days) => {
                        return Err(format!(
                            "policy.retention.{reason}: a pause of {days} days is outside 1 to policy.max_pause_days ({})",
                            p.max_pause_days
                        ));
                    }
                    RetentionOffer::Discount { code } if code.trim().is_empty() => {
                        return Err(format!(
                            "policy.retention.{reason}: a discount needs its code"
                        ));
                    }
                    RetentionOffer::Downgrade { price } if !self.allowed_prices.contains(price) => {
                        return Err(format!(
                            "policy.retention.{reason}: {price:?} is not in allowed_prices"
                        ));
                    }
                    _ => {}
                }
            }
        }
        if self.notify.email && !self.notify.from.as_deref().is_some_and(plain_email) {
            return Err(
                "notify.email needs notify.from, an address SES has verified (billing@shop.example.com)"
                    .into(),
            );
        }
        if let Some(name) = &self.notify.name
            && (name.is_empty() || name.len() > 80 || name.chars().any(char::is_control))
        {
            return Err("notify.name is the merchant's name as emails say it: 1-80 characters, no control characters".into());
        }
        if let Some(url) = &self.return_url
            && !https_or_local(url, self.livemode)
        {
            return Err(format!(
                "return_url must be an https:// URL (got {url:?}); http:// is taken only for localhost in test mode"
            ));
        }
        // An origin goes into the panel's Content-Security-Policy as it is: only a bare
        // scheme://host[:port], so nothing else can be written into the header.
        if let Some(bad) = self
            .panel_origins
            .iter()
            .find(|o| !is_origin(o, self.livemode))
        {
            return Err(format!(
                "panel_origins takes origins such as https://helpdesk.example.com (got {bad:?})"
            ));
        }
        Ok(())
    }

    /// The panel's `frame-ancestors`: the helpdesks allowed to frame it, or `'none'`.
    pub fn frame_ancestors(&self) -> String {
        let ok: Vec<&str> = self
            .panel_origins
            .iter()
            .filter(|o| is_origin(o, self.livemode))
            .map(String::as_str)
            .collect();
        if ok.is_empty() {
            "'none'".into()
        } else {
            ok.join(" ")
        }
    }
}

/// `https://host[:port]` (or `http://localhost[:port]` in test mode), nothing more.
fn is_origin(origin: &str, live: bool) -> bool {
    let rest = origin
        .strip_prefix("https://")
        .or_else(|| origin.strip_prefix("http://").filter(|_| !live));
    rest.is_some_and(|r| {
        !r.is_empty()
            && r.bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b':'))
    }) && (origin.starts_with("https://") || https_or_local(origin, live))
}

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

/// The tenant's rates; every field has the contract's default.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct RateLimits {
    pub per_visitor_per_minute: u64,
    pub per_tenant_per_minute: u64,
}

impl Default for RateLimits {
    fn default() -> Self {
        Self {
            per_visitor_per_minute: 60,
            per_tenant_per_minute: 600,
        }
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
    /// The agent panel's keys (`bbp_...`): the panel page's credential, scoped to the panel
    /// and agent insight, rotatable on their own.
    pub panel_keys: Vec<Secret>,
}

#[async_trait]
pub trait TenantStore: Send + Sync {
    async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, StoreError>;
    /// The merchant's own mapping of its user id to a Stripe customer id.
    async fn contact(&self, tenant: &str, user_id: &str) -> Result<Option<String>, StoreError>;
    /// Maps a user to a customer unless the user is mapped already (a new customer from a
    /// checkout the user started); `false` when a mapping was there (it stands).
    async fn map_new_contact(
        &self,
        tenant: &str,
        user_id: &str,
        customer: &str,
    ) -> Result<bool, StoreError>;
    /// Every tenant's id (the scheduled scans visit each).
    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError>;
}

#[async_trait]
pub trait SecretStore: Send + Sync {
    async fn secrets(&self, tenant: &str) -> Result<Option<TenantSecrets>, StoreError>;
}

#[cfg(test)]
mod tests {
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

    #[test]
    fn panel_origins_are_bare_origins_and_frame_the_panel() {
        let mut c = TenantConfig::new("demo");
        assert_eq!(c.frame_ancestors(), "'none'");
        c.panel_origins = vec![
            "https://app.chatwoot.com".into(),
            "http://localhost:3000".into(),
        ];
        assert!(c.check().is_ok());
        assert_eq!(
            c.frame_ancestors(),
            "https://app.chatwoot.com http://localhost:3000"
        );
        // Nothing but an origin reaches the header: no path, no second directive, no
        // plain http in live mode.
        for bad in [
            "https://a.example.com/x",
            "https://a.example.com; script-src *",
            "*",
            "javascript:alert(1)",
        ] {
            c.panel_origins = vec![bad.into()];
            assert!(c.check().is_err(), "{bad}");
            assert_eq!(c.frame_ancestors(), "'none'");
        }
        c.livemode = true;
        c.panel_origins = vec!["http://localhost:3000".into()];
        assert!(c.check().is_err());
    }
}
