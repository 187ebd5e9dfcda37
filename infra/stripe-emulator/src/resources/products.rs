//! Products: create, retrieve, update, list.

use serde_json::{Value, json};

use crate::errors::ApiResult;
use crate::list::{self, PAGING};
use crate::params::{Params, apply_metadata, str_list};
use crate::store::Ctx;
use crate::store::new_id;

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "name",
        "description",
        "metadata",
        "active",
        "id",
        "unit_label",
        "url",
    ])?;
    let name = p.req_str("name")?;
    let id = p.str("id")?.unwrap_or_else(|| new_id("prod"));
    if ctx.acct.get(&id).is_some() {
        return Err(crate::errors::ApiError::invalid_param(
            "id",
            format!("Product already exists: {id}"),
        ));
    }
    let mut prod = json!({
        "id": id, "object": "product", "active": p.bool("active")?.unwrap_or(true),
        "created": ctx.now, "default_price": null, "description": p.str("description")?,
        "images": [], "livemode": false, "marketing_features": [], "metadata": {},
        "name": name, "package_dimensions": null, "shippable": null,
        "statement_descriptor": null, "tax_code": null, "unit_label": p.str("unit_label")?,
        "updated": ctx.now, "url": p.str("url")?, "type": "service",
    });
    apply_metadata(&mut prod["metadata"], p.get("metadata"))?;
    ctx.acct.put(prod.clone());
    Ok(prod)
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch("product", id, "id")
}

pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "name",
        "description",
        "metadata",
        "active",
        "default_price",
        "unit_label",
        "url",
    ])?;
    let mut prod = ctx.acct.fetch("product", id, "id")?;
    for field in ["description", "unit_label", "url"] {
        if p.has(field) {
            prod[field] = json!(p.str(field)?);
        }
    }
    if let Some(name) = p.str("name")? {
        prod["name"] = json!(name);
    }
    if let Some(active) = p.bool("active")? {
        prod["active"] = json!(active);
    }
    if p.has("default_price") {
        let price = p.str("default_price")?;
        if let Some(price) = &price {
            ctx.acct.fetch("price", price, "default_price")?;
        }
        prod["default_price"] = json!(price);
    }
    apply_metadata(&mut prod["metadata"], p.get("metadata"))?;
    prod["updated"] = json!(ctx.now);
    ctx.acct.put(prod.clone());
    Ok(prod)
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["active", "ids", "created", "shippable", "url"]);
    p.allow(&allowed)?;
    let active = p.bool("active")?;
    let ids = str_list(p.get("ids"), "ids")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "product", p, "/v1/products", |v| {
        active.is_none_or(|a| v["active"] == a)
            && (ids.is_empty() || ids.iter().any(|i| v["id"] == i.as_str()))
            && created(v["created"].as_i64().unwrap_or(0))
    })
}
