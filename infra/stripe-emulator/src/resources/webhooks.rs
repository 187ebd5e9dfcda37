//! Webhook endpoints (`/v1/webhook_endpoints`: create, list, retrieve, update, delete; the
//! `whsec_` secret is shown only when created, as Stripe does) and the events the account
//! emitted (`/v1/events`: list, retrieve).
use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, apply_metadata, str_list};
use crate::store::Ctx;
use crate::store::{new_id, random_alnum};

fn events_of(p: &Params) -> ApiResult<Vec<String>> {
    let events = str_list(p.get("enabled_events"), "enabled_events")?;
    if events.is_empty() {
        return Err(ApiError::missing("enabled_events"));
    }
    Ok(events)
}

fn url_of(p: &Params) -> ApiResult<Option<String>> {
    match p.str("url")? {
        Some(u) if u.starts_with("http://") || u.starts_with("https://") => Ok(Some(u)),
        Some(_) => Err(ApiError::invalid_param(
            "url",
            "Invalid URL: must be http(s)",
        )),
        None => Ok(None),
    }
}

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "url",
        "enabled_events",
        "description",
        "metadata",
        "api_version",
        "connect",
    ])?;
    let url = url_of(p)?.ok_or_else(|| ApiError::missing("url"))?;
    let enabled = events_of(p)?;
    let mut metadata = json!({});
    apply_metadata(&mut metadata, p.get("metadata"))?;
    let endpoint = json!({
        "id": new_id("we"), "object": "webhook_endpoint", "api_version": p.str("api_version")?,
        "application": null, "created": ctx.now, "description": p.str("description")?,
        "enabled_events": enabled, "livemode": false, "metadata": metadata,
        "secret": format!("whsec_{}", random_alnum(32)), "status": "enabled", "url": url,
    });
    ctx.acct.put(endpoint.clone());
    Ok(endpoint)
}

pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "url",
        "enabled_events",
        "description",
        "metadata",
        "disabled",
    ])?;
    retrieve(ctx, id, &Params::default())?;
    let url = url_of(p)?;
    let enabled = if p.has("enabled_events") {
        Some(events_of(p)?)
    } else {
        None
    };
    let disabled = p.bool("disabled")?;
    let description = p.str("description")?;
    let mut metadata = ctx
        .acct
        .get(id)
        .map(|e| e["metadata"].clone())
        .unwrap_or(json!({}));
    apply_metadata(&mut metadata, p.get("metadata"))?;
    ctx.acct.update(id, |e| {
        if let Some(u) = url {
            e["url"] = json!(u);
        }
        if let Some(l) = enabled {
            e["enabled_events"] = json!(l);
        }
        if let Some(d) = disabled {
            e["status"] = json!(if d { "disabled" } else { "enabled" });
        }
        if description.is_some() {
            e["description"] = json!(description);
        }
        e["metadata"] = metadata;
    });
    retrieve(ctx, id, &Params::default())
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    let e = ctx.acct.fetch("webhook_endpoint", id, "id")?;
    if e["status"] == "deleted" {
        return Err(ApiError::no_such("webhook_endpoint", id, "id"));
    }
    Ok(crate::render::render(ctx.acct, &e))
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(PAGING)?;
    list::page(
        ctx.acct,
        "webhook_endpoint",
        p,
        "/v1/webhook_endpoints",
        |e| e["status"] != "deleted",
    )
}

pub fn delete(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    retrieve(ctx, id, p)?;
    let tombstone = json!({"id": id, "object": "webhook_endpoint", "deleted": true});
    // Kept as a tombstone that lists skip, so deliveries stop at once.
    ctx.acct.update(id, |e| {
        e["status"] = json!("deleted");
    });
    Ok(tombstone)
}

pub fn list_events(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["type", "types", "created", "delivery_success"]);
    p.allow(&allowed)?;
    let kind = p.str("type")?;
    let kinds = str_list(p.get("types"), "types")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "event", p, "/v1/events", |e| {
        let t = e["type"].as_str().unwrap_or_default();
        let matches = |pattern: &str| match pattern.strip_suffix('*') {
            Some(prefix) => t.starts_with(prefix),
            None => t == pattern,
        };
        kind.as_deref().is_none_or(matches)
            && (kinds.is_empty() || kinds.iter().any(|k| matches(k)))
            && created(e["created"].as_i64().unwrap_or(0))
    })
}
