//! The expiring-card scan (a scheduled function, EventBridge Scheduler, daily): for every
//! tenant, the subscriptions that renew within 30 days, as webhooks keep them (no Stripe
//! request to find them); for each renewal not checked yet, one Stripe request reads the
//! card that will pay it; a card that expires before the renewal raises `Card Expiring`
//! and, where the tenant emails, an email with an update-card link, once per renewal. Its
//! cost grows with the subscribers renewing, not with calls, and a second run in the same
//! period asks Stripe nothing more.
use serde::Serialize;
use serde_json::{Value, json};

use crate::billing::Dates;
use crate::billing::emails;
use crate::pipeline::app::App;
use crate::pipeline::notify;
use crate::ports::notices::{Notice, NoticeKind, Renewal};
use crate::ports::tenants::TenantConfig;
use crate::stripe::StripeSession;
use crate::stripe::api;

/// How far ahead a renewal is looked at.
pub const AHEAD_SECS: i64 = 30 * 86_400;

/// What one run did, logged and answered to the scheduler.
#[derive(Debug, Default, Serialize)]
pub struct ScanReport {
    pub tenants: usize,
    pub renewals_due: usize,
    /// Renewals whose card was read from Stripe in this run.
    pub checked: usize,
    pub noticed: usize,
    pub errors: usize,
}

/// The subscriptions a renewal notice may be about.
fn live(status: &str) -> bool {
    matches!(status, "active" | "trialing" | "past_due")
}

/// The last second a card with this expiry works: the end of its month (UTC).
pub fn card_end(exp_month: i64, exp_year: i64) -> Option<i64> {
    if !(1..=12).contains(&exp_month) {
        return None;
    }
    let (y, m) = if exp_month >= 12 {
        (exp_year + 1, 1)
    } else {
        (exp_year, exp_month + 1)
    };
    let first_of_next = time::Date::from_calendar_date(
        i32::try_from(y).ok()?,
        time::Month::try_from(u8::try_from(m).ok()?).ok()?,
        1,
    )
    .ok()?;
    Some(first_of_next.midnight().assume_utc().unix_timestamp() - 1)
}

/// Runs the scan over every tenant at `now`.
pub async fn scan(app: &App, now: i64) -> ScanReport {
    let mut report = ScanReport::default();
    let tenants = match app.tenants.store().tenant_ids().await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(target: "notice", error = %e, "card scan: tenants not listed");
            report.errors += 1;
            return report;
        }
    };
    for tenant in tenants {
        report.tenants += 1;
        if let Err(e) = scan_tenant(app, &tenant, now, &mut report).await {
            tracing::error!(target: "notice", tenant, error = %e, "card scan: tenant skipped");
            report.errors += 1;
        }
    }
    tracing::info!(target: "notice", tenants = report.tenants, due = report.renewals_due,
        checked = report.checked, noticed = report.noticed, errors = report.errors,
        "card scan done");
    report
}

async fn scan_tenant(
    app: &App,
    tenant: &str,
    now: i64,
    report: &mut ScanReport,
) -> Result<(), String> {
    let config = app
        .tenants
        .config(tenant)
        .await
        .map_err(|e| e.to_string())?;
    let secrets = app
        .tenants
        .secrets(tenant)
        .await
        .map_err(|e| e.to_string())?;
    let (Some(config), Some(secrets)) = (config, secrets) else {
        return Ok(());
    };
    let due: Vec<Renewal> = app
        .state
        .renewals(tenant)
        .await
        .map_err(|e| e.to_string())?
        .into_iter()
        .filter(|r| live(&r.status) && r.period_end > now && r.period_end <= now + AHEAD_SECS)
        .collect();
    report.renewals_due += due.len();
    let stripe = app.stripe.session(secrets.stripe_key.clone());
    for r in due.iter().filter(|r| r.checked != Some(r.period_end)) {
        match check(app, &config, &stripe, r).await {
            Ok(noticed) => {
                report.checked += 1;
                report.noticed += usize::from(noticed);
                if let Err(e) = app
                    .state
                    .renewal_checked(tenant, &r.subscription, r.period_end)
                    .await
                {
                    tracing::warn!(target: "notice", tenant, error = %e, "renewal check not noted");
                }
            }
            Err(e) => {
                tracing::warn!(target: "notice", tenant, error = %e, "card scan: renewal skipped");
                report.errors += 1;
            }
        }
    }
    Ok(())
}

/// The card that will pay the renewal: the subscription's own default, else the
/// customer's (one request, both expanded).
fn paying_card(sub: &Value) -> Option<&Value> {
    let own = &sub["default_payment_method"]["card"];
    let customers = &sub["customer"]["invoice_settings"]["default_payment_method"]["card"];
    [own, customers].into_iter().find(|c| c.is_object())
}

/// Reads the renewal's card; `true` when it expires first and the customer was told now.
async fn check(
    app: &App,
    config: &TenantConfig,
    stripe: &StripeSession<'_>,
    r: &Renewal,
) -> Result<bool, String> {
    let sub: Value = stripe
        .get(
            &api::subscription(&r.subscription)
                .expand_all(&[
                    "default_payment_method",
                    "customer.invoice_settings.default_payment_method",
                ])
                .untyped(),
        )
        .await
        .map_err(|e| e.to_string())?;
    // A subscription set to end does not renew.
    if sub["cancel_at_period_end"] == true || !sub["cancel_at"].is_null() {
        return Ok(false);
    }
    let Some(card) = paying_card(&sub) else {
        return Ok(false);
    };
    let (Some(month), Some(year)) = (card["exp_month"].as_i64(), card["exp_year"].as_i64()) else {
        return Ok(false);
    };
    if card_end(month, year).is_none_or(|end| end >= r.period_end) {
        return Ok(false);
    }
    let brand = card["brand"].as_str().unwrap_or("card");
    let last4 = card["last4"].as_str().unwrap_or("");
    let tenant = &config.tenant;
    let dates = Dates::new(config.time_zone.as_deref());
    let renewal = crate::timefmt::rfc3339(r.period_end);
    let notice = Notice {
        kind: NoticeKind::CardExpiring,
        tenant: tenant.clone(),
        customer: r.customer.clone(),
        user_id: None,
        facts: match json!({
            "subscription": r.subscription, "renews_at": renewal,
            // Brand and last 4 only: an event leaves the stack.
            "card": {"brand": brand, "last4": last4},
        }) {
            Value::Object(m) => m,
            _ => Default::default(),
        },
    };
    let once = format!("card.expiring:{}:{}", r.subscription, r.period_end);
    let published = notify::publish_once(app, &notice, &once).await;
    let to = sub["customer"]["email"]
        .as_str()
        .filter(|e| e.contains('@'));
    if let (Some(sender), Some(to), Some(_)) = (notify::sender(config), to, &app.public_url)
        && notify::claim_email(app, tenant, &once).await
    {
        // A card-only link: it opens the portal to update the card, and pays nothing.
        let token = match notify::new_pay_link(app, tenant, &r.customer, "").await {
            Ok(t) => t,
            Err(e) => {
                let _ = app
                    .state
                    .release_event(tenant, &format!("email:{once}"))
                    .await;
                return Err(format!("card link not stored: {e}"));
            }
        };
        if let Some((_, card_url)) = notify::pay_urls(app, tenant, &token) {
            let email = emails::card_expiring(
                sender,
                to,
                &crate::billing::card_phrase(brand, last4),
                &dates.date(r.period_end),
                &card_url,
            );
            // Not sent: an error, so the renewal stays unchecked and the next scan tries.
            if !notify::send_claimed(app, tenant, &once, &email).await {
                return Err("the email was not sent".into());
            }
        }
    }
    Ok(published)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_card_works_to_the_end_of_its_month() {
        // 12/2026 works through 2026-12-31T23:59:59Z.
        assert_eq!(card_end(12, 2026), Some(1_798_761_599));
        assert_eq!(card_end(2, 2027), Some(1_803_859_199));
        assert_eq!(card_end(13, 2027), None);
    }
}
