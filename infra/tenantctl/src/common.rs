//! What several verbs share: the operator's audit record, the Stripe client, and adding
//! a secret of one kind (checked against the others).
use serde_json::{Map, Value, json};
use shared::config::StripeSettings;
use shared::ports::audit::AuditRecord;
use shared::stripe::StripeClient;

use crate::store::Aws;
use crate::{Done, Failure, SecretKind};

/// The functions never verify with a shorter secret.
pub const MIN_SECRET_BYTES: usize = 32;

fn operator() -> String {
    let who = std::env::var("TENANTCTL_OPERATOR")
        .or_else(|_| std::env::var("USER"))
        .unwrap_or_else(|_| "unknown".into());
    format!("operator:{who}")
}

/// One audit record per operator action (tenant-wide: no customer unless one is named).
pub async fn audited(
    aws: &Aws,
    tenant: &str,
    verb: &str,
    customer: Option<&str>,
    args: Value,
    outcome: &str,
) -> Result<(), Failure> {
    let request_id = uuid::Uuid::new_v4().to_string();
    let mut record = AuditRecord::new(
        tenant,
        customer,
        operator(),
        &format!("tenantctl {verb}"),
        args,
        shared::ports::audit::OPERATOR,
        &request_id,
        400,
    );
    record.outcome = outcome.into();
    aws.write_audit(&record).await
}

pub fn stripe_client() -> Result<StripeClient, Failure> {
    let settings = StripeSettings::from_env().map_err(Failure::Usage)?;
    StripeClient::new(settings).map_err(|e| Failure::Unavailable(format!("HTTP client: {e}")))
}

/// Adds `value` as the tenant's newest secret of `kind` (checked: long enough, of the
/// kind's form, not active as another kind), audited by count.
pub async fn install_secret(
    aws: &Aws,
    tenant: &str,
    kind: SecretKind,
    value: String,
    generated: bool,
    show: bool,
) -> Result<Done, Failure> {
    let doc = aws.stored_secrets(tenant).await?;
    let mut active: Vec<String> = doc
        .get(kind.field())
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    if value.len() < MIN_SECRET_BYTES {
        return Err(Failure::Refused(format!(
            "a {} secret must be at least {MIN_SECRET_BYTES} bytes",
            kind.name()
        )));
    }
    if kind == SecretKind::Webhook && !value.starts_with("whsec_") {
        return Err(Failure::Refused(
            "a Stripe webhook secret starts with whsec_".into(),
        ));
    }
    if kind == SecretKind::Panel && !value.starts_with(kind.prefix()) {
        return Err(Failure::Refused(format!(
            "a panel key starts with {}",
            kind.prefix()
        )));
    }
    // One secret, one use: a user-hash secret equal to the identity secret would let any
    // merchant endpoint that hashes user ids sign visitor tokens.
    let elsewhere = [
        SecretKind::Identity,
        SecretKind::UserHash,
        SecretKind::Agent,
        SecretKind::Webhook,
        SecretKind::Panel,
    ]
    .into_iter()
    .filter(|k| *k != kind)
    .find(|k| {
        doc.get(k.field())
            .and_then(Value::as_array)
            .is_some_and(|list| list.iter().any(|s| s.as_str() == Some(value.as_str())))
    });
    if let Some(other) = elsewhere {
        return Err(Failure::Refused(format!(
            "that secret is already active as the tenant's {} secret; each kind needs its own",
            other.name()
        )));
    }
    active.retain(|s| s != &value);
    active.insert(0, value.clone());
    keep(
        aws,
        tenant,
        kind,
        doc,
        &active,
        json!({"active": active.len()}),
    )
    .await?;
    let mut out = json!({"tenant": tenant, "kind": kind.name(), "active": active.len()});
    let mut text = vec![format!(
        "new {} secret active at once; {} active in all (the old ones until --retire-old)",
        kind.name(),
        active.len()
    )];
    if generated {
        if show {
            out["secret"] = json!(value);
            text.push(format!("secret: {value}"));
        } else {
            text.push("not shown (run with --show-secret to see it, once)".into());
        }
    }
    Ok(Done { json: out, text })
}

/// Stores `active` as the tenant's secrets of `kind`, audited (the count, never a value).
pub async fn keep(
    aws: &Aws,
    tenant: &str,
    kind: SecretKind,
    mut doc: Map<String, Value>,
    active: &[String],
    mut noted: Value,
) -> Result<(), Failure> {
    doc.insert(kind.field().into(), json!(active));
    aws.put_secrets(tenant, &doc).await?;
    noted["kind"] = json!(kind.name());
    audited(aws, tenant, "rotate", None, noted, "ok").await
}
