//! The verbs. Each checks its input before it changes anything, and each change is
//! written to the audit table (actor `operator:…`, never a secret).
use base64::Engine;
use rand::RngCore;
use serde_json::{Map, Value, json};
use shared::endpoints::probe::{self as key_probe, KeyReport};
use shared::endpoints::registry::{self, Effect};
use shared::ports::tenants::{TenantConfig, valid_tenant_id};
use shared::secret::Secret;
use shared::stripe::api;
use shared::stripe::ids::valid_customer_id;
use shared::timefmt::{now_unix, rfc3339};

use crate::common::{audited, install_secret, keep, stripe_client};
use crate::store::Aws;
use crate::{Done, Failure, SecretKind, Verb};

/// Settings only their own verb changes.
const NOT_SETTABLE: &[&str] = &["tenant", "key_unserved_tools", "livemode"];

pub async fn run(aws: &Aws, verb: Verb) -> Result<Done, Failure> {
    let tenant = match &verb {
        Verb::Migrate => return migrate(aws).await,
        Verb::Create { tenant, .. }
        | Verb::ConnectKey { tenant, .. }
        | Verb::Rotate { tenant, .. }
        | Verb::Set { tenant, .. }
        | Verb::Enable { tenant, .. }
        | Verb::Disable { tenant, .. }
        | Verb::Map { tenant, .. }
        | Verb::Audit { tenant, .. }
        | Verb::Doctor { tenant }
        | Verb::ConnectWebhooks { tenant, .. }
        | Verb::Show { tenant } => tenant.clone(),
    };
    if !valid_tenant_id(&tenant) {
        return Err(Failure::Usage(format!(
            "a tenant id is 3-40 of a-z, 0-9 and -: `{tenant}` is not"
        )));
    }
    match verb {
        Verb::Create {
            stripe_key_env,
            live,
            show_secret,
            ..
        } => create(aws, &tenant, stripe_key_env.as_deref(), live, show_secret).await,
        Verb::ConnectKey { stripe_key_env, .. } => {
            let key = key_from_env(&stripe_key_env)?;
            connect_key(aws, &tenant, &key).await
        }
        Verb::Rotate {
            kind,
            retire_old,
            secret_env,
            show_secret,
            ..
        } => {
            rotate(
                aws,
                &tenant,
                kind,
                retire_old,
                secret_env.as_deref(),
                show_secret,
            )
            .await
        }
        Verb::Set { settings, .. } => set(aws, &tenant, &settings).await,
        Verb::Enable { tools, .. } => switch(aws, &tenant, &tools, true).await,
        Verb::Disable { tools, .. } => switch(aws, &tenant, &tools, false).await,
        Verb::Migrate => unreachable!("answered above"),
        Verb::Map {
            user_id,
            customer_id,
            ..
        } => map(aws, &tenant, &user_id, &customer_id).await,
        Verb::Audit {
            customer,
            since,
            limit,
            ..
        } => audit(aws, &tenant, customer.as_deref(), &since, limit).await,
        Verb::Show { .. } => show(aws, &tenant).await,
        Verb::Doctor { .. } => crate::doctor::doctor(aws, &tenant).await,
        Verb::ConnectWebhooks {
            url, show_secret, ..
        } => crate::doctor::connect_webhooks(aws, &tenant, &url, show_secret).await,
    }
}

fn new_secret(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rng().fill_bytes(&mut bytes);
    format!(
        "{prefix}{}",
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(bytes)
    )
}

fn key_from_env(var: &str) -> Result<Secret, Failure> {
    std::env::var(var)
        .ok()
        .filter(|v| !v.is_empty())
        .map(Secret::new)
        .ok_or_else(|| Failure::Usage(format!("environment variable {var} is not set")))
}

async fn create(
    aws: &Aws,
    tenant: &str,
    key_env: Option<&str>,
    live: bool,
    show: bool,
) -> Result<Done, Failure> {
    // Everything checkable is checked before anything is written.
    let key = key_env.map(key_from_env).transpose()?;
    if let Some(k) = &key {
        check_key_format(k, live)?;
    }
    if aws.config(tenant).await?.is_some() {
        return Err(Failure::Exists(format!("tenant `{tenant}` already exists")));
    }
    let mut config = TenantConfig::new(tenant);
    config.livemode = live;
    // Read-only until the merchant turns a write on (fail closed).
    config.enabled_tools = Some(
        registry::tools()
            .iter()
            .filter(|t| t.effect == Effect::Reads)
            .map(|t| t.name.to_string())
            .collect(),
    );
    let secrets = [
        (SecretKind::Identity, new_secret("")),
        (SecretKind::UserHash, new_secret("")),
        (SecretKind::Agent, new_secret("")),
        (SecretKind::Panel, new_secret(SecretKind::Panel.prefix())),
    ];
    let mut doc = aws.stored_secrets(tenant).await?;
    for (kind, value) in &secrets {
        doc.insert(kind.field().into(), json!([value]));
    }
    doc.insert(SecretKind::Webhook.field().into(), json!([]));
    doc.remove("stripe_key_ciphertext");
    aws.put_secrets(tenant, &doc).await?;
    aws.put_config(&config, true).await?;
    audited(aws, tenant, "create", None, json!({"livemode": live}), "ok").await?;
    let mut text = vec![format!(
        "tenant {tenant} created ({} mode)",
        if live { "live" } else { "test" }
    )];
    let mut shown = Map::new();
    for (kind, value) in &secrets {
        if show {
            text.push(format!("{} secret: {value}", kind.name()));
            shown.insert(kind.name().into(), json!(value));
        } else {
            shown.insert(
                kind.name().into(),
                json!("created (not shown: --show-secret)"),
            );
        }
    }
    if !show {
        text.push("secrets created; not shown (run with --show-secret to see them, once)".into());
    }
    let mut out = json!({"tenant": tenant, "livemode": live, "secrets": shown});
    if let Some(k) = key {
        let connected = connect_key(aws, tenant, &k).await?;
        text.extend(connected.text);
        out["key"] = connected.json;
    } else {
        text.push(format!(
            "no Stripe key yet: tenantctl connect-key {tenant} --stripe-key-env VAR"
        ));
    }
    Ok(Done { json: out, text })
}

fn check_key_format(key: &Secret, tenant_live: bool) -> Result<bool, Failure> {
    let live = key_probe::key_mode(key.expose()).ok_or_else(|| {
        Failure::Refused(
            "not a Stripe secret or restricted key (sk_test_, sk_live_, rk_test_ or rk_live_ and letters and digits)".into(),
        )
    })?;
    if live != tenant_live {
        return Err(Failure::Refused(format!(
            "a {} key for a {}-mode tenant: refused",
            if live { "live" } else { "test" },
            if tenant_live { "live" } else { "test" }
        )));
    }
    Ok(live)
}

async fn connect_key(aws: &Aws, tenant: &str, key: &Secret) -> Result<Done, Failure> {
    let mut config = aws.require(tenant).await?;
    check_key_format(key, config.livemode)?;
    let client = stripe_client()?;
    let session = client.session(key.clone());
    let report = key_probe::probe(&session).await.map_err(|e| match e {
        key_probe::ProbeError::Rejected(m) => {
            Failure::Refused(format!("Stripe does not accept this key: {m}"))
        }
        key_probe::ProbeError::Unavailable(m) => Failure::Unavailable(format!("Stripe: {m}")),
    })?;
    let ciphertext = aws.encrypt_key(tenant, key.expose()).await?;
    let mut doc = aws.stored_secrets(tenant).await?;
    doc.insert("stripe_key_ciphertext".into(), json!(ciphertext));
    aws.put_secrets(tenant, &doc).await?;
    config.key_unserved_tools = report.unserved();
    aws.put_config(&config, false).await?;
    audited(
        aws,
        tenant,
        "connect-key",
        None,
        json!({"restricted": report.restricted, "livemode": report.live,
               "unserved_tools": report.unserved()}),
        "ok",
    )
    .await?;
    Ok(Done {
        text: report_lines(tenant, &report),
        json: serde_json::to_value(&report).unwrap_or(Value::Null),
    })
}

fn report_lines(tenant: &str, r: &KeyReport) -> Vec<String> {
    let kind = if r.restricted { "restricted" } else { "secret" };
    let mode = if r.live { "live" } else { "test" };
    let served: Vec<&str> = r
        .tools
        .iter()
        .filter(|a| a.ok)
        .map(|a| a.endpoint.as_str())
        .collect();
    let mut lines = vec![
        format!("{kind} {mode} key accepted by Stripe; stored for {tenant}, encrypted under KMS"),
        format!(
            "tools it can serve ({}): {}",
            served.len(),
            served.join(", ")
        ),
    ];
    let off: Vec<_> = r.tools.iter().filter(|a| !a.ok).collect();
    if off.is_empty() {
        lines.push("every tool is served".into());
    } else {
        lines.push(format!(
            "switched off ({}), with the Stripe permissions each needs:",
            off.len()
        ));
        for a in off {
            lines.push(format!("  {}: {}", a.endpoint, a.missing.join(", ")));
        }
    }
    for a in &r.other {
        if a.ok {
            lines.push(format!("{}: served", a.endpoint));
        } else {
            lines.push(format!("{}: needs {}", a.endpoint, a.missing.join(", ")));
        }
    }
    lines
}

async fn rotate(
    aws: &Aws,
    tenant: &str,
    kind: SecretKind,
    retire_old: bool,
    secret_env: Option<&str>,
    show: bool,
) -> Result<Done, Failure> {
    aws.require(tenant).await?;
    let doc = aws.stored_secrets(tenant).await?;
    let mut active: Vec<String> = doc
        .get(kind.field())
        .and_then(|v| serde_json::from_value(v.clone()).ok())
        .unwrap_or_default();
    if retire_old {
        if secret_env.is_some() {
            return Err(Failure::Usage(
                "--retire-old keeps the newest secret; add a new one first, without it".into(),
            ));
        }
        if active.is_empty() {
            return Err(Failure::NotFound(format!(
                "{tenant} has no {} secret",
                kind.name()
            )));
        }
        let retired = active.len() - 1;
        active.truncate(1);
        keep(aws, tenant, kind, doc, &active, json!({"retired": retired})).await?;
        return Ok(Done {
            json: json!({"tenant": tenant, "kind": kind.name(), "retired": retired, "active": 1}),
            text: vec![format!(
                "{retired} old {} secret(s) retired; warm functions stop accepting them within the tenant cache's bound (TENANT_CACHE_TTL_SECS, 300 s by default)",
                kind.name()
            )],
        });
    }
    let (value, generated) = match secret_env {
        Some(var) => (key_from_env(var)?.expose().to_string(), false),
        None if kind == SecretKind::Webhook => {
            return Err(Failure::Usage(
                "Stripe makes webhook signing secrets: run tenantctl connect-webhooks (it registers the endpoint and stores its secret), or pass the endpoint's whsec_ secret with --secret-env VAR".into(),
            ));
        }
        None => (new_secret(kind.prefix()), true),
    };
    install_secret(aws, tenant, kind, value, generated, show).await
}

/// `a.b=value` into the config's JSON; the value is JSON when it parses, text otherwise.
fn apply_setting(doc: &mut Value, setting: &str) -> Result<(), Failure> {
    let (path, raw) = setting
        .split_once('=')
        .ok_or_else(|| Failure::Usage(format!("`{setting}` is not KEY=VALUE")))?;
    let value = serde_json::from_str(raw).unwrap_or_else(|_| Value::String(raw.to_string()));
    let parts: Vec<&str> = path.split('.').collect();
    if NOT_SETTABLE.contains(&parts[0]) {
        return Err(Failure::Usage(format!(
            "`{}` is not set with `set`",
            parts[0]
        )));
    }
    let mut at = doc;
    for (i, part) in parts.iter().enumerate() {
        let obj = at.as_object_mut().ok_or_else(|| {
            Failure::Usage(format!(
                "`{path}`: {} holds no settings",
                parts[..i].join(".")
            ))
        })?;
        if i == parts.len() - 1 {
            obj.insert(part.to_string(), value);
            return Ok(());
        }
        at = obj
            .get_mut(*part)
            .ok_or_else(|| Failure::Usage(format!("unknown setting `{path}`")))?;
    }
    Ok(())
}

/// The settings applied to `config`, checked by the type the functions read it with
/// (a name it does not know, or a value of the wrong type, is refused).
pub fn settle(config: &TenantConfig, settings: &[String]) -> Result<TenantConfig, Failure> {
    // A config stored before `enabled_tools` gets its list written out as it stands.
    let mut config = config.clone();
    config.enabled_tools = Some(config.enabled(&registry::tools_before_enabled_tools()));
    let mut doc = serde_json::to_value(&config).map_err(|e| Failure::Usage(e.to_string()))?;
    for s in settings {
        if s.starts_with("disabled_tools") {
            return Err(Failure::Usage(
                "`disabled_tools` is gone: a tenant serves what `enabled_tools` lists (tenantctl enable / disable)".into(),
            ));
        }
        apply_setting(&mut doc, s)?;
    }
    let next = as_config(&doc)?;
    // A name serde does not know would be dropped silently: compare the round trip.
    let back = serde_json::to_value(&next).map_err(|e| Failure::Usage(e.to_string()))?;
    if let Some(path) = first_difference(&doc, &back, "") {
        return Err(Failure::Usage(format!("unknown setting `{path}`")));
    }
    let known: Vec<&str> = registry::tool_names().collect();
    for t in next
        .enabled_tools
        .iter()
        .flatten()
        .chain(&next.policy.confirmation_off)
    {
        if !known.contains(&t.as_str()) {
            return Err(Failure::Usage(format!(
                "unknown tool `{t}` (tools: {})",
                known.join(", ")
            )));
        }
    }
    for o in &next.allowed_origins {
        let ok = (o.starts_with("https://") || o.starts_with("http://"))
            && o.splitn(4, '/').nth(3).is_none_or(str::is_empty);
        if !ok {
            return Err(Failure::Usage(format!(
                "`{o}` is not an origin (scheme and host, like https://shop.example.com)"
            )));
        }
    }
    // Nothing that weakens the tenant: every bound within its documented range.
    next.check().map_err(Failure::Refused)?;
    Ok(next)
}

/// Adds `tools` to the tenant's `enabled_tools` (or takes them out).
async fn switch(aws: &Aws, tenant: &str, tools: &[String], on: bool) -> Result<Done, Failure> {
    let config = aws.require(tenant).await?;
    let known: Vec<&str> = registry::tool_names().collect();
    if let Some(t) = tools.iter().find(|t| !known.contains(&t.as_str())) {
        return Err(Failure::Usage(format!(
            "unknown tool `{t}` (tools: {})",
            known.join(", ")
        )));
    }
    let mut list = config.enabled(&registry::tools_before_enabled_tools());
    if on {
        for t in tools {
            if !list.contains(t) {
                list.push(t.clone());
            }
        }
        // In the order the tool list shows them.
        list.sort_by_key(|t| known.iter().position(|k| k == t));
    } else {
        list.retain(|t| !tools.contains(t));
    }
    let next = TenantConfig {
        enabled_tools: Some(list.clone()),
        ..config
    };
    aws.put_config(&next, false).await?;
    let verb = if on { "enable" } else { "disable" };
    audited(aws, tenant, verb, None, json!({"tools": tools}), "ok").await?;
    let unserved: Vec<&String> = list
        .iter()
        .filter(|t| next.key_unserved_tools.contains(t))
        .collect();
    let mut text = vec![format!(
        "{tenant} serves: {} (warm functions within the tenant cache's bound, 300 s by default)",
        list.join(", ")
    )];
    if !unserved.is_empty() {
        text.push(format!(
            "listed but off until a key that can serve them is connected: {}",
            unserved
                .iter()
                .map(|s| s.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    Ok(Done {
        json: json!({"tenant": tenant, "enabled_tools": list, "key_unserved_tools": next.key_unserved_tools}),
        text,
    })
}

/// Writes `enabled_tools` out for each tenant stored before the list existed.
async fn migrate(aws: &Aws) -> Result<Done, Failure> {
    let mut migrated = Vec::new();
    for config in aws.all_configs().await? {
        if config.enabled_tools.is_some() {
            continue;
        }
        let tenant = config.tenant.clone();
        let list = config.enabled(&registry::tools_before_enabled_tools());
        let next = TenantConfig {
            enabled_tools: Some(list.clone()),
            ..config
        };
        aws.put_config(&next, false).await?;
        audited(
            aws,
            &tenant,
            "migrate",
            None,
            json!({"enabled_tools": list}),
            "ok",
        )
        .await?;
        migrated.push(json!({"tenant": tenant, "enabled_tools": list}));
    }
    let text = if migrated.is_empty() {
        vec!["every tenant lists its enabled_tools already; nothing to do".into()]
    } else {
        migrated
            .iter()
            .map(|m| {
                format!(
                    "{}: enabled_tools written ({} tools)",
                    m["tenant"].as_str().unwrap_or("?"),
                    m["enabled_tools"].as_array().map_or(0, Vec::len)
                )
            })
            .collect()
    };
    Ok(Done {
        json: json!({"migrated": migrated}),
        text,
    })
}

/// The document as the functions' config type; an error names the setting's path.
fn as_config(doc: &Value) -> Result<TenantConfig, Failure> {
    serde_path_to_error::deserialize(doc.clone())
        .map_err(|e| Failure::Usage(format!("invalid setting `{}`: {}", e.path(), e.inner())))
}

fn first_difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => x.iter().find_map(|(k, v)| {
            let path = if at.is_empty() {
                k.clone()
            } else {
                format!("{at}.{k}")
            };
            match y.get(k) {
                None => Some(path),
                Some(w) => first_difference(v, w, &path),
            }
        }),
        // Numbers may change form (1e6 → 1000000); only objects can lose a name.
        _ => None,
    }
}

async fn set(aws: &Aws, tenant: &str, settings: &[String]) -> Result<Done, Failure> {
    let config = aws.require(tenant).await?;
    let next = settle(&config, settings)?;
    aws.put_config(&next, false).await?;
    let names: Vec<&str> = settings
        .iter()
        .filter_map(|s| s.split('=').next())
        .collect();
    audited(aws, tenant, "set", None, json!({"settings": names}), "ok").await?;
    Ok(Done {
        json: json!({"tenant": tenant, "config": next}),
        text: vec![format!(
            "{tenant}: {} set; warm functions use it within the tenant cache's bound (300 s by default)",
            names.join(", ")
        )],
    })
}

async fn map(aws: &Aws, tenant: &str, user: &str, customer: &str) -> Result<Done, Failure> {
    if user.is_empty() || user.len() > 256 {
        return Err(Failure::Usage("a user id is 1-256 characters".into()));
    }
    if !valid_customer_id(customer) {
        return Err(Failure::Usage(format!(
            "`{customer}` is not a Stripe customer id (cus_…)"
        )));
    }
    aws.require(tenant).await?;
    let mut checked = false;
    if let Some(secrets) = aws.secrets(tenant).await? {
        let client = stripe_client()?;
        let session = client.session(secrets.stripe_key.clone());
        match session.get(&api::customer(customer)).await {
            Ok(c) if c.deleted => {
                return Err(Failure::NotFound(format!(
                    "customer {customer} is deleted in Stripe"
                )));
            }
            Ok(_) => checked = true,
            Err(e) if e.is_missing() => {
                return Err(Failure::NotFound(format!(
                    "no customer {customer} in this tenant's Stripe account"
                )));
            }
            Err(e) => return Err(Failure::Unavailable(format!("Stripe: {e}"))),
        }
    }
    aws.put_contact(tenant, user, customer).await?;
    audited(
        aws,
        tenant,
        "map",
        Some(customer),
        json!({"user_id": user}),
        "ok",
    )
    .await?;
    Ok(Done {
        json: json!({"tenant": tenant, "user_id": user, "customer_id": customer,
                     "checked_in_stripe": checked}),
        text: vec![format!(
            "{user} → {customer}{}",
            if checked {
                " (found in Stripe)"
            } else {
                " (no key connected: not checked in Stripe)"
            }
        )],
    })
}

/// `90s`, `30m`, `24h`, `7d` in seconds.
pub fn duration_secs(s: &str) -> Option<i64> {
    let (n, unit) = s.split_at(s.len().checked_sub(1)?);
    let n: i64 = n.parse().ok().filter(|n| *n > 0)?;
    let unit = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        _ => return None,
    };
    n.checked_mul(unit)
}

async fn audit(
    aws: &Aws,
    tenant: &str,
    customer: Option<&str>,
    since: &str,
    limit: usize,
) -> Result<Done, Failure> {
    let secs = duration_secs(since)
        .ok_or_else(|| Failure::Usage(format!("--since `{since}`: a number and s, m, h or d")))?;
    if let Some(c) = customer.filter(|c| !valid_customer_id(c)) {
        return Err(Failure::Usage(format!(
            "`{c}` is not a Stripe customer id (cus_…)"
        )));
    }
    aws.require(tenant).await?;
    let from = rfc3339(now_unix() - secs).unwrap_or_default();
    let records = aws.audit(tenant, customer, &from, limit).await?;
    let text = if records.is_empty() {
        vec![format!("no audit records for {tenant} since {from}")]
    } else {
        records
            .iter()
            .map(|r| {
                format!(
                    "{}  {}  {}  {}  {}/{}{}  stripe:{}",
                    r.time,
                    r.actor,
                    r.customer.as_deref().unwrap_or("-"),
                    r.tool,
                    r.decision,
                    r.outcome,
                    r.reason
                        .as_deref()
                        .map(|x| format!(" ({x})"))
                        .unwrap_or_default(),
                    r.stripe_requests
                )
            })
            .collect()
    };
    Ok(Done {
        json: json!({"tenant": tenant, "since": from, "records": records}),
        text,
    })
}

async fn show(aws: &Aws, tenant: &str) -> Result<Done, Failure> {
    let config = aws.require(tenant).await?;
    let doc = aws.stored_secrets(tenant).await?;
    let count = |k: SecretKind| {
        doc.get(k.field())
            .and_then(Value::as_array)
            .map_or(0, Vec::len)
    };
    let secrets = json!({
        "stripe_key": doc.contains_key("stripe_key_ciphertext"),
        "identity": count(SecretKind::Identity),
        "user-hash": count(SecretKind::UserHash),
        "agent": count(SecretKind::Agent),
        "webhook": count(SecretKind::Webhook),
        "panel": count(SecretKind::Panel),
    });
    let text = vec![
        serde_json::to_string_pretty(&config).unwrap_or_default(),
        format!("active secrets: {secrets}"),
    ];
    Ok(Done {
        json: json!({"tenant": tenant, "config": config, "secrets": secrets}),
        text,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn settings_are_checked_by_the_functions_own_type() {
        let c = TenantConfig::new("demo");
        let next = settle(
            &c,
            &[
                "policy.refunds_per_hour=5".into(),
                "allowed_origins=[\"https://shop.example.com\"]".into(),
                "return_url=https://shop.example.com/account".into(),
                "price_tiers.price_1=pro".into(),
            ],
        )
        .unwrap();
        assert_eq!(next.policy.refunds_per_hour, 5);
        assert_eq!(next.allowed_origins, ["https://shop.example.com"]);
        assert_eq!(
            next.return_url.as_deref(),
            Some("https://shop.example.com/account")
        );
        assert_eq!(next.price_tiers["price_1"], "pro");
        for bad in [
            "policy.refunds_per_hr=5",
            "nonsense=1",
            "policy.refunds_per_hour=-1",
            "policy.refunds_per_hour=lots",
            "enabled_tools=[\"drop_tables\"]",
            "disabled_tools=[\"resend_invoice\"]",
            "allowed_origins=[\"https://shop.example.com/path\"]",
            "livemode=true",
            "key_unserved_tools=[]",
            "tenant=other",
            "no_equals_sign",
        ] {
            let e = settle(&c, &[bad.into()]).unwrap_err();
            assert_eq!(e.exit_code(), 2, "{bad}: {e}");
        }
    }

    #[test]
    fn weakening_values_are_refused() {
        let c = TenantConfig::new("demo");
        for bad in [
            "policy.duplicate_window_secs=0",
            "policy.refunds_per_customer_per_hour=1000",
            "policy.confirmation_ttl_secs=86400000",
            "policy.pauses_per_year=100",
            "return_url=http://shop.example.com/account",
            "return_url=javascript:alert(1)",
            "rate_limits.per_visitor_per_minute=100000",
            "rate_limits.per_visitor_per_minute=0",
        ] {
            let e = settle(&c, &[bad.into()]).unwrap_err();
            assert_eq!(e.exit_code(), 4, "{bad}: {e}");
        }
        let local = settle(&c, &["return_url=http://localhost:8080/account".into()]).unwrap();
        assert_eq!(
            local.return_url.as_deref(),
            Some("http://localhost:8080/account")
        );
    }

    #[test]
    fn an_old_config_keeps_what_it_served_and_lists_it_once_touched() {
        let old: TenantConfig = serde_json::from_value(serde_json::json!({
            "tenant": "demo", "disabled_tools": ["resend_invoice"]
        }))
        .unwrap();
        assert!(registry::served(&old, "request_refund"));
        assert!(!registry::served(&old, "resend_invoice"));
        assert!(!old.serves("a_tool_of_a_later_release", false));
        let next = settle(&old, &["policy.refunds_per_hour=5".into()]).unwrap();
        let listed = next.enabled_tools.clone().unwrap();
        assert!(listed.contains(&"request_refund".to_string()));
        assert!(!listed.contains(&"resend_invoice".to_string()));
        let stored = serde_json::to_value(&next).unwrap();
        assert!(stored.get("disabled_tools").is_none(), "{stored}");
    }

    #[test]
    fn durations() {
        assert_eq!(duration_secs("90s"), Some(90));
        assert_eq!(duration_secs("30m"), Some(1800));
        assert_eq!(duration_secs("24h"), Some(86_400));
        assert_eq!(duration_secs("7d"), Some(604_800));
        for bad in ["", "h", "0h", "-1h", "5w", "1.5h", "99999999999999999d"] {
            assert_eq!(duration_secs(bad), None, "{bad}");
        }
    }
}
