//! Reaching the customer: the notices Stripe's events raise (a recovery opened or
//! resolved, a subscription changed, a refund), with the failed payment's email and its
//! one-tap pay-now link where the tenant turns email on.
use serde_json::{Map, Value, json};

use crate::billing::emails;
use crate::pipeline::endpoint::Call;
use crate::pipeline::notify;
use crate::ports::notices::{Notice, NoticeKind};
use crate::ports::state::Recovery;

fn notice(call: &Call<'_>, kind: NoticeKind, customer: &str, facts: Value) -> Notice {
    Notice {
        kind,
        tenant: call.tenant.tenant.clone(),
        customer: customer.to_string(),
        user_id: None,
        facts: match facts {
            Value::Object(m) => m,
            _ => Map::new(),
        },
    }
}

/// A failed payment opened a recovery: one `Recovery Opened` per invoice (a later attempt
/// of the same invoice updates the queue, not the customer), and its email with the
/// pay-now and update-card links.
pub async fn recovery_opened(call: &Call<'_>, r: &Recovery, invoice: &Value) {
    let app = call.app;
    let tenant = &call.tenant.tenant;
    let n = notice(
        call,
        NoticeKind::RecoveryOpened,
        &r.customer,
        json!({
            "invoice": r.invoice, "amount_due": r.amount_due, "attempt_count": r.attempt_count,
            "next_retry": r.next_retry, "decline": r.decline,
            "hosted_invoice_url": r.hosted_invoice_url,
        }),
    );
    notify::publish_once(app, &n, &format!("recovery.opened:{}", r.invoice)).await;
    // The email has its own once: one that failed is tried again on Stripe's next attempt.
    let Some(sender) = notify::sender(call.tenant) else {
        return;
    };
    let Some(to) = invoice["customer_email"]
        .as_str()
        .filter(|e| e.contains('@'))
    else {
        tracing::info!(target: "notice", tenant, "no email on the invoice: none sent");
        return;
    };
    if app.public_url.is_none() {
        tracing::error!(target: "notice", tenant, "PUBLIC_URL is not set: no email with links");
        return;
    }
    let once = format!("payment_failed:{}", r.invoice);
    if !notify::claim_email(app, tenant, &once).await {
        return;
    }
    let token = match notify::new_pay_link(app, tenant, &r.customer, &r.invoice).await {
        Ok(t) => t,
        Err(e) => {
            tracing::error!(target: "notice", tenant, error = %e, "pay link not stored: no email");
            let _ = app
                .state
                .release_event(tenant, &format!("email:{once}"))
                .await;
            return;
        }
    };
    let Some((pay, card)) = notify::pay_urls(app, tenant, &token) else {
        return;
    };
    let amount = r.amount_due["formatted"].as_str().unwrap_or_default();
    let email = emails::payment_failed(sender, to, amount, r.decline.as_deref(), &pay, &card);
    notify::send_claimed(app, tenant, &once, &email).await;
}

/// The invoice of an open recovery was paid: one `Recovery Resolved`.
pub async fn recovery_resolved(call: &Call<'_>, r: &Recovery) {
    let n = notice(
        call,
        NoticeKind::RecoveryResolved,
        &r.customer,
        json!({"invoice": r.invoice, "amount_due": r.amount_due,
               "resolved_at": r.resolved_at, "hosted_invoice_url": r.hosted_invoice_url}),
    );
    notify::publish_once(call.app, &n, &format!("recovery.resolved:{}", r.invoice)).await;
}

/// A subscription's new state (created, changed, paused, cancelled), as its event told.
pub async fn subscription_changed(call: &Call<'_>, customer: &str, event: &str, fact: &Value) {
    let mut facts = fact.clone();
    facts["event"] = json!(event);
    facts["subscription"] = fact["id"].clone();
    if let Some(o) = facts.as_object_mut() {
        o.remove("id");
    }
    let n = notice(call, NoticeKind::SubscriptionChanged, customer, facts);
    notify::publish(call.app, &n).await;
}

/// A charge was refunded (in full or in part).
pub async fn refund_issued(call: &Call<'_>, customer: &str, charge: &Value) {
    let currency = charge["currency"].as_str().unwrap_or("usd");
    let money = |v: &Value| {
        serde_json::to_value(crate::billing::money::Money::new(
            v.as_i64().unwrap_or(0),
            currency,
        ))
        .unwrap_or_default()
    };
    let n = notice(
        call,
        NoticeKind::RefundIssued,
        customer,
        json!({"charge": charge["id"], "amount": money(&charge["amount"]),
               "amount_refunded": money(&charge["amount_refunded"]),
               "receipt_url": charge["receipt_url"]}),
    );
    notify::publish(call.app, &n).await;
}
