//! Invoices: retrieve, list, lines, and the actions `pay`, `send`, `void`.

use serde_json::{Value, json};

use super::payments::Outcome;
use super::{billing, payment_methods};
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, allow_nested, opt_obj, opt_str};
use crate::store::Ctx;

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch("invoice", id, "id")
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend([
        "customer",
        "subscription",
        "status",
        "created",
        "due_date",
        "collection_method",
    ]);
    p.allow(&allowed)?;
    let customer = list::customer_filter(ctx.acct, p)?;
    let subscription = p.str("subscription")?;
    let status = p.str("status")?;
    if let Some(s) = &status
        && !["draft", "open", "paid", "uncollectible", "void"].contains(&s.as_str())
    {
        return Err(ApiError::invalid_param(
            "status",
            format!(
                "Invalid status: must be one of draft, open, paid, uncollectible, or void; got {s}"
            ),
        ));
    }
    let collection = p.str("collection_method")?;
    let created = list::range_filter(p, "created")?;
    let due = list::range_filter(p, "due_date")?;
    let due_filtered = p.has("due_date");
    list::page(ctx.acct, "invoice", p, "/v1/invoices", |i| {
        customer.as_deref().is_none_or(|c| i["customer"] == c)
            && subscription
                .as_deref()
                .is_none_or(|s| i["parent"]["subscription_details"]["subscription"] == s)
            && status.as_deref().is_none_or(|s| i["status"] == s)
            && collection
                .as_deref()
                .is_none_or(|c| i["collection_method"] == c)
            && created(i["created"].as_i64().unwrap_or(0))
            && (!due_filtered || i["due_date"].as_i64().is_some_and(&due))
    })
}

pub fn lines(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(PAGING)?;
    let inv = ctx.acct.fetch("invoice", id, "id")?;
    let all: Vec<Value> = inv["lines"]["data"].as_array().cloned().unwrap_or_default();
    let limit = list::limit(p)?;
    let start = match p.str("starting_after")? {
        Some(cursor) => {
            all.iter()
                .position(|l| l["id"] == cursor.as_str())
                .ok_or_else(|| ApiError::no_such("line_item", &cursor, "starting_after"))?
                + 1
        }
        None => 0,
    };
    let rest = &all[start.min(all.len())..];
    Ok(json!({
        "object": "list", "data": rest.iter().take(limit).collect::<Vec<_>>(),
        "has_more": rest.len() > limit, "url": format!("/v1/invoices/{id}/lines"),
    }))
}

pub fn list_payments(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["invoice", "payment", "status"]);
    p.allow(&allowed)?;
    let invoice = p.str("invoice")?;
    let status = p.str("status")?;
    // `payment[type]` with `payment[payment_intent]` (or `payment[payment_record]`): the
    // invoice payments made with that payment.
    let payment = match opt_obj(p.get("payment"), "payment")? {
        Some(Some(pay)) => {
            allow_nested(
                pay,
                "payment",
                &["type", "payment_intent", "payment_record"],
            )?;
            let kind = opt_str(pay.get("type"), "payment[type]")?
                .ok_or_else(|| ApiError::missing("payment[type]"))?;
            let id = opt_str(pay.get(kind.as_str()), &format!("payment[{kind}]"))?;
            Some((kind, id))
        }
        _ => None,
    };
    list::page(
        ctx.acct,
        "invoice_payment",
        p,
        "/v1/invoice_payments",
        |v| {
            invoice.as_deref().is_none_or(|i| v["invoice"] == i)
                && status.as_deref().is_none_or(|s| v["status"] == s)
                && payment.as_ref().is_none_or(|(kind, id)| {
                    v["payment"]["type"] == kind.as_str()
                        && id
                            .as_deref()
                            .is_none_or(|id| v["payment"][kind.as_str()] == id)
                })
        },
    )
}

pub fn pay(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "payment_method",
        "paid_out_of_band",
        "off_session",
        "forgive",
        "source",
    ])?;
    let inv = ctx.acct.fetch("invoice", id, "id")?;
    match inv["status"].as_str() {
        Some("draft") => billing::finalize(ctx, id),
        Some("open") | Some("uncollectible") => {}
        Some("paid") => return Err(ApiError::invalid("Invoice is already paid")),
        _ => {
            return Err(ApiError::invalid(format!(
                "You cannot pay an invoice with status `{}`.",
                inv["status"].as_str().unwrap_or("unknown")
            )));
        }
    }
    let sub_id = inv["parent"]["subscription_details"]["subscription"]
        .as_str()
        .map(String::from);
    let sub = sub_id.as_deref().and_then(|s| ctx.acct.get(s)).cloned();
    if ctx.acct.get(id).is_some_and(|i| i["status"] == "paid") {
        reactivate(ctx, sub.as_ref(), id);
        return ctx.acct.fetch("invoice", id, "id");
    }
    if p.bool("paid_out_of_band")? == Some(true) {
        billing::mark_paid(ctx, id);
        reactivate(ctx, sub.as_ref(), id);
        return ctx.acct.fetch("invoice", id, "id");
    }
    let customer = inv["customer"].as_str().unwrap_or_default().to_string();
    let pm = match p.str("payment_method")? {
        Some(pm) => {
            payment_methods::require_attached(ctx, &pm, &customer, "payment_method")?;
            Some(pm)
        }
        None => inv["default_payment_method"]
            .as_str()
            .map(String::from)
            .or_else(|| {
                sub.as_ref()
                    .and_then(|s| billing::payment_method_for(ctx, s))
            })
            .or_else(|| {
                ctx.acct
                    .get(&customer)
                    .and_then(|c| c["invoice_settings"]["default_payment_method"].as_str())
                    .map(String::from)
            }),
    };
    match billing::collect(ctx, id, pm.as_deref(), None) {
        Outcome::Succeeded => {
            reactivate(ctx, sub.as_ref(), id);
            ctx.acct.fetch("invoice", id, "id")
        }
        Outcome::Declined(code) => {
            // The charge this attempt made: the latest of the invoice's open intent.
            let charge = billing::open_intent_id(ctx, id)
                .and_then(|pi| ctx.acct.get(&pi).map(|pi| pi["latest_charge"].clone()))
                .unwrap_or(Value::Null);
            Err(ApiError::declined(code).with_extra("charge", charge))
        }
        Outcome::RequiresAction => {
            let intent = billing::open_intent_id(ctx, id)
                .and_then(|pi| ctx.acct.get(&pi).cloned())
                .unwrap_or(Value::Null);
            Err(ApiError::invoice_requires_action().with_extra("payment_intent", intent))
        }
        Outcome::NoPaymentMethod => Err(ApiError::invalid(
            "This customer has no attached payment source or default payment method.",
        )),
    }
}

/// Paying the latest invoice brings an incomplete or past-due subscription back to active.
fn reactivate(ctx: &mut Ctx, sub: Option<&Value>, invoice: &str) {
    let Some(sub) = sub else {
        return;
    };
    let recoverable = ["incomplete", "past_due", "unpaid"]
        .iter()
        .any(|s| sub["status"] == *s);
    if recoverable && sub["latest_invoice"] == invoice {
        let id = sub["id"].as_str().unwrap_or_default().to_string();
        ctx.acct.update(&id, |s| s["status"] = json!("active"));
    }
}

pub fn send(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    let inv = ctx.acct.fetch("invoice", id, "id")?;
    match inv["status"].as_str() {
        Some("draft") => billing::finalize(ctx, id),
        Some("void") => {
            return Err(ApiError::invalid(
                "You can't send an invoice that has been voided.",
            ));
        }
        _ => {}
    }
    // Test mode sends no email; the call only has to succeed.
    ctx.acct.fetch("invoice", id, "id")
}

pub fn void(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    let inv = ctx.acct.fetch("invoice", id, "id")?;
    if inv["status"] != "open" && inv["status"] != "uncollectible" {
        return Err(ApiError::invalid(format!(
            "You can only void an open or uncollectible invoice; this one is {}.",
            inv["status"].as_str().unwrap_or("unknown")
        )));
    }
    billing::void(ctx, id);
    ctx.acct.fetch("invoice", id, "id")
}
