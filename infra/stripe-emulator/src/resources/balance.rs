//! The customer balance ledger: `/v1/customers/{id}/balance_transactions`.

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, apply_metadata};
use crate::store::Ctx;
use crate::store::new_id;

/// Moves the customer's balance by `amount` and records why.
pub fn record(
    ctx: &mut Ctx,
    customer: &str,
    amount: i64,
    kind: &str,
    description: Option<String>,
    invoice: Option<&str>,
) -> String {
    let cus = ctx.acct.get(customer).cloned().unwrap_or(Value::Null);
    let ending = cus["balance"].as_i64().unwrap_or(0) + amount;
    let currency = cus["currency"].as_str().unwrap_or("usd").to_string();
    ctx.acct.update(customer, |c| {
        c["balance"] = json!(ending);
        if c["currency"].is_null() {
            c["currency"] = json!(currency);
        }
    });
    let id = new_id("cbtxn");
    ctx.acct.put(json!({
        "id": id, "object": "customer_balance_transaction", "amount": amount,
        "checkout_session": null, "created": ctx.now, "credit_note": null,
        "currency": currency, "customer": customer, "customer_account": null,
        "description": description, "ending_balance": ending, "invoice": invoice,
        "livemode": false, "metadata": {}, "type": kind,
    }));
    id
}

pub fn create(ctx: &mut Ctx, customer: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["amount", "currency", "description", "metadata"])?;
    let cus = ctx.acct.fetch_live("customer", customer, "customer")?;
    let amount = p
        .int("amount")?
        .ok_or_else(|| ApiError::missing("amount"))?;
    let currency = p.req_str("currency")?.to_lowercase();
    if let Some(existing) = cus["currency"].as_str()
        && existing != currency
    {
        return Err(ApiError::invalid_param(
            "currency",
            format!("The currency of this customer's balance is {existing}; use that currency."),
        ));
    }
    ctx.acct
        .update(customer, |c| c["currency"] = json!(currency));
    let id = record(
        ctx,
        customer,
        amount,
        "adjustment",
        p.str("description")?,
        None,
    );
    let mut meta = json!({});
    apply_metadata(&mut meta, p.get("metadata"))?;
    ctx.acct.update(&id, |t| t["metadata"] = meta);
    ctx.acct.fetch("customer_balance_transaction", &id, "id")
}

pub fn list(ctx: &mut Ctx, customer: &str, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["created", "invoice"]);
    p.allow(&allowed)?;
    ctx.acct.fetch_live("customer", customer, "customer")?;
    let invoice = p.str("invoice")?;
    let created = list::range_filter(p, "created")?;
    let url = format!("/v1/customers/{customer}/balance_transactions");
    list::page(ctx.acct, "customer_balance_transaction", p, &url, |t| {
        t["customer"] == customer
            && invoice.as_deref().is_none_or(|i| t["invoice"] == i)
            && created(t["created"].as_i64().unwrap_or(0))
    })
}

pub fn retrieve(ctx: &mut Ctx, customer: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    let txn = ctx.acct.fetch("customer_balance_transaction", id, "id")?;
    if txn["customer"] != customer {
        return Err(ApiError::no_such("customer_balance_transaction", id, "id"));
    }
    Ok(txn)
}
