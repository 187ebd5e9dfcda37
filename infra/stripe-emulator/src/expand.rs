//! `expand[]`: replaces id strings by their stored objects, following dotted paths.
//!
//! Only fields Stripe marks expandable may be expanded (the table below, from Stripe's
//! `ExpandableField`s); any other field answers Stripe's 400, whatever its value. Fields
//! Stripe only "includes" on request (`customer.subscriptions`, `invoice.payments`) are
//! computed here. Paths walk through lists (`data`), embedded objects and arrays of objects;
//! a field is named relative to the nearest object with an `object` type, e.g.
//! `invoice_settings.default_payment_method` on a customer.

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::render::render;
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
            return Err(cannot(path));
        }
    }
    Ok(())
}

fn cannot(path: &str) -> ApiError {
    ApiError::invalid(format!("This property cannot be expanded ({path}).")).with_param("expand")
}

/// Whether `field` (relative to an object of type `kind`) is expandable or includable.
fn expandable(kind: &str, field: &str) -> bool {
    let fields: &[&str] = match kind {
        "customer" => &[
            "default_source",
            "invoice_settings.default_payment_method",
            "test_clock",
            // Includable lists.
            "subscriptions",
            "sources",
            "tax_ids",
        ],
        "subscription" => &[
            "application",
            "customer",
            "default_payment_method",
            "default_source",
            "discounts",
            "latest_invoice",
            "on_behalf_of",
            "pending_setup_intent",
            "schedule",
            "test_clock",
            "transfer_data.destination",
            "automatic_tax.liability.account",
            "invoice_settings.issuer.account",
            "pending_update.discounts",
        ],
        "subscription_item" => &["discounts"],
        "invoice" => &[
            "account_tax_ids",
            "application",
            "customer",
            "default_payment_method",
            "default_source",
            "discounts",
            "latest_revision",
            "on_behalf_of",
            "test_clock",
            "from_invoice.invoice",
            "issuer.account",
            "automatic_tax.liability.account",
            "parent.subscription_details.subscription",
            "total_discount_amounts.discount",
            "total_pretax_credit_amounts.discount",
            "shipping_cost.shipping_rate",
            "payments",
        ],
        "line_item" => &[
            "discounts",
            "subscription",
            "discount_amounts.discount",
            "pretax_credit_amounts.discount",
            "pricing.price_details.price",
        ],
        "invoiceitem" => &[
            "customer",
            "discounts",
            "invoice",
            "test_clock",
            "pricing.price_details.price",
        ],
        "invoice_payment" => &[
            "invoice",
            "payment.charge",
            "payment.payment_intent",
            "payment.payment_record",
        ],
        "payment_intent" => &[
            "application",
            "customer",
            "latest_charge",
            "on_behalf_of",
            "payment_method",
            "review",
            "source",
        ],
        "charge" => &[
            "application",
            // Includable since 2022-11-15.
            "refunds",
            "application_fee",
            "balance_transaction",
            "customer",
            "failure_balance_transaction",
            "on_behalf_of",
            "payment_intent",
            "review",
            "source_transfer",
            "transfer",
        ],
        "payment_method" => &["customer"],
        "price" | "plan" => &["product"],
        "product" => &["default_price", "tax_code"],
        "balance_transaction" => &["source"],
        "customer_balance_transaction" => {
            &["checkout_session", "credit_note", "customer", "invoice"]
        }
        "promotion_code" => &["customer", "promotion.coupon"],
        // Includable: Stripe sends them only when asked for.
        "coupon" => &["applies_to", "currency_options"],
        "discount" => &["customer", "promotion_code", "source.coupon"],
        "billing_portal.session" => &["configuration"],
        _ => &[],
    };
    fields.contains(&field)
}

pub fn apply(acct: &Account, value: &mut Value, paths: &[String]) -> ApiResult<()> {
    for path in paths {
        let segments: Vec<&str> = path.split('.').collect();
        walk(acct, value, &segments, "", "", path)?;
    }
    Ok(())
}

/// Expands `segments` inside `node`. `kind` is the type of the nearest typed object and
/// `prefix` the path from it to `node` (`"invoice_settings."`), for embedded objects.
fn walk(
    acct: &Account,
    node: &mut Value,
    segments: &[&str],
    kind: &str,
    prefix: &str,
    path: &str,
) -> ApiResult<()> {
    let Some((first, rest)) = segments.split_first() else {
        return Ok(());
    };
    let Some(obj) = node.as_object_mut() else {
        return Ok(());
    };
    let (kind, prefix) = match obj.get("object").and_then(Value::as_str) {
        Some("list" | "search_result") => {
            if *first != "data" {
                return Err(cannot(path));
            }
            if let Some(items) = obj.get_mut("data").and_then(Value::as_array_mut) {
                for item in items {
                    walk(acct, item, rest, "", "", path)?;
                }
            }
            return Ok(());
        }
        Some(k) => (k.to_string(), String::new()),
        None => (kind.to_string(), prefix.to_string()),
    };
    let field = format!("{prefix}{first}");
    let allowed = expandable(&kind, &field);
    if !obj.contains_key(*first) {
        let id = obj.get("id").and_then(Value::as_str).unwrap_or_default();
        let included = allowed
            .then(|| includable(acct, &kind, first, id))
            .flatten()
            .ok_or_else(|| cannot(path))?;
        obj.insert((*first).to_string(), included);
    }
    let Some(value) = obj.get_mut(*first) else {
        return Ok(());
    };
    let nested = format!("{field}.");
    match value {
        // Nothing to expand; a path through an empty embedded object (a customer's
        // `discount`) ends here too.
        Value::Null if allowed || !rest.is_empty() => Ok(()),
        Value::String(_) if allowed => expand_id(acct, value, rest, path),
        Value::Array(items) => {
            for item in items {
                match item {
                    Value::String(_) if allowed => expand_id(acct, item, rest, path)?,
                    Value::Object(_) if allowed || !rest.is_empty() => {
                        walk(acct, item, rest, &kind, &nested, path)?
                    }
                    _ => return Err(cannot(path)),
                }
            }
            if !allowed && rest.is_empty() {
                return Err(cannot(path));
            }
            Ok(())
        }
        // An embedded object (or one expanded by an earlier path): walk into it.
        Value::Object(_) if allowed || !rest.is_empty() => {
            walk(acct, value, rest, &kind, &nested, path)
        }
        _ => Err(cannot(path)),
    }
}

/// Replaces a stored id by its object and goes on with `rest`; ids we never stored stay.
fn expand_id(acct: &Account, field: &mut Value, rest: &[&str], path: &str) -> ApiResult<()> {
    let Some(stored) = field.as_str().and_then(|id| acct.get(id)) else {
        return Ok(());
    };
    *field = render(acct, stored);
    walk(acct, field, rest, "", "", path)
}

fn includable(acct: &Account, kind: &str, field: &str, id: &str) -> Option<Value> {
    if crate::render::INCLUDABLE.contains(&(kind, field)) {
        return acct.get(id).map(|stored| stored[field].clone());
    }
    match (kind, field) {
        // Sources and tax ids the emulator never makes: the customer's empty lists.
        ("customer", "sources" | "tax_ids") => Some(json!({
            "object": "list", "data": [], "has_more": false,
            "url": format!("/v1/customers/{id}/{field}"),
        })),
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

#[cfg(test)]
mod tests {
    use super::*;

    fn acct() -> Account {
        let mut a = Account::default();
        a.put(
            json!({"id": "cus_1", "object": "customer", "email": "a@x.com",
                     "invoice_settings": {"default_payment_method": "pm_1"}}),
        );
        a.put(json!({"id": "pm_1", "object": "payment_method", "customer": "cus_1"}));
        a.put(json!({"id": "C1", "object": "coupon", "percent_off": 10.0}));
        a.put(json!({"id": "di_1", "object": "discount", "source": {"coupon": "C1", "type": "coupon"}}));
        a
    }

    fn expand(v: &mut Value, path: &str) -> ApiResult<()> {
        apply(&acct(), v, &[path.to_string()])
    }

    #[test]
    fn expandable_fields_expand_and_others_are_400() {
        let mut sub = json!({"id": "sub_1", "object": "subscription", "customer": "cus_1",
                             "status": "active", "description": null, "discounts": ["di_1"],
                             "items": {"object": "list", "data": [
                                 {"id": "si_1", "object": "subscription_item",
                                  "price": {"id": "price_1", "object": "price", "product": "prod_x"}}]}});
        expand(&mut sub, "customer.invoice_settings.default_payment_method").expect("ok");
        assert_eq!(
            sub["customer"]["invoice_settings"]["default_payment_method"]["object"],
            "payment_method"
        );
        expand(&mut sub, "discounts.source.coupon").expect("ok");
        assert_eq!(sub["discounts"][0]["source"]["coupon"]["percent_off"], 10.0);
        // Unknown-but-id-shaped values stay ids.
        expand(&mut sub, "items.data.price.product").expect("ok");
        assert_eq!(sub["items"]["data"][0]["price"]["product"], "prod_x");
        for bad in [
            "status",
            "description",
            "id",
            "items",
            "items.data.price",
            "customer.email",
        ] {
            let err = expand(&mut sub, bad).expect_err(bad);
            assert_eq!(
                err.message,
                format!("This property cannot be expanded ({bad}).")
            );
        }
        let mut list = json!({"object": "list", "data": [{"id": "ch_1", "object": "charge", "customer": "cus_1"}]});
        expand(&mut list, "data.customer").expect("ok");
        assert_eq!(list["data"][0]["customer"]["id"], "cus_1");
        assert!(expand(&mut list, "customer").is_err());
    }
}
