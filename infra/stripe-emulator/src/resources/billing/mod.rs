//! The invoice engine shared by subscriptions, `/pay`, previews and clock advances: build a
//! draft (subscription lines, pending invoice items, discounts), finalize it (number,
//! customer balance), and collect it. Prorations and discounts are its arithmetic.
//!
//! It reads and writes stored objects but calls no resource module: subscriptions, the
//! clock and invoices call it, never the other way round.

pub mod discounts;
pub mod proration;

use serde_json::{Value, json};

use super::payments::{self, Outcome, Payer};
use crate::store::Ctx;
use crate::store::new_id;

/// Stripe finalizes a subscription's renewal invoice about an hour after creating it (the
/// first invoice of a new subscription is finalized at once).
pub const FINALIZE_AFTER: i64 = 3600;

pub struct LineSpec {
    pub item_id: String,
    pub price: Value,
    pub quantity: i64,
    pub period: (i64, i64),
    pub trial: bool,
}

/// Creates a draft subscription invoice and returns its id. Besides `lines` (the
/// subscription's items) it takes the subscription's pending invoice items (prorations)
/// and applies the subscription's discounts.
pub fn create_invoice(
    ctx: &mut Ctx,
    sub: &Value,
    reason: &str,
    lines: &[LineSpec],
    period: (i64, i64),
) -> String {
    let id = new_id("in");
    let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
    let customer_id = sub["customer"].as_str().unwrap_or_default();
    let customer = ctx.acct.get(customer_id).cloned().unwrap_or(Value::Null);
    let currency = sub["currency"].clone();
    let pending: Vec<Value> = pending_items(ctx, &sub_id);
    let mut data: Vec<Value> = pending.iter().map(|ii| pending_line(&id, ii)).collect();
    data.extend(lines.iter().map(|l| line_item(ctx, &id, &sub_id, l)));
    let discount_ids = id_list(&sub["discounts"]);
    let applied = discounts::apply(ctx.acct, &discount_ids, &currency, &mut data, ctx.now);
    let subtotal: i64 = data.iter().filter_map(|l| l["amount"].as_i64()).sum();
    let total = subtotal - applied.total;
    let invoice = json!({
        "id": id, "object": "invoice", "account_country": "US",
        "account_name": "Stripe Emulator", "account_tax_ids": null,
        "amount_due": total.max(0), "amount_paid": 0, "amount_remaining": total.max(0),
        "amount_shipping": 0, "application": null, "attempt_count": 0, "attempted": false,
        "auto_advance": true,
        "automatic_tax": {"enabled": false, "liability": null, "status": null,
                          "disabled_reason": null, "provider": null},
        "billing_reason": reason, "collection_method": sub["collection_method"],
        "created": ctx.now, "currency": currency, "custom_fields": null,
        "customer": customer_id, "customer_address": customer["address"],
        "customer_email": customer["email"], "customer_name": customer["name"],
        "customer_phone": customer["phone"], "customer_shipping": customer["shipping"],
        "customer_tax_exempt": customer["tax_exempt"], "customer_tax_ids": [],
        "default_payment_method": null, "default_source": null, "default_tax_rates": [],
        "description": null, "discounts": applied.ids, "due_date": null, "effective_at": null,
        "ending_balance": null, "footer": customer["invoice_settings"]["footer"],
        "from_invoice": null, "hosted_invoice_url": null, "invoice_pdf": null,
        "issuer": {"account": null, "type": "self"}, "last_finalization_error": null,
        "latest_revision": null, "amount_paid_off_stripe": null, "status_details": null,
        "threshold_reason": null,
        "lines": {"object": "list", "data": data, "has_more": false,
                  "total_count": lines.len() + pending.len(),
                  "url": format!("/v1/invoices/{id}/lines")},
        "livemode": false, "metadata": {}, "next_payment_attempt": null, "number": null,
        "on_behalf_of": null,
        "parent": {"quote_details": null, "type": "subscription_details",
                   "subscription_details": {"metadata": sub["metadata"], "subscription": sub_id,
                                            "subscription_proration_date": null}},
        "payment_settings": {"default_mandate": null, "payment_method_options": null,
                             "payment_method_types": null},
        "period_end": period.1, "period_start": period.0,
        "post_payment_credit_notes_amount": 0, "pre_payment_credit_notes_amount": 0,
        "receipt_number": null,
        "rendering": {"amount_tax_display": null, "pdf": {"page_size": "auto"},
                      "template": null, "template_version": null},
        "shipping_cost": null, "shipping_details": null, "starting_balance": 0,
        "statement_descriptor": null, "status": "draft",
        "status_transitions": {"finalized_at": null, "marked_uncollectible_at": null,
                               "paid_at": null, "voided_at": null},
        "subtotal": subtotal, "subtotal_excluding_tax": subtotal, "test_clock": null,
        "total": total, "total_discount_amounts": applied.amounts,
        "total_excluding_tax": total,
        "webhooks_delivered_at": ctx.now, "automatically_finalizes_at": null,
        "total_pretax_credit_amounts": [], "total_taxes": [], "amount_overpaid": 0,
        "customer_account": null,
    });
    ctx.acct.put(invoice);
    for ii in &pending {
        let ii_id = ii["id"].as_str().unwrap_or_default();
        ctx.acct.update(ii_id, |i| i["invoice"] = json!(id));
    }
    if !applied.used_up.is_empty() {
        ctx.acct.update(&sub_id, |s| {
            if let Some(list) = s["discounts"].as_array_mut() {
                list.retain(|d| !applied.used_up.iter().any(|u| d == u.as_str()));
            }
        });
    }
    if customer["currency"].is_null() && !currency.is_null() {
        ctx.acct
            .update(customer_id, |c| c["currency"] = currency.clone());
    }
    id
}

/// Ids in a JSON array (`discounts`), whether still ids or already expanded.
pub fn id_list(v: &Value) -> Vec<String> {
    v.as_array()
        .map(|a| {
            a.iter()
                .filter_map(|d| d.as_str().or_else(|| d["id"].as_str()))
                .map(String::from)
                .collect()
        })
        .unwrap_or_default()
}

/// The subscription's invoice items not yet on an invoice, oldest first.
pub fn pending_items(ctx: &Ctx, sub: &str) -> Vec<Value> {
    let mut items: Vec<Value> = ctx
        .acct
        .all("invoiceitem")
        .into_iter()
        .filter(|ii| {
            ii["invoice"].is_null() && ii["parent"]["subscription_details"]["subscription"] == sub
        })
        .cloned()
        .collect();
    items.reverse();
    items
}

/// An invoice line for a pending invoice item. Proration lines carry
/// `parent.subscription_item_details.proration = true`, as Stripe shapes them.
fn pending_line(invoice: &str, ii: &Value) -> Value {
    let details = &ii["parent"]["subscription_details"];
    let credited = &ii["proration_details"]["credited_items"];
    let credited_lines = if credited["type"] == "invoice_line_items" {
        credited["invoice_line_item_details"].clone()
    } else {
        Value::Null
    };
    json!({
        "id": new_id("il"), "object": "line_item", "amount": ii["amount"],
        "currency": ii["currency"], "description": ii["description"], "discount_amounts": [],
        "discountable": ii["discountable"], "discounts": [], "invoice": invoice,
        "livemode": false, "metadata": ii["metadata"], "period": ii["period"],
        "quantity": ii["quantity"], "subscription": details["subscription"],
        "pretax_credit_amounts": [], "taxes": [],
        "parent": {
            "invoice_item_details": null, "type": "subscription_item_details",
            "subscription_item_details": {
                "invoice_item": ii["id"], "proration": ii["proration"],
                "proration_details": {"credited_items": credited_lines},
                "subscription": details["subscription"],
                "subscription_item": details["subscription_item"],
            },
        },
        "pricing": ii["pricing"], "subtotal": ii["amount"],
        "quantity_decimal": ii["quantity_decimal"],
    })
}

fn line_item(ctx: &Ctx, invoice: &str, sub: &str, l: &LineSpec) -> Value {
    let unit = l.price["unit_amount"].as_i64().unwrap_or(0);
    let amount = if l.trial { 0 } else { unit * l.quantity };
    let product_id = l.price["product"].as_str().unwrap_or_default();
    let product_name = product_name(ctx, product_id);
    let description = if l.trial {
        format!("Trial period for {product_name}")
    } else {
        format!(
            "{} × {product_name} (at {} / {})",
            l.quantity,
            money(unit, l.price["currency"].as_str().unwrap_or("usd")),
            interval_words(&l.price["recurring"])
        )
    };
    json!({
        "id": new_id("il"), "object": "line_item", "amount": amount,
        "currency": l.price["currency"], "description": description, "discount_amounts": [],
        "discountable": true, "discounts": [], "invoice": invoice, "livemode": false,
        "metadata": {}, "period": {"end": l.period.1, "start": l.period.0},
        "quantity": l.quantity, "subscription": sub, "pretax_credit_amounts": [],
        "taxes": [],
        "parent": {
            "invoice_item_details": null, "type": "subscription_item_details",
            "subscription_item_details": {
                "invoice_item": null, "proration": false,
                "proration_details": {"credited_items": null},
                "subscription": sub, "subscription_item": l.item_id,
            },
        },
        "pricing": {"type": "price_details",
                    "price_details": {"price": l.price["id"], "product": product_id},
                    "unit_amount_decimal": l.price["unit_amount_decimal"]},
        "subtotal": amount, "quantity_decimal": l.quantity.to_string(),
    })
}

pub fn product_name(ctx: &Ctx, product_id: &str) -> String {
    ctx.acct
        .get(product_id)
        .and_then(|p| p["name"].as_str())
        .unwrap_or(product_id)
        .to_string()
}

fn interval_words(recurring: &Value) -> String {
    let interval = recurring["interval"].as_str().unwrap_or("month");
    match recurring["interval_count"].as_i64().unwrap_or(1) {
        1 => interval.to_string(),
        n => format!("every {n} {interval}s"),
    }
}

pub fn money(amount: i64, currency: &str) -> String {
    let zero_decimal = ["jpy", "krw", "vnd", "clp", "pyg", "ugx", "xaf", "xof"];
    let c = currency.to_lowercase();
    if zero_decimal.contains(&c.as_str()) {
        return format!("{amount} {}", c.to_uppercase());
    }
    let major = format!("{}.{:02}", amount / 100, (amount % 100).abs());
    match c.as_str() {
        "usd" => format!("${major}"),
        "eur" => format!("€{major}"),
        "gbp" => format!("£{major}"),
        _ => format!("{major} {}", c.to_uppercase()),
    }
}

/// What an invoice of `total` leaves due, and how it moves a customer balance of `balance`.
/// A negative balance is credit: it reduces what is due, never below zero. A positive
/// balance is owed and is added. A negative total (a downgrade's credit prorations) is due
/// nothing and becomes credit.
pub fn balance_effect(balance: i64, total: i64) -> (i64, i64) {
    if total < 0 {
        return (0, total);
    }
    let applied = if balance < 0 {
        balance.max(-total)
    } else {
        balance
    };
    (total + applied, -applied)
}

/// Marks a draft to finalize on its own an hour from its creation, as Stripe does for
/// renewals; the clock does it (see `lifecycle`).
pub fn schedule_finalization(ctx: &mut Ctx, id: &str) {
    ctx.acct.update(id, |i| {
        let created = i["created"].as_i64().unwrap_or(0);
        i["automatically_finalizes_at"] = json!(created + FINALIZE_AFTER);
    });
}

/// Draft → open: assigns the number, applies the customer balance, and marks a zero
/// invoice paid right away as Stripe does.
pub fn finalize(ctx: &mut Ctx, id: &str) {
    let Some(inv) = ctx.acct.get(id).cloned() else {
        return;
    };
    let customer_id = inv["customer"].as_str().unwrap_or_default().to_string();
    let customer = ctx.acct.get(&customer_id).cloned().unwrap_or(Value::Null);
    let seq = customer["next_invoice_sequence"].as_i64().unwrap_or(1);
    let prefix = customer["invoice_prefix"]
        .as_str()
        .unwrap_or("INV")
        .to_string();
    let balance = customer["balance"].as_i64().unwrap_or(0);
    let total = inv["total"].as_i64().unwrap_or(0);
    let (due, delta) = balance_effect(balance, total);
    ctx.acct.update(&customer_id, |c| {
        c["next_invoice_sequence"] = json!(seq + 1)
    });
    if delta != 0 {
        super::balance::record(
            ctx,
            &customer_id,
            delta,
            "applied_to_invoice",
            None,
            Some(id),
        );
    }
    let now = ctx.now;
    let send_invoice = inv["collection_method"] == "send_invoice";
    let days = ctx
        .acct
        .get(
            inv["parent"]["subscription_details"]["subscription"]
                .as_str()
                .unwrap_or_default(),
        )
        .and_then(|s| s["days_until_due"].as_i64())
        .unwrap_or(30);
    ctx.acct.update(id, |i| {
        // Stripe copies the customer's details until the invoice is finalized.
        for field in [
            "address",
            "email",
            "name",
            "phone",
            "shipping",
            "tax_exempt",
        ] {
            i[format!("customer_{field}")] = customer[field].clone();
        }
        i["number"] = json!(format!("{prefix}-{seq:04}"));
        i["status"] = json!("open");
        i["starting_balance"] = json!(balance);
        i["ending_balance"] = json!(balance + delta);
        i["amount_due"] = json!(due);
        i["amount_remaining"] = json!(due);
        i["effective_at"] = json!(now);
        i["automatically_finalizes_at"] = Value::Null;
        i["status_transitions"]["finalized_at"] = json!(now);
        i["hosted_invoice_url"] = json!(format!("https://invoice.stripe.com/i/acct_emulator/{id}"));
        i["invoice_pdf"] = json!(format!(
            "https://pay.stripe.com/invoice/acct_emulator/{id}/pdf"
        ));
        if send_invoice {
            i["due_date"] = json!(now + days * 86_400);
        }
    });
    if due == 0 {
        mark_paid(ctx, id);
    }
}

/// How a subscription invoice ended up after `settle`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Settled {
    Paid,
    /// `send_invoice`: open, waiting for the customer.
    Sent,
    Declined,
    NoPaymentMethod,
}

/// Finalizes a draft (if it still is one) and, for `charge_automatically`, charges it with
/// the subscription's payment method. `retry_after` sets `next_payment_attempt` on failure.
pub fn settle(ctx: &mut Ctx, id: &str, sub: &Value, retry_after: Option<i64>) -> Settled {
    if ctx.acct.get(id).is_some_and(|i| i["status"] == "draft") {
        finalize(ctx, id);
    }
    if ctx.acct.get(id).is_some_and(|i| i["status"] == "paid") {
        return Settled::Paid;
    }
    if sub["collection_method"] == "send_invoice" {
        return Settled::Sent;
    }
    let pm = payment_method_for(ctx, sub);
    match collect(ctx, id, pm.as_deref(), retry_after) {
        Outcome::Succeeded => Settled::Paid,
        Outcome::Declined(_) | Outcome::RequiresAction => Settled::Declined,
        Outcome::NoPaymentMethod => Settled::NoPaymentMethod,
    }
}

pub fn mark_paid(ctx: &mut Ctx, id: &str) {
    let now = ctx.now;
    let mut customer = String::new();
    ctx.acct.update(id, |i| {
        i["status"] = json!("paid");
        i["amount_paid"] = i["amount_due"].clone();
        i["amount_remaining"] = json!(0);
        i["next_payment_attempt"] = Value::Null;
        i["auto_advance"] = json!(false);
        i["automatically_finalizes_at"] = Value::Null;
        i["status_transitions"]["paid_at"] = json!(now);
        customer = i["customer"].as_str().unwrap_or_default().to_string();
    });
    ctx.acct
        .update(&customer, |c| c["delinquent"] = json!(false));
}

/// The payment method Stripe would charge: the subscription's, else the customer's default.
pub fn payment_method_for(ctx: &Ctx, sub: &Value) -> Option<String> {
    if let Some(pm) = sub["default_payment_method"].as_str() {
        return Some(pm.to_string());
    }
    ctx.acct
        .get(sub["customer"].as_str().unwrap_or_default())
        .and_then(|c| c["invoice_settings"]["default_payment_method"].as_str())
        .map(String::from)
}

/// Charges an open invoice. `retry_after` sets `next_payment_attempt` on a decline.
pub fn collect(ctx: &mut Ctx, id: &str, pm: Option<&str>, retry_after: Option<i64>) -> Outcome {
    let Some(inv) = ctx.acct.get(id).cloned() else {
        return Outcome::NoPaymentMethod;
    };
    let pi = open_intent(ctx, &inv);
    let outcome = payments::attempt(ctx, &pi, pm, Payer::Billing);
    let now = ctx.now;
    if outcome != Outcome::NoPaymentMethod {
        ctx.acct.update(id, |i| {
            i["attempt_count"] = json!(i["attempt_count"].as_i64().unwrap_or(0) + 1);
            i["attempted"] = json!(true);
        });
    }
    match outcome {
        Outcome::Succeeded => {
            mark_paid(ctx, id);
            let payment = ctx
                .acct
                .all("invoice_payment")
                .into_iter()
                .find(|p| p["invoice"] == id && p["payment"]["payment_intent"] == pi.as_str())
                .and_then(|p| p["id"].as_str().map(String::from));
            if let Some(payment) = payment {
                let amount = inv["amount_due"].clone();
                ctx.acct.update(&payment, |p| {
                    p["status"] = json!("paid");
                    p["amount_paid"] = amount;
                    p["status_transitions"]["paid_at"] = json!(now);
                });
            }
        }
        Outcome::Declined(_) | Outcome::RequiresAction | Outcome::NoPaymentMethod => {
            let customer = inv["customer"].as_str().unwrap_or_default().to_string();
            ctx.acct.update(id, |i| {
                i["next_payment_attempt"] = json!(retry_after.map(|s| now + s));
            });
            if matches!(outcome, Outcome::Declined(_)) {
                ctx.acct
                    .update(&customer, |c| c["delinquent"] = json!(true));
            }
        }
    }
    outcome
}

/// The payment intent of the invoice's unpaid attempt, if one was made.
pub fn open_intent_id(ctx: &Ctx, invoice: &str) -> Option<String> {
    ctx.acct
        .all("invoice_payment")
        .into_iter()
        .find(|p| p["invoice"] == invoice && p["status"] == "open")
        .and_then(|p| p["payment"]["payment_intent"].as_str().map(String::from))
}

/// Reuses the invoice's open payment intent across attempts, as Stripe does.
fn open_intent(ctx: &mut Ctx, inv: &Value) -> String {
    let id = inv["id"].as_str().unwrap_or_default();
    let existing = ctx
        .acct
        .all("invoice_payment")
        .into_iter()
        .find(|p| p["invoice"] == id && p["status"] == "open")
        .and_then(|p| p["payment"]["payment_intent"].as_str().map(String::from));
    if let Some(pi) = existing {
        return pi;
    }
    let amount = inv["amount_due"].as_i64().unwrap_or(0);
    let currency = inv["currency"].as_str().unwrap_or("usd").to_string();
    let description = if inv["billing_reason"] == "subscription_create" {
        "Subscription creation"
    } else {
        "Subscription update"
    };
    let customer = inv["customer"].as_str().unwrap_or_default().to_string();
    let pi = payments::create_intent(ctx, &customer, amount, &currency, description);
    ctx.acct.put(json!({
        "id": new_id("inpay"), "object": "invoice_payment", "amount_paid": null,
        "amount_requested": amount, "created": ctx.now, "currency": currency,
        "invoice": id, "is_default": true, "livemode": false,
        "payment": {"type": "payment_intent", "payment_intent": pi, "charge": null,
                    "payment_record": null},
        "status": "open", "status_transitions": {"canceled_at": null, "paid_at": null},
    }));
    pi
}

pub fn void(ctx: &mut Ctx, id: &str) {
    let now = ctx.now;
    ctx.acct.update(id, |i| {
        i["status"] = json!("void");
        i["amount_remaining"] = json!(0);
        i["next_payment_attempt"] = Value::Null;
        i["auto_advance"] = json!(false);
        i["automatically_finalizes_at"] = Value::Null;
        i["status_transitions"]["voided_at"] = json!(now);
    });
    let payments: Vec<String> = ctx
        .acct
        .all("invoice_payment")
        .into_iter()
        .filter(|p| p["invoice"] == id && p["status"] == "open")
        .filter_map(|p| p["id"].as_str().map(String::from))
        .collect();
    for p in payments {
        ctx.acct.update(&p, |p| {
            p["status"] = json!("canceled");
            p["status_transitions"]["canceled_at"] = json!(now);
        });
    }
}

pub fn mark_uncollectible(ctx: &mut Ctx, id: &str) {
    let now = ctx.now;
    ctx.acct.update(id, |i| {
        i["status"] = json!("uncollectible");
        i["next_payment_attempt"] = Value::Null;
        i["auto_advance"] = json!(false);
        i["automatically_finalizes_at"] = Value::Null;
        i["status_transitions"]["marked_uncollectible_at"] = json!(now);
    });
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn balance_effects() {
        // Credit covers part of an invoice.
        assert_eq!(balance_effect(-1500, 4900), (3400, 1500));
        // Credit larger than the invoice: nothing due, the rest stays.
        assert_eq!(balance_effect(-6000, 4900), (0, 4900));
        // An owed balance is added.
        assert_eq!(balance_effect(200, 4900), (5100, -200));
        // A negative invoice becomes credit.
        assert_eq!(balance_effect(0, -2450), (0, -2450));
        assert_eq!(balance_effect(-100, -2450), (0, -2450));
    }
}
