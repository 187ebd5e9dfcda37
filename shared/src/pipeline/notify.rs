//! Notices, sent one way: every notice goes on the bus; the kinds that email the customer
//! do so once per notice (a claim in the state table, so a redelivered event or a second
//! scan sends nothing), where the tenant turns email on. A notice never fails the call that
//! raised it: what the customer or Stripe asked for is done either way, and a failure to
//! tell is logged (target `notice`) for the operator.
use base64::Engine;
use rand::RngCore;
use sha2::{Digest, Sha256};

use crate::billing::emails::Sender;
use crate::pipeline::app::App;
use crate::ports::notices::{Email, Notice, NoticeKind, PayLink};
use crate::ports::tenants::TenantConfig;
use crate::timefmt::now_unix;

/// How long a pay-now link works.
pub const PAY_LINK_SECS: i64 = 72 * 3600;
/// How long a "sent once" claim is remembered: past any redelivery or repeated scan.
const ONCE_SECS: i64 = 400 * 86_400;

/// Puts the notice on the bus (logged, never raised, when the bus refuses it).
pub async fn publish(app: &App, notice: &Notice) {
    let kind = notice.kind.detail_type();
    match app.outbox.publish(notice).await {
        Ok(()) => tracing::info!(target: "notice", kind, tenant = %notice.tenant,
            customer = %notice.customer, "notice published"),
        Err(e) => tracing::error!(target: "notice", kind, tenant = %notice.tenant,
            customer = %notice.customer, error = %e, "notice not published"),
    }
}

/// Publishes the notice once per `once` key (a redelivered event, a second scan: nothing
/// more); `true` when this call published it.
pub async fn publish_once(app: &App, notice: &Notice, once: &str) -> bool {
    match app
        .state
        .claim_event(
            &notice.tenant,
            &format!("notice:{once}"),
            now_unix() + ONCE_SECS,
        )
        .await
    {
        Ok(true) => {
            publish(app, notice).await;
            true
        }
        Ok(false) => false,
        Err(e) => {
            tracing::error!(target: "notice", kind = notice.kind.detail_type(), error = %e,
                "notice not claimed: not published");
            false
        }
    }
}

/// Who sends the tenant's emails, when it turned them on (the links in them also need the
/// stack's public URL: [`pay_urls`]).
pub fn sender(tenant: &TenantConfig) -> Option<Sender<'_>> {
    let (from, merchant) = tenant.notify.sender(&tenant.tenant)?;
    Some(Sender { from, merchant })
}

/// Claims the right to send the email named `once` (before anything is made for it, such
/// as a pay link); `true` for the one caller that may send it.
pub async fn claim_email(app: &App, tenant: &str, once: &str) -> bool {
    match app
        .state
        .claim_event(tenant, &format!("email:{once}"), now_unix() + ONCE_SECS)
        .await
    {
        Ok(claimed) => claimed,
        Err(e) => {
            tracing::error!(target: "notice", tenant, error = %e, "email not claimed: not sent");
            false
        }
    }
}

/// Sends a claimed email; `true` when SES took it. A send that fails gives the claim back,
/// so the next event about it (Stripe's next attempt of the invoice) or the next scan
/// tries again.
pub async fn send_claimed(app: &App, tenant: &str, once: &str, email: &Email) -> bool {
    match app.outbox.send(email).await {
        Ok(()) => {
            tracing::info!(target: "notice", tenant, "email sent");
            true
        }
        Err(e) => {
            tracing::error!(target: "notice", tenant, error = %e, "email not sent");
            if let Err(e) = app
                .state
                .release_event(tenant, &format!("email:{once}"))
                .await
            {
                tracing::error!(target: "notice", tenant, error = %e, "email claim not released");
            }
            false
        }
    }
}

/// The id a pay link is stored under: its token's SHA-256 (the token is never stored).
pub fn pay_link_id(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Makes a pay-now link for the customer's invoice: the token, which only the email holds.
pub async fn new_pay_link(
    app: &App,
    tenant: &str,
    customer: &str,
    invoice: &str,
) -> Result<String, crate::ports::error::StoreError> {
    let mut bytes = [0u8; 24];
    rand::rng().fill_bytes(&mut bytes);
    let token = format!(
        "pl_{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    );
    let link = PayLink {
        id: pay_link_id(&token),
        customer: customer.to_string(),
        invoice: invoice.to_string(),
        expires_at: now_unix() + PAY_LINK_SECS,
        used_at: None,
    };
    app.state.put_pay_link(tenant, &link).await?;
    Ok(token)
}

/// `{public_url}/v1/{tenant}/pay/{token}` and its update-card companion.
pub fn pay_urls(app: &App, tenant: &str, token: &str) -> Option<(String, String)> {
    let base = app.public_url.as_deref()?;
    let page = format!("{base}/v1/{tenant}/pay/{token}");
    Some((page.clone(), format!("{page}/card")))
}

/// An approval asked or decided, on the bus (the agent's note stays the merchant's: not in
/// the event).
pub async fn approval(
    app: &App,
    tenant: &str,
    a: &crate::ports::state::Approval,
    kind: NoticeKind,
) {
    let mut facts = serde_json::Map::new();
    facts.insert("approval".into(), a.id.clone().into());
    facts.insert("tool".into(), a.tool.clone().into());
    facts.insert(
        "status".into(),
        serde_json::to_value(a.status).unwrap_or_default(),
    );
    facts.insert("summary".into(), a.summary.clone().into());
    facts.insert("bound".into(), a.bound.reason.clone().into());
    facts.insert(
        "expires_at".into(),
        crate::timefmt::rfc3339(a.expires_at).into(),
    );
    let notice = Notice {
        kind,
        tenant: tenant.to_string(),
        customer: a.customer.clone(),
        user_id: Some(a.user_id.clone()),
        facts,
    };
    publish(app, &notice).await;
}
