//! Customers: create, retrieve, update, delete, list, search.

use serde_json::{Map, Value, json};

use super::{payment_methods, subscriptions};
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, allow_nested, apply_metadata, opt_obj, opt_str};
use crate::render::render;
use crate::search;
use crate::store::Ctx;
use crate::store::{new_id, random_hex_upper};

const WRITABLE: &[&str] = &[
    "email",
    "name",
    "business_name",
    "individual_name",
    "phone",
    "description",
    "address",
    "metadata",
    "balance",
    "invoice_settings",
    "preferred_locales",
    "tax_exempt",
];

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = WRITABLE.to_vec();
    allowed.extend(["payment_method", "invoice_prefix"]);
    p.allow(&allowed)?;
    let id = new_id("cus");
    let prefix = match p.str("invoice_prefix")? {
        Some(s) if (3..=12).contains(&s.len()) && s.chars().all(|c| c.is_ascii_alphanumeric()) => {
            s.to_uppercase()
        }
        Some(_) => {
            return Err(ApiError::invalid_param(
                "invoice_prefix",
                "Invoice prefix must be 3-12 uppercase letters or numbers.",
            ));
        }
        None => random_hex_upper(8),
    };
    let mut cus = json!({
        "id": id, "object": "customer", "address": null, "balance": 0, "created": ctx.now,
        "currency": null, "default_source": null, "delinquent": false, "description": null,
        "discount": null, "email": null, "invoice_prefix": prefix,
        "invoice_settings": {
            "custom_fields": null, "default_payment_method": null, "footer": null,
            "rendering_options": null,
        },
        "livemode": false, "metadata": {}, "name": null, "next_invoice_sequence": 1,
        "phone": null, "preferred_locales": [], "shipping": null, "tax_exempt": "none",
        "test_clock": null, "business_name": null, "individual_name": null,
        "customer_account": null,
    });
    apply_fields(&mut cus, p)?;
    ctx.acct.put(cus);
    // The token given as `payment_method` may also be named as the default, as in Stripe's docs.
    let mut token_alias = None;
    if let Some(pm) = p.str("payment_method")? {
        let attached = payment_methods::attach_to(ctx, &pm, &id, "payment_method")?;
        token_alias = Some((pm, attached));
    }
    set_default_pm(ctx, &id, p, token_alias)?;
    ctx.acct.fetch("customer", &id, "id")
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch("customer", id, "id")
}

pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(WRITABLE)?;
    let mut cus = ctx.acct.fetch_live("customer", id, "id")?;
    apply_fields(&mut cus, p)?;
    ctx.acct.put(cus);
    set_default_pm(ctx, id, p, None)?;
    ctx.acct.fetch("customer", id, "id")
}

pub fn delete(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch_live("customer", id, "id")?;
    // Deleting a customer cancels their subscriptions immediately, as Stripe does.
    let subs: Vec<String> = ctx
        .acct
        .all("subscription")
        .into_iter()
        .filter(|s| s["customer"] == id && s["status"] != "canceled")
        .filter_map(|s| s["id"].as_str().map(String::from))
        .collect();
    for sub in subs {
        subscriptions::end_now(ctx, &sub);
    }
    let tombstone = json!({ "id": id, "object": "customer", "deleted": true });
    ctx.acct.update(id, |c| *c = tombstone.clone());
    Ok(tombstone)
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["email", "created", "test_clock"]);
    p.allow(&allowed)?;
    let email = p.str("email")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "customer", p, "/v1/customers", |c| {
        c["deleted"] != true
            && email.as_deref().is_none_or(|e| c["email"] == e)
            && created(c["created"].as_i64().unwrap_or(0))
    })
}

pub fn search(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&["query", "limit", "page"])?;
    let query = search::parse(&p.req_str("query")?, &["email", "name", "phone"])?;
    let matched: Vec<Value> = ctx
        .acct
        .all("customer")
        .into_iter()
        .filter(|c| c["deleted"] != true && query.matches(c))
        .map(|c| render(ctx.acct, c))
        .collect();
    search::page(matched, p, "/v1/customers/search")
}

fn apply_fields(cus: &mut Value, p: &Params) -> ApiResult<()> {
    for field in [
        "email",
        "name",
        "phone",
        "description",
        "business_name",
        "individual_name",
    ] {
        if p.has(field) {
            cus[field] = json!(p.str(field)?);
        }
    }
    if let Some(balance) = p.int("balance")? {
        cus["balance"] = json!(balance);
    }
    if let Some(tax_exempt) = p.str("tax_exempt")? {
        if !["none", "exempt", "reverse"].contains(&tax_exempt.as_str()) {
            return Err(ApiError::invalid_param(
                "tax_exempt",
                format!("Invalid tax_exempt: {tax_exempt}"),
            ));
        }
        cus["tax_exempt"] = json!(tax_exempt);
    }
    if p.has("preferred_locales") {
        cus["preferred_locales"] = json!(crate::params::str_list(
            p.get("preferred_locales"),
            "preferred_locales"
        )?);
    }
    if let Some(address) = opt_obj(p.get("address"), "address")? {
        cus["address"] = match address {
            None => Value::Null,
            Some(a) => address_value(a, "address")?,
        };
    }
    apply_metadata(&mut cus["metadata"], p.get("metadata"))?;
    Ok(())
}

pub fn address_value(a: &Map<String, Value>, name: &str) -> ApiResult<Value> {
    let keys = ["city", "country", "line1", "line2", "postal_code", "state"];
    allow_nested(a, name, &keys)?;
    let mut out = Map::new();
    for k in keys {
        out.insert(k.into(), json!(opt_str(a.get(k), &format!("{name}[{k}]"))?));
    }
    Ok(Value::Object(out))
}

fn set_default_pm(
    ctx: &mut Ctx,
    customer: &str,
    p: &Params,
    alias: Option<(String, String)>,
) -> ApiResult<()> {
    let Some(settings) = opt_obj(p.get("invoice_settings"), "invoice_settings")? else {
        return Ok(());
    };
    let Some(settings) = settings else {
        return Ok(());
    };
    allow_nested(
        settings,
        "invoice_settings",
        &[
            "default_payment_method",
            "custom_fields",
            "footer",
            "rendering_options",
        ],
    )?;
    if let Some(footer) = opt_str(settings.get("footer"), "invoice_settings[footer]")? {
        ctx.acct.update(customer, |c| {
            c["invoice_settings"]["footer"] = json!(footer)
        });
    }
    let param = "invoice_settings[default_payment_method]";
    if !settings.contains_key("default_payment_method") {
        return Ok(());
    }
    let pm = match opt_str(settings.get("default_payment_method"), param)? {
        None => None,
        Some(pm) => {
            let pm = match &alias {
                Some((token, real)) if *token == pm => real.clone(),
                _ => pm,
            };
            payment_methods::require_attached(ctx, &pm, customer, param)?;
            Some(pm)
        }
    };
    ctx.acct.update(customer, |c| {
        c["invoice_settings"]["default_payment_method"] = json!(pm)
    });
    Ok(())
}
