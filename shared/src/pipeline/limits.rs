//! Our own request rates, per caller and per tenant (the contract's edge: defaults 60 calls
//! per visitor and 600 per tenant a minute), checked before Stripe is asked.
//!
//! Counted in DynamoDB (the ledger table), both counters in one conditional transaction: a
//! token bucket in memory would be per Lambda instance, and a tenant's traffic spreads over
//! many, so only a shared counter bounds it. The transaction takes from the tenant's budget
//! only when the caller's own allows the call too, so one visitor's flood spends their own
//! budget and never the one the tenant's other visitors need. Windows are calendar minutes
//! (fixed windows): a burst straddling a minute boundary may reach twice the rate for a
//! moment, which is the price of one write instead of a read-modify-write.

use crate::auth::caller::Caller;
use crate::error::ApiError;
use crate::pipeline::app::App;
use crate::ports::ledger::Bound;
use crate::ports::tenants::TenantConfig;

/// Counts `calls` calls (one, or an MCP batch's size) against the caller's and the
/// tenant's rates, all or none; the first one over is a `429 rate_limited` with the seconds
/// left in the minute as `Retry-After`.
pub async fn check(
    app: &App,
    config: &TenantConfig,
    caller: &Caller,
    calls: u64,
    now: i64,
) -> Result<(), ApiError> {
    // Stripe's deliveries come in bursts after an outage and are signed, so they are not a
    // visitor's calls to limit; dropping them would only make Stripe retry.
    if matches!(caller, Caller::Stripe) {
        return Ok(());
    }
    let minute = now.div_euclid(60);
    let retry_after = (60 - now.rem_euclid(60)).max(1) as u64;
    // Kept a little past the window, then DynamoDB's TTL removes it.
    let bound = |key: String, cap: u64, reason: &str| Bound {
        weight: calls,
        ..Bound::count(key, cap, reason, String::new(), (minute + 2) * 60)
    };
    let limits = &config.rate_limits;
    let caller_bound = bound(
        format!("rate#{}#{minute}", caller.actor()),
        limits.per_visitor_per_minute,
        "visitor_rate_limit",
    );
    let tenant_bound = bound(
        format!("rate#tenant#{minute}"),
        limits.per_tenant_per_minute,
        "tenant_rate_limit",
    );
    let over = match app
        .ledger
        .take_all(&config.tenant, &[caller_bound, tenant_bound])
        .await?
    {
        None => None,
        Some(0) => Some((
            "visitor_rate_limit",
            "Too many requests from you in the last minute; please wait a moment.",
        )),
        Some(_) => Some((
            "tenant_rate_limit",
            "This service is very busy right now; please try again in a moment.",
        )),
    };
    match over {
        Some((reason, message)) => {
            let mut err = ApiError::rate_limited(message).with_reason(reason);
            err.retry_after = Some(retry_after);
            Err(err)
        }
        None => Ok(()),
    }
}
