//! Payment intents, charges and balance transactions produced by paying invoices.

use serde_json::{Value, json};

use super::{Ctx, payment_methods};
use crate::errors::ApiResult;
use crate::list::{self, PAGING};
use crate::params::Params;
use crate::store::{new_id, random_alnum};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Succeeded,
    Declined,
    NoPaymentMethod,
}

pub fn create_intent(
    ctx: &mut Ctx,
    customer: &str,
    amount: i64,
    currency: &str,
    description: &str,
) -> String {
    let id = new_id("pi");
    let pi = json!({
        "id": id, "object": "payment_intent", "amount": amount, "amount_capturable": 0,
        "amount_details": {"tip": {}}, "amount_received": 0, "application": null,
        "application_fee_amount": null, "automatic_payment_methods": null,
        "canceled_at": null, "cancellation_reason": null, "capture_method": "automatic",
        "client_secret": format!("{id}_secret_{}", random_alnum(25)),
        "confirmation_method": "automatic", "created": ctx.now, "currency": currency,
        "customer": customer, "description": description, "last_payment_error": null,
        "latest_charge": null, "livemode": false, "metadata": {}, "next_action": null,
        "on_behalf_of": null, "payment_method": null,
        "payment_method_configuration_details": null,
        "payment_method_options": {"card": {"installments": null, "mandate_options": null,
            "network": null, "request_three_d_secure": "automatic"}},
        "payment_method_types": ["card"], "processing": null, "receipt_email": null,
        "review": null, "setup_future_usage": null, "shipping": null,
        "statement_descriptor": null, "statement_descriptor_suffix": null,
        "status": "requires_payment_method", "transfer_data": null, "transfer_group": null,
        "source": null, "excluded_payment_method_types": null, "customer_account": null,
        "managed_payments": null,
    });
    ctx.acct.put(pi);
    id
}

/// Confirms the intent with `pm`, recording a charge whether it succeeds or is declined.
pub fn attempt(ctx: &mut Ctx, pi_id: &str, pm_id: Option<&str>) -> Outcome {
    let Some(pm) = pm_id.and_then(|id| ctx.acct.get(id)).cloned() else {
        return Outcome::NoPaymentMethod;
    };
    let Some(pi) = ctx.acct.get(pi_id).cloned() else {
        return Outcome::NoPaymentMethod;
    };
    let declined = payment_methods::declines_on_charge(&pm);
    let amount = pi["amount"].as_i64().unwrap_or(0);
    let charge_id = new_id("ch");
    let txn = (!declined).then(|| balance_transaction(ctx, &charge_id, amount, &pi["currency"]));
    let card = &pm["card"];
    let outcome = if declined {
        json!({"advice_code": "try_again_later", "network_advice_code": null,
               "network_decline_code": null, "network_status": "declined_by_network",
               "reason": "generic_decline", "risk_level": "normal", "risk_score": 40,
               "seller_message": "The bank did not return any further details with this decline.",
               "type": "issuer_declined"})
    } else {
        json!({"advice_code": null, "network_advice_code": null, "network_decline_code": null,
               "network_status": "approved_by_network", "reason": null, "risk_level": "normal",
               "risk_score": 20, "seller_message": "Payment complete.", "type": "authorized"})
    };
    let charge = json!({
        "id": charge_id, "object": "charge", "amount": amount,
        "amount_captured": if declined { 0 } else { amount }, "amount_refunded": 0,
        "application": null, "application_fee": null, "application_fee_amount": null,
        "balance_transaction": txn, "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "STRIPE EMULATOR",
        "captured": !declined, "created": ctx.now, "currency": pi["currency"],
        "customer": pi["customer"], "description": pi["description"], "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": if declined { json!("card_declined") } else { Value::Null },
        "failure_message": if declined { json!("Your card was declined.") } else { Value::Null },
        "fraud_details": {}, "livemode": false, "metadata": {}, "on_behalf_of": null,
        "outcome": outcome, "paid": !declined, "payment_intent": pi_id,
        "payment_method": pm["id"],
        "payment_method_details": {
            "card": {
                "amount_authorized": if declined { Value::Null } else { json!(amount) },
                "brand": card["brand"], "checks": card["checks"], "country": card["country"],
                "exp_month": card["exp_month"], "exp_year": card["exp_year"],
                "extended_authorization": {"status": "disabled"},
                "fingerprint": card["fingerprint"], "funding": card["funding"],
                "incremental_authorization": {"status": "unavailable"}, "installments": null,
                "last4": card["last4"], "mandate": null,
                "multicapture": {"status": "unavailable"}, "network": card["brand"],
                "network_token": {"used": false},
                "overcapture": {"maximum_amount_capturable": amount, "status": "unavailable"},
                "three_d_secure": null, "wallet": null,
                "authorization_code": if declined { Value::Null } else { json!("123456") },
                "regulated_status": "unregulated", "network_transaction_id": null,
                "transaction_link_id": null,
            },
            "type": "card",
        },
        "receipt_email": null, "receipt_number": null,
        "receipt_url": format!("https://pay.stripe.com/receipts/payment/{charge_id}"),
        "refunded": false,
        "refunds": {"object": "list", "data": [], "has_more": false, "total_count": 0,
                    "url": format!("/v1/charges/{charge_id}/refunds")},
        "review": null, "shipping": null, "source": null, "source_transfer": null,
        "statement_descriptor": null, "statement_descriptor_suffix": null,
        "status": if declined { "failed" } else { "succeeded" },
        "transfer_data": null, "transfer_group": null,
    });
    ctx.acct.put(charge);
    if !declined && payment_methods::disputes_on_charge(&pm) {
        dispute(ctx, &charge_id, amount, &pi["currency"]);
    }
    let pm_value = pm.clone();
    ctx.acct.update(pi_id, |pi| {
        pi["latest_charge"] = json!(charge_id);
        if declined {
            pi["status"] = json!("requires_payment_method");
            pi["payment_method"] = Value::Null;
            pi["last_payment_error"] = json!({
                "charge": charge_id, "code": "card_declined", "decline_code": "generic_decline",
                "doc_url": "https://stripe.com/docs/error-codes/card-declined",
                "message": "Your card was declined.", "payment_method": pm_value,
                "type": "card_error",
            });
        } else {
            pi["status"] = json!("succeeded");
            pi["amount_received"] = json!(amount);
            pi["payment_method"] = pm_value["id"].clone();
            pi["last_payment_error"] = Value::Null;
        }
    });
    if declined {
        Outcome::Declined
    } else {
        Outcome::Succeeded
    }
}

/// The cardholder disputes the charge: the charge says so, and a dispute needs a response.
fn dispute(ctx: &mut Ctx, charge: &str, amount: i64, currency: &Value) {
    let id = new_id("dp");
    ctx.acct.put(json!({
        "id": id, "object": "dispute", "amount": amount, "balance_transactions": [],
        "charge": charge, "created": ctx.now, "currency": currency,
        "evidence_details": {"due_by": ctx.now + 7 * 86_400, "has_evidence": false,
                             "past_due": false, "submission_count": 0},
        "is_charge_refundable": false, "livemode": false, "metadata": {},
        "reason": "fraudulent", "status": "needs_response",
    }));
    ctx.acct.update(charge, |c| c["disputed"] = json!(true));
}

fn balance_transaction(ctx: &mut Ctx, charge: &str, amount: i64, currency: &Value) -> String {
    let id = new_id("txn");
    // Stripe's US card pricing (2.9% + 30¢) so `net` looks plausible.
    let fee = (amount * 29 + 500) / 1000 + 30;
    ctx.acct.put(json!({
        "id": id, "object": "balance_transaction", "amount": amount,
        "available_on": ctx.now + 2 * 86_400, "balance_type": "payments",
        "created": ctx.now, "currency": currency,
        "description": null, "exchange_rate": null, "fee": fee,
        "fee_details": [{"amount": fee, "application": null, "currency": currency,
                         "description": "Stripe processing fees", "type": "stripe_fee"}],
        "net": amount - fee, "reporting_category": "charge", "source": charge,
        "status": "pending", "type": "charge",
    }));
    id
}

pub fn list_intents(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["customer", "created"]);
    p.allow(&allowed)?;
    let customer = p.str("customer")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "payment_intent", p, "/v1/payment_intents", |v| {
        customer.as_deref().is_none_or(|c| v["customer"] == c)
            && created(v["created"].as_i64().unwrap_or(0))
    })
}

pub fn list_charges(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["customer", "payment_intent", "created", "transfer_group"]);
    p.allow(&allowed)?;
    let customer = p.str("customer")?;
    let intent = p.str("payment_intent")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "charge", p, "/v1/charges", |v| {
        customer.as_deref().is_none_or(|c| v["customer"] == c)
            && intent.as_deref().is_none_or(|c| v["payment_intent"] == c)
            && created(v["created"].as_i64().unwrap_or(0))
    })
}
