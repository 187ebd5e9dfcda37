//! Prices: create (with `product` or `product_data`), retrieve, update, list.

use serde_json::{Value, json};

use super::products;
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, allow_nested, apply_metadata, opt_int, opt_obj, opt_str, str_list};
use crate::store::Ctx;
use crate::store::new_id;

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "currency",
        "unit_amount",
        "unit_amount_decimal",
        "product",
        "product_data",
        "recurring",
        "nickname",
        "lookup_key",
        "active",
        "metadata",
        "tax_behavior",
        "transfer_lookup_key",
        "billing_scheme",
    ])?;
    let currency = p.req_str("currency")?.to_lowercase();
    let unit_amount = match (p.int("unit_amount")?, p.str("unit_amount_decimal")?) {
        (Some(a), _) => a,
        (None, Some(d)) => d
            .parse::<f64>()
            .map(|f| f.round() as i64)
            .map_err(|_| ApiError::invalid_param("unit_amount_decimal", "Invalid decimal"))?,
        (None, None) => return Err(ApiError::missing("unit_amount")),
    };
    if unit_amount < 0 {
        return Err(ApiError::invalid_param(
            "unit_amount",
            "This value must be greater than or equal to 0.",
        ));
    }
    let product = product_for(ctx, p)?;
    let recurring = recurring_of(p)?;
    let lookup_key = p.str("lookup_key")?;
    if let Some(key) = &lookup_key {
        let taken: Vec<String> = ctx
            .acct
            .all("price")
            .into_iter()
            .filter(|v| v["lookup_key"] == key.as_str())
            .filter_map(|v| v["id"].as_str().map(String::from))
            .collect();
        if !taken.is_empty() && p.bool("transfer_lookup_key")? != Some(true) {
            return Err(ApiError::invalid_param(
                "lookup_key",
                format!("A price (`{}`) already uses that lookup key.", taken[0]),
            ));
        }
        for id in taken {
            ctx.acct.update(&id, |v| v["lookup_key"] = Value::Null);
        }
    }
    let kind = if recurring.is_null() {
        "one_time"
    } else {
        "recurring"
    };
    let mut price = json!({
        "id": new_id("price"), "object": "price", "active": p.bool("active")?.unwrap_or(true),
        "billing_scheme": "per_unit", "created": ctx.now, "currency": currency,
        "custom_unit_amount": null, "livemode": false, "lookup_key": lookup_key,
        "metadata": {}, "nickname": p.str("nickname")?, "product": product,
        "recurring": recurring,
        "tax_behavior": p.str("tax_behavior")?.unwrap_or_else(|| "unspecified".into()),
        "tiers_mode": null, "transform_quantity": null, "type": kind,
        "unit_amount": unit_amount, "unit_amount_decimal": unit_amount.to_string(),
    });
    apply_metadata(&mut price["metadata"], p.get("metadata"))?;
    ctx.acct.put(price.clone());
    Ok(price)
}

fn product_for(ctx: &mut Ctx, p: &Params) -> ApiResult<String> {
    if let Some(product) = p.str("product")? {
        ctx.acct.fetch("product", &product, "product")?;
        return Ok(product);
    }
    let Some(Some(data)) = opt_obj(p.get("product_data"), "product_data")? else {
        return Err(ApiError::missing("product"));
    };
    allow_nested(
        data,
        "product_data",
        &["name", "metadata", "active", "unit_label", "id"],
    )?;
    let mut inner = Params::default();
    for (k, v) in data {
        inner.0.insert(k.clone(), v.clone());
    }
    if !inner.has("name") {
        return Err(ApiError::missing("product_data[name]"));
    }
    let created = products::create(ctx, &inner)?;
    Ok(created["id"].as_str().unwrap_or_default().to_string())
}

fn recurring_of(p: &Params) -> ApiResult<Value> {
    let Some(Some(r)) = opt_obj(p.get("recurring"), "recurring")? else {
        return Ok(Value::Null);
    };
    allow_nested(
        r,
        "recurring",
        &[
            "interval",
            "interval_count",
            "usage_type",
            "trial_period_days",
            "meter",
        ],
    )?;
    let interval = opt_str(r.get("interval"), "recurring[interval]")?
        .ok_or_else(|| ApiError::missing("recurring[interval]"))?;
    if !["day", "week", "month", "year"].contains(&interval.as_str()) {
        return Err(ApiError::invalid_param(
            "recurring[interval]",
            format!(
                "Invalid recurring[interval]: must be one of day, week, month, or year; got {interval}"
            ),
        ));
    }
    let count = opt_int(r.get("interval_count"), "recurring[interval_count]")?.unwrap_or(1);
    let max = match interval.as_str() {
        "day" => 1095,
        "week" => 156,
        "month" => 36,
        _ => 3,
    };
    if !(1..=max).contains(&count) {
        return Err(ApiError::invalid_param(
            "recurring[interval_count]",
            "The maximum billing interval is three years.",
        ));
    }
    let trial = opt_int(r.get("trial_period_days"), "recurring[trial_period_days]")?;
    Ok(json!({
        "interval": interval, "interval_count": count, "meter": null,
        "usage_type": "licensed", "trial_period_days": trial,
    }))
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch("price", id, "id")
}

pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "active",
        "metadata",
        "nickname",
        "lookup_key",
        "tax_behavior",
    ])?;
    let mut price = ctx.acct.fetch("price", id, "id")?;
    if let Some(active) = p.bool("active")? {
        price["active"] = json!(active);
    }
    for field in ["nickname", "lookup_key"] {
        if p.has(field) {
            price[field] = json!(p.str(field)?);
        }
    }
    apply_metadata(&mut price["metadata"], p.get("metadata"))?;
    ctx.acct.put(price.clone());
    Ok(price)
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend([
        "active",
        "product",
        "type",
        "currency",
        "lookup_keys",
        "created",
        "recurring",
    ]);
    p.allow(&allowed)?;
    let active = p.bool("active")?;
    let product = p.str("product")?;
    let kind = p.str("type")?;
    let currency = p.str("currency")?.map(|c| c.to_lowercase());
    let keys = str_list(p.get("lookup_keys"), "lookup_keys")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "price", p, "/v1/prices", |v| {
        active.is_none_or(|a| v["active"] == a)
            && product.as_deref().is_none_or(|x| v["product"] == x)
            && kind.as_deref().is_none_or(|x| v["type"] == x)
            && currency.as_deref().is_none_or(|x| v["currency"] == x)
            && (keys.is_empty() || keys.iter().any(|k| v["lookup_key"] == k.as_str()))
            && created(v["created"].as_i64().unwrap_or(0))
    })
}
