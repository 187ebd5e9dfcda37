//! List pagination (`limit`, `starting_after`, `ending_before`) and the `created` range filter.

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::params::{Params, opt_int};
use crate::render::render;
use crate::store::{Account, label};

/// Parameters every list endpoint accepts besides its own filters.
pub const PAGING: &[&str] = &["limit", "starting_after", "ending_before"];

pub fn limit(p: &Params) -> ApiResult<usize> {
    match p.int("limit")? {
        None => Ok(10),
        Some(n) if (1..=100).contains(&n) => Ok(n as usize),
        Some(_) => Err(ApiError::invalid_param(
            "limit",
            "Invalid limit: must be between 1 and 100",
        )),
    }
}

/// Pages over objects of `kind` that pass `keep`, newest first.
pub fn page(
    acct: &Account,
    kind: &str,
    p: &Params,
    url: &str,
    keep: impl Fn(&Value) -> bool,
) -> ApiResult<Value> {
    let limit = limit(p)?;
    let items: Vec<&Value> = acct.all(kind).into_iter().filter(|v| keep(v)).collect();
    let after = p.str("starting_after")?;
    let before = p.str("ending_before")?;
    let (slice, has_more): (Vec<&Value>, bool) = match (after, before) {
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: ending_before, starting_after.",
            ));
        }
        (Some(cursor), None) => {
            let key = cursor_key(acct, kind, &cursor, "starting_after")?;
            let older: Vec<&Value> = items
                .into_iter()
                .filter(|v| acct.sort_key(v) < key)
                .collect();
            let more = older.len() > limit;
            (older.into_iter().take(limit).collect(), more)
        }
        (None, Some(cursor)) => {
            let key = cursor_key(acct, kind, &cursor, "ending_before")?;
            let newer: Vec<&Value> = items
                .into_iter()
                .filter(|v| acct.sort_key(v) > key)
                .collect();
            let more = newer.len() > limit;
            let start = newer.len().saturating_sub(limit);
            (newer[start..].to_vec(), more)
        }
        (None, None) => {
            let more = items.len() > limit;
            (items.into_iter().take(limit).collect(), more)
        }
    };
    let data: Vec<Value> = slice.into_iter().map(|v| render(acct, v)).collect();
    Ok(json!({ "object": "list", "data": data, "has_more": has_more, "url": url }))
}

fn cursor_key(acct: &Account, kind: &str, id: &str, param: &str) -> ApiResult<(i64, u64)> {
    match acct.get(id) {
        Some(v) if v["object"] == kind => Ok(acct.sort_key(v)),
        _ => Err(ApiError::no_such(label(kind), id, param)),
    }
}

/// `created=<ts>` or `created[gt|gte|lt|lte]=<ts>`; returns a predicate on the timestamp.
pub fn range_filter(p: &Params, name: &str) -> ApiResult<impl Fn(i64) -> bool + use<>> {
    let mut bounds: Vec<(String, i64)> = Vec::new();
    match p.get(name) {
        None => {}
        Some(Value::Object(m)) => {
            for (op, v) in m {
                if !["gt", "gte", "lt", "lte"].contains(&op.as_str()) {
                    return Err(ApiError::unknown(&format!("{name}[{op}]")));
                }
                if let Some(n) = opt_int(Some(v), &format!("{name}[{op}]"))? {
                    bounds.push((op.clone(), n));
                }
            }
        }
        Some(v) => {
            if let Some(n) = opt_int(Some(v), name)? {
                bounds.push(("eq".into(), n));
            }
        }
    }
    Ok(move |t: i64| {
        bounds.iter().all(|(op, n)| match op.as_str() {
            "gt" => t > *n,
            "gte" => t >= *n,
            "lt" => t < *n,
            "lte" => t <= *n,
            _ => t == *n,
        })
    })
}

/// A list's `customer` filter, checked: Stripe answers a filter naming a customer it does
/// not have with `resource_missing` ("No such customer: 'cus_x'", `param: customer`), not
/// with an empty list.
pub fn customer_filter(acct: &Account, p: &Params) -> ApiResult<Option<String>> {
    let customer = p.str("customer")?;
    if let Some(c) = &customer {
        acct.fetch("customer", c, "customer")?;
    }
    Ok(customer)
}
