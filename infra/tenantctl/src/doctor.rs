//! `tenantctl doctor TENANT`: the set-up checked against Stripe and the stack, each finding
//! with a plain fix. And `tenantctl connect-webhooks TENANT --url URL`: the endpoint
//! registered through Stripe's API, its `whsec_` secret stored as the tenant's, never
//! copied by hand.
use std::collections::BTreeSet;

use serde::Serialize;
use serde_json::json;
use shared::endpoints::probe as key_probe;
use shared::endpoints::stripe_webhook::HANDLED_EVENTS;
use shared::ports::tenants::TenantConfig;
use shared::stripe::types::PortalConfiguration;
use shared::stripe::writes::WebhookEndpointCreate;
use shared::stripe::{StripeError, StripeSession, api};
use shared::timefmt::{now_unix, rfc3339};

use crate::common::{audited, install_secret, stripe_client};
use crate::store::Aws;
use crate::{Done, Failure, SecretKind};

/// One finding.
#[derive(Debug, Serialize)]
pub struct Check {
    pub name: &'static str,
    pub ok: bool,
    pub detail: String,
    /// What to do about it (empty when ok).
    pub fix: String,
}

fn pass(name: &'static str, detail: impl Into<String>) -> Check {
    Check {
        name,
        ok: true,
        detail: detail.into(),
        fix: String::new(),
    }
}

fn fail(name: &'static str, detail: impl Into<String>, fix: impl Into<String>) -> Check {
    Check {
        name,
        ok: false,
        detail: detail.into(),
        fix: fix.into(),
    }
}

/// The webhook URL of `tenant` under an API base.
fn webhook_path(tenant: &str) -> String {
    format!("/v1/{tenant}/webhooks/stripe")
}

fn dashboard(live: bool, page: &str) -> String {
    let mode = if live { "" } else { "test/" };
    format!("https://dashboard.stripe.com/{mode}{page}")
}

fn permission_of(e: &StripeError) -> Option<String> {
    match e {
        StripeError::Api {
            status: 403,
            message,
            ..
        } => message
            .split("Having the '")
            .nth(1)
            .and_then(|r| r.split('\'').next())
            .map(str::to_string),
        _ => None,
    }
}

pub async fn doctor(aws: &Aws, tenant: &str) -> Result<Done, Failure> {
    let config = aws.require(tenant).await?;
    let mut checks = Vec::new();
    let secrets = aws.secrets(tenant).await?;
    let client = stripe_client()?;
    let session = secrets
        .as_ref()
        .map(|s| client.session(s.stripe_key.clone()));
    checks.push(key_check(&config, session.as_ref()).await);
    match &session {
        Some(s) => {
            checks.push(portal_check(&config, s).await);
            checks.push(webhook_check(&config, s).await);
        }
        None => {
            let fix = format!("tenantctl connect-key {tenant} --stripe-key-env VAR");
            checks.push(fail(
                "billing_portal",
                "not checked: no Stripe key",
                fix.clone(),
            ));
            checks.push(fail("webhook_endpoint", "not checked: no Stripe key", fix));
        }
    }
    checks.push(return_url_check(&config));
    checks.push(match aws.last_webhook(tenant).await? {
        Some(seen) => pass(
            "last_event",
            format!(
                "{} ({}) received {} ({} ago)",
                seen.kind,
                seen.event,
                rfc3339(seen.at).unwrap_or_default(),
                ago(now_unix() - seen.at)
            ),
        ),
        None => fail(
            "last_event",
            "no Stripe event has reached this tenant's webhook",
            format!(
                "send a test event to the endpoint from {} (or run tenantctl connect-webhooks {tenant} --url ...)",
                dashboard(config.livemode, "webhooks")
            ),
        ),
    });
    let failed = checks.iter().filter(|c| !c.ok).count();
    let mut text: Vec<String> = Vec::new();
    for c in &checks {
        let mark = if c.ok { "ok  " } else { "FAIL" };
        text.push(format!("{mark} {}: {}", c.name, c.detail));
        if !c.ok {
            text.push(format!("     fix: {}", c.fix));
        }
    }
    text.push(match failed {
        0 => format!("{tenant}: every check passed"),
        n => format!("{tenant}: {n} check(s) failed"),
    });
    Ok(Done {
        json: json!({"tenant": tenant, "healthy": failed == 0, "failed": failed,
                     "checks": checks}),
        text,
    })
}

fn ago(secs: i64) -> String {
    match secs.max(0) {
        s if s < 120 => format!("{s} s"),
        s if s < 7200 => format!("{} min", s / 60),
        s if s < 172_800 => format!("{} h", s / 3600),
        s => format!("{} days", s / 86_400),
    }
}

async fn key_check(config: &TenantConfig, session: Option<&StripeSession<'_>>) -> Check {
    let tenant = &config.tenant;
    let Some(session) = session else {
        return fail(
            "stripe_key",
            "no Stripe key is connected",
            format!("tenantctl connect-key {tenant} --stripe-key-env VAR"),
        );
    };
    match key_probe::probe(session).await {
        Err(e) => fail(
            "stripe_key",
            format!("{e}"),
            format!(
                "make a new key at {} and run tenantctl connect-key {tenant} --stripe-key-env VAR",
                dashboard(config.livemode, "apikeys")
            ),
        ),
        Ok(report) => {
            let served = config.enabled(&[]);
            let lacking: Vec<String> = report
                .tools
                .iter()
                .filter(|a| !a.ok && served.contains(&a.endpoint))
                .map(|a| format!("{} (needs {})", a.endpoint, a.missing.join(", ")))
                .collect();
            let kind = if report.restricted {
                "restricted"
            } else {
                "secret"
            };
            if lacking.is_empty() {
                pass(
                    "stripe_key",
                    format!(
                        "a {kind} key Stripe accepts, with every permission the tenant's tools need"
                    ),
                )
            } else {
                fail(
                    "stripe_key",
                    format!("the key lacks permissions for: {}", lacking.join("; ")),
                    format!(
                        "give the restricted key those permissions at {}, then run tenantctl connect-key {tenant} again",
                        dashboard(config.livemode, "apikeys")
                    ),
                )
            }
        }
    }
}

/// The portal's default configuration in the key's mode, with what the deep links need.
async fn portal_check(config: &TenantConfig, session: &StripeSession<'_>) -> Check {
    let settings = dashboard(config.livemode, "settings/billing/portal");
    let list = match session
        .get(
            &api::portal_configurations()
                .set("is_default", "true")
                .limit(1),
        )
        .await
    {
        Ok(l) => l,
        Err(e) => {
            return match permission_of(&e) {
                Some(p) => fail(
                    "billing_portal",
                    format!("the key may not read the portal's configuration ({p})"),
                    format!(
                        "give the key the permission {p} (read), or check the settings by hand at {settings}"
                    ),
                ),
                None => fail(
                    "billing_portal",
                    format!("Stripe: {e}"),
                    "run doctor again".to_string(),
                ),
            };
        }
    };
    let Some(c) = list.data.into_iter().find(|c| c.active) else {
        return fail(
            "billing_portal",
            format!(
                "no Billing Portal configuration in {} mode: every portal link fails (portal_not_configured)",
                if config.livemode { "live" } else { "test" }
            ),
            format!("save the customer portal settings at {settings}"),
        );
    };
    let mut missing = portal_gaps(config, &c);
    if !config.allowed_prices.is_empty() && c.features.subscription_update.enabled {
        let listed: BTreeSet<&str> = c
            .features
            .subscription_update
            .products
            .iter()
            .flatten()
            .map(|p| p.product.as_str())
            .collect();
        let mut unlisted = Vec::new();
        for price in &config.allowed_prices {
            match session.get(&api::price(price)).await {
                Ok(p) if !listed.contains(p.product.id()) => {
                    unlisted.push(format!("{} ({price})", p.product.id()));
                }
                Ok(_) => {}
                Err(e) => unlisted.push(format!("{price}: {e}")),
            }
        }
        if !unlisted.is_empty() {
            missing.push(format!(
                "products the tenant's plans use are not in the portal's plan-change list: {}",
                unlisted.join(", ")
            ));
        }
    }
    if missing.is_empty() {
        pass(
            "billing_portal",
            format!(
                "configuration {} has card updates, cancellation and plan changes for the tenant's plans",
                c.id
            ),
        )
    } else {
        fail(
            "billing_portal",
            format!("configuration {}: {}", c.id, missing.join("; ")),
            format!("turn those on (and add the products) at {settings}"),
        )
    }
}

/// The features the deep links (and the pay-now page's update-card link) need, off.
fn portal_gaps(config: &TenantConfig, c: &PortalConfiguration) -> Vec<String> {
    let mut out = Vec::new();
    if !c.features.payment_method_update.enabled {
        out.push("card updates (payment_method_update) are off".to_string());
    }
    if !c.features.subscription_cancel.enabled {
        out.push("cancellation (subscription_cancel) is off".to_string());
    }
    if !config.allowed_prices.is_empty() && !c.features.subscription_update.enabled {
        out.push("plan changes (subscription_update) are off".to_string());
    }
    out
}

async fn webhook_check(config: &TenantConfig, session: &StripeSession<'_>) -> Check {
    let tenant = &config.tenant;
    let fix = format!(
        "tenantctl connect-webhooks {tenant} --url https://API{}",
        webhook_path(tenant)
    );
    let list = match session.get(&api::webhook_endpoints().limit(100)).await {
        Ok(l) => l,
        Err(e) => {
            return fail(
                "webhook_endpoint",
                match permission_of(&e) {
                    Some(p) => format!("the key may not list webhook endpoints ({p})"),
                    None => format!("Stripe: {e}"),
                },
                fix,
            );
        }
    };
    let ours: Vec<_> = list
        .data
        .iter()
        .filter(|w| w.url.ends_with(&webhook_path(tenant)))
        .collect();
    if ours.is_empty() {
        return fail(
            "webhook_endpoint",
            format!(
                "no endpoint in Stripe sends to this tenant's URL (…{})",
                webhook_path(tenant)
            ),
            fix,
        );
    }
    let gaps = |w: &shared::stripe::types::WebhookEndpoint| -> Vec<&str> {
        if w.enabled_events.iter().any(|e| e == "*") {
            return Vec::new();
        }
        HANDLED_EVENTS
            .iter()
            .copied()
            .filter(|h| !w.enabled_events.iter().any(|e| e == h))
            .collect()
    };
    match ours
        .iter()
        .find(|w| w.status == "enabled" && gaps(w).is_empty())
    {
        Some(w) => pass(
            "webhook_endpoint",
            format!("{} sends every event the tenant needs to {}", w.id, w.url),
        ),
        None => {
            let w = ours[0];
            let detail = if w.status != "enabled" {
                format!("{} is {}", w.id, w.status)
            } else {
                format!("{} is not sent: {}", w.id, gaps(w).join(", "))
            };
            fail("webhook_endpoint", detail, fix)
        }
    }
}

fn return_url_check(config: &TenantConfig) -> Check {
    let tenant = &config.tenant;
    let fix = format!("tenantctl set {tenant} return_url=https://shop.example.com/account");
    match &config.return_url {
        None => fail(
            "return_url",
            "not set: portal sessions and Checkout have nowhere to send the customer back",
            fix,
        ),
        Some(u) if u.starts_with("https://") => pass("return_url", u.clone()),
        Some(u) if !config.livemode && u.starts_with("http://localhost") => {
            pass("return_url", format!("{u} (local, test mode)"))
        }
        Some(u) => fail("return_url", format!("{u} is not https"), fix),
    }
}

/// `connect-webhooks`: one endpoint for the tenant's URL, sent every event the webhook
/// applies; its signing secret becomes the tenant's newest webhook secret.
pub async fn connect_webhooks(
    aws: &Aws,
    tenant: &str,
    url: &str,
    show: bool,
) -> Result<Done, Failure> {
    let config = aws.require(tenant).await?;
    let local = !config.livemode
        && (url.starts_with("http://localhost") || url.starts_with("http://127.0.0.1"));
    if !(url.starts_with("https://") || local) || url.chars().any(char::is_whitespace) {
        return Err(Failure::Refused(format!(
            "the webhook URL must be https:// (got {url})"
        )));
    }
    if !url.ends_with(&webhook_path(tenant)) {
        return Err(Failure::Usage(format!(
            "the URL must be this tenant's webhook route, ending in {}",
            webhook_path(tenant)
        )));
    }
    let secrets = aws.secrets(tenant).await?.ok_or_else(|| {
        Failure::NotFound(format!(
            "{tenant} has no Stripe key: run tenantctl connect-key first"
        ))
    })?;
    let client = stripe_client()?;
    let session = client.session(secrets.stripe_key.clone());
    let fields = WebhookEndpointCreate {
        url: url.to_string(),
        enabled_events: HANDLED_EVENTS.iter().map(|e| e.to_string()).collect(),
        description: format!("billing tools: tenant {tenant}"),
    };
    let endpoint = session
        .post(
            &api::create_webhook_endpoint(&fields),
            &format!("connect-webhooks-{}", uuid::Uuid::new_v4()),
        )
        .await
        .map_err(|e| match permission_of(&e) {
            Some(p) => Failure::Refused(format!(
                "the key may not create webhook endpoints: give it {p}"
            )),
            None => Failure::Unavailable(format!("Stripe: {e}")),
        })?;
    let secret = endpoint.secret.clone().ok_or_else(|| {
        Failure::Unavailable("Stripe did not return the endpoint's signing secret".into())
    })?;
    let mut done = install_secret(
        aws,
        tenant,
        SecretKind::Webhook,
        secret.clone(),
        false,
        false,
    )
    .await?;
    audited(
        aws,
        tenant,
        "connect-webhooks",
        None,
        json!({"endpoint": endpoint.id, "events": HANDLED_EVENTS.len()}),
        "ok",
    )
    .await?;
    done.json["endpoint"] = json!(endpoint.id);
    done.json["url"] = json!(endpoint.url);
    done.json["enabled_events"] = json!(endpoint.enabled_events);
    let mut text = vec![format!(
        "endpoint {} registered in Stripe for {} ({} event types); its signing secret is stored as {tenant}'s webhook secret",
        endpoint.id,
        endpoint.url,
        HANDLED_EVENTS.len()
    )];
    text.append(&mut done.text);
    if show {
        done.json["secret"] = json!(secret);
        text.push(format!("secret: {secret}"));
    }
    done.text = text;
    Ok(done)
}
