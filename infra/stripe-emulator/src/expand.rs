//! `expand[]`: replaces id strings by their stored objects, following dotted paths.
//!
//! Generic on purpose: any string field whose value is a stored id can be expanded, so new
//! resources need no expand code. Fields Stripe only "includes" on request
//! (`customer.subscriptions`, `invoice.payments`) are computed here.

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::resources::render;
use crate::store::Account;

pub const MAX_DEPTH: usize = 4;

pub fn check_depth(paths: &[String]) -> ApiResult<()> {
    for path in paths {
        if path.split('.').count() > MAX_DEPTH {
            return Err(ApiError::invalid(format!(
                "You cannot expand more than {MAX_DEPTH} levels of a property. Property: {path}"
            ))
            .with_param("expand"));
        }
        if path.split('.').any(str::is_empty) {
            return Err(
                ApiError::invalid(format!("This property cannot be expanded ({path})."))
                    .with_param("expand"),
            );
        }
    }
    Ok(())
}

pub fn apply(acct: &Account, value: &mut Value, paths: &[String]) -> ApiResult<()> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        walk(acct, value, &segments, path)?;
    }
    Ok(())
}

fn walk(acct: &Account, value: &mut Value, segments: &[&str], path: &str) -> ApiResult<()> {
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    let cannot = || {
        ApiError::invalid(format!("This property cannot be expanded ({path})."))
            .with_param("expand")
    };
    let Some(obj) = value.as_object_mut() else {
        return Ok(());
    };
    if !obj.contains_key(*first) {
        let kind = obj
            .get("object")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
        let included = includable(acct, kind, first, id).ok_or_else(cannot)?;
        obj.insert((*first).to_string(), included);
    }
    let Some(field) = obj.get_mut(*first) else {
        return Ok(());
    };
    expand_field(acct, field, rest, path)
}

fn expand_field(acct: &Account, field: &mut Value, rest: &[&str], path: &str) -> ApiResult<()> {
    match field {
        Value::Null => Ok(()),
        Value::String(id) => {
            let Some(stored) = acct.get(id) else {
                // Stripe refuses to expand plain scalars; ids we never stored stay ids.
                return if looks_like_id(id) {
                    Ok(())
                } else {
                    Err(
                        ApiError::invalid(format!("This property cannot be expanded ({path})."))
                            .with_param("expand"),
                    )
                };
            };
            *field = render(acct, stored);
            walk(acct, field, rest, path)
        }
        Value::Array(items) => {
            for item in items {
                expand_field(acct, item, rest, path)?;
            }
            Ok(())
        }
        Value::Object(_) => walk(acct, field, rest, path),
        _ => Err(
            ApiError::invalid(format!("This property cannot be expanded ({path})."))
                .with_param("expand"),
        ),
    }
}

fn looks_like_id(s: &str) -> bool {
    s.split_once('_')
        .is_some_and(|(p, r)| !p.is_empty() && !r.is_empty() && !s.contains(' '))
}

fn includable(acct: &Account, kind: &str, field: &str, id: &str) -> Option<Value> {
    match (kind, field) {
        ("customer", "subscriptions") => {
            let data: Vec<Value> = acct
                .all("subscription")
                .into_iter()
                .filter(|s| s["customer"] == id && s["status"] != "canceled")
                .map(|s| render(acct, s))
                .collect();
            Some(json!({
                "object": "list", "data": data, "has_more": false,
                "total_count": data.len(), "url": format!("/v1/customers/{id}/subscriptions"),
            }))
        }
        ("invoice", "payments") => {
            let data: Vec<Value> = acct
                .all("invoice_payment")
                .into_iter()
                .filter(|p| p["invoice"] == id)
                .cloned()
                .collect();
            Some(json!({
                "object": "list", "data": data, "has_more": false,
                "total_count": data.len(), "url": format!("/v1/invoice_payments?invoice={id}"),
            }))
        }
        _ => None,
    }
}
