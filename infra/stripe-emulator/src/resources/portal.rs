//! Billing Portal sessions: `POST /v1/billing_portal/sessions` returns a short-lived URL.

use serde_json::{Map, Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::params::{Params, allow_nested, apply_metadata, opt_obj, opt_str};
use crate::store::Ctx;
use crate::store::{new_id, random_alnum};

/// `flow_data[type]`, as stripe-python 16.1.0's `SessionCreateParamsFlowData` lists them.
const FLOWS: &[&str] = &[
    "customer_update",
    "payment_method_update",
    "subscription_cancel",
    "subscription_pause",
    "subscription_update",
    "subscription_update_confirm",
];

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "customer",
        "return_url",
        "flow_data",
        "configuration",
        "locale",
        "on_behalf_of",
    ])?;
    let customer = p.req_str("customer")?;
    ctx.acct.fetch_live("customer", &customer, "customer")?;
    // Stripe refuses a session until the portal's settings were saved in the key's mode.
    let configuration = match p.str("configuration")? {
        Some(id) => ctx
            .acct
            .fetch("billing_portal.configuration", &id, "configuration")?,
        None => ctx
            .acct
            .all("billing_portal.configuration")
            .into_iter()
            .find(|c| c["is_default"] == true)
            .cloned()
            .ok_or_else(|| {
                ApiError::invalid(
                    "You can’t create a portal session in test mode until you save your customer portal settings in test mode at https://dashboard.stripe.com/test/settings/billing/portal.",
                )
            })?,
    };
    let return_url = p.str("return_url")?.or(configuration["default_return_url"]
        .as_str()
        .map(str::to_string));
    let flow = match opt_obj(p.get("flow_data"), "flow_data")? {
        Some(Some(f)) => Some(flow_value(ctx, &customer, f)?),
        _ => None,
    };
    Ok(json!({
        "id": new_id("bps"), "object": "billing_portal.session", "after_expiration": null,
        "configuration": configuration["id"], "created": ctx.now,
        "customer": customer, "customer_account": null, "flow": flow, "livemode": false,
        "locale": p.str("locale")?, "on_behalf_of": null, "return_url": return_url,
        "url": format!("https://billing.stripe.com/p/session/test_{}", random_alnum(40)),
    }))
}

fn flow_value(ctx: &Ctx, customer: &str, f: &Map<String, Value>) -> ApiResult<Value> {
    let mut allowed = vec!["type", "after_completion"];
    allowed.extend(FLOWS);
    allow_nested(f, "flow_data", &allowed)?;
    let kind = opt_str(f.get("type"), "flow_data[type]")?
        .ok_or_else(|| ApiError::missing("flow_data[type]"))?;
    if !FLOWS.contains(&kind.as_str()) {
        return Err(ApiError::invalid_param(
            "flow_data[type]",
            format!(
                "Invalid flow_data[type]: must be one of {}",
                FLOWS.join(", ")
            ),
        ));
    }
    let mut out = json!({
        "after_completion": after_completion(f.get("after_completion"))?,
        "customer_update": null, "subscription_cancel": null, "subscription_pause": null,
        "subscription_update": null, "subscription_update_confirm": null, "type": kind,
    });
    if kind == "customer_update" {
        // Stripe's `flow.customer_update` has no properties of its own.
        out["customer_update"] = json!({});
    }
    if kind.starts_with("subscription_") {
        let param = format!("flow_data[{kind}][subscription]");
        let details = match f.get(kind.as_str()) {
            Some(Value::Object(m)) => m,
            _ => return Err(ApiError::missing(&param)),
        };
        let sub_id = opt_str(details.get("subscription"), &param)?
            .ok_or_else(|| ApiError::missing(&param))?;
        let sub = ctx.acct.fetch("subscription", &sub_id, &param)?;
        if sub["customer"] != customer {
            return Err(ApiError::invalid_param(
                &param,
                format!("The subscription {sub_id} does not belong to customer {customer}."),
            ));
        }
        if sub["status"] == "canceled" {
            return Err(ApiError::invalid_param(
                &param,
                "You can't create a portal session for a canceled subscription.",
            ));
        }
        out[kind.as_str()] = if kind == "subscription_cancel" {
            json!({"retention": null, "subscription": sub_id})
        } else {
            json!({"subscription": sub_id})
        };
    }
    Ok(out)
}

fn after_completion(v: Option<&Value>) -> ApiResult<Value> {
    let Some(Some(m)) = opt_obj(v, "flow_data[after_completion]")? else {
        return Ok(
            json!({"hosted_confirmation": null, "redirect": null, "type": "portal_homepage"}),
        );
    };
    let name = "flow_data[after_completion]";
    allow_nested(m, name, &["type", "redirect", "hosted_confirmation"])?;
    let kind = opt_str(m.get("type"), &format!("{name}[type]"))?
        .ok_or_else(|| ApiError::missing(&format!("{name}[type]")))?;
    let redirect = match kind.as_str() {
        "redirect" => {
            let param = format!("{name}[redirect][return_url]");
            let url = match m.get("redirect") {
                Some(Value::Object(r)) => opt_str(r.get("return_url"), &param)?,
                _ => None,
            }
            .ok_or_else(|| ApiError::missing(&param))?;
            json!({"return_url": url})
        }
        "hosted_confirmation" | "portal_homepage" => Value::Null,
        other => {
            return Err(ApiError::invalid_param(
                &format!("{name}[type]"),
                format!("Invalid after_completion type: {other}"),
            ));
        }
    };
    let hosted = (kind == "hosted_confirmation").then(|| json!({"custom_message": null}));
    Ok(json!({"hosted_confirmation": hosted, "redirect": redirect, "type": kind}))
}

const CONFIG_PARAMS: &[&str] = &[
    "active",
    "business_profile",
    "default_return_url",
    "features",
    "login_page",
    "metadata",
    "name",
];

/// Merges `features[...]` as given into `target` (each feature's own keys; a product list
/// replaces the one held).
fn apply_features(target: &mut Value, p: &Params) -> ApiResult<()> {
    let Some(Some(features)) = opt_obj(p.get("features"), "features")? else {
        return Ok(());
    };
    allow_nested(
        features,
        "features",
        &[
            "customer_update",
            "invoice_history",
            "payment_method_update",
            "subscription_cancel",
            "subscription_pause",
            "subscription_update",
        ],
    )?;
    for (name, given) in features {
        let Value::Object(given) = given else {
            return Err(ApiError::invalid_param(
                &format!("features[{name}]"),
                "Invalid object",
            ));
        };
        for (k, v) in given {
            let v = match (k.as_str(), v) {
                ("enabled", Value::String(s)) => json!(s == "true"),
                ("products", Value::Array(list)) => Value::Array(
                    list.iter()
                        .map(|p| {
                            json!({"adjustable_quantity": {"enabled": false, "maximum": null, "minimum": 0},
                                   "prices": p["prices"], "product": p["product"]})
                        })
                        .collect(),
                ),
                _ => v.clone(),
            };
            target["features"][name.as_str()][k.as_str()] = v;
        }
    }
    Ok(())
}

fn apply_config(ctx: &mut Ctx, c: &mut Value, p: &Params) -> ApiResult<()> {
    apply_features(c, p)?;
    if let Some(url) = p.str("default_return_url")? {
        c["default_return_url"] = json!(url);
    }
    if let Some(name) = p.str("name")? {
        c["name"] = json!(name);
    }
    if let Some(active) = p.bool("active")? {
        c["active"] = json!(active);
    }
    apply_metadata(&mut c["metadata"], p.get("metadata"))?;
    c["updated"] = json!(ctx.now);
    Ok(())
}

pub fn create_configuration(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(CONFIG_PARAMS)?;
    let mut c = crate::seeded::portal_configuration(ctx.now);
    // Only the first configuration is the default.
    c["is_default"] = json!(ctx.acct.all("billing_portal.configuration").is_empty());
    apply_config(ctx, &mut c, p)?;
    ctx.acct.put(c.clone());
    Ok(c)
}

pub fn update_configuration(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(CONFIG_PARAMS)?;
    let mut c = ctx
        .acct
        .fetch("billing_portal.configuration", id, "configuration")?;
    apply_config(ctx, &mut c, p)?;
    ctx.acct.put(c.clone());
    Ok(c)
}

pub fn retrieve_configuration(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct
        .fetch("billing_portal.configuration", id, "configuration")
}

pub fn list_configurations(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = crate::list::PAGING.to_vec();
    allowed.extend(["active", "is_default"]);
    p.allow(&allowed)?;
    let active = p.bool("active")?;
    let is_default = p.bool("is_default")?;
    crate::list::page(
        ctx.acct,
        "billing_portal.configuration",
        p,
        "/v1/billing_portal/configurations",
        |c| {
            active.is_none_or(|a| c["active"] == a)
                && is_default.is_none_or(|d| c["is_default"] == d)
        },
    )
}
