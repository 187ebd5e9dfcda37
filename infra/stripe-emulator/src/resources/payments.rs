//! Payment intents, charges and balance transactions produced by paying invoices.

use serde_json::{Value, json};

use super::payment_methods::{self, OnCharge};
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::Params;
use crate::store::Ctx;
use crate::store::{new_id, random_alnum};

#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Outcome {
    Succeeded,
    /// Declined with this `decline_code`.
    Declined(&'static str),
    /// The bank wants the customer to authenticate (3-D Secure): no charge yet, the intent
    /// is `requires_action`.
    RequiresAction,
    NoPaymentMethod,
}

/// How a payment is made, which decides what a card needing authentication does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Payer {
    /// The customer is present and can authenticate: the intent waits for them.
    Present,
    /// Nobody is there (`off_session=true`): a card needing authentication is declined.
    Absent,
    /// An invoice charged by Stripe Billing: the intent waits, and the invoice says so.
    Billing,
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
        "amount_details": {"discount_amount": null, "error": null, "line_items": null,
                           "shipping": null, "tax": null, "tip": {}},
        "amount_received": 0, "application": null,
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
        "managed_payments": null, "allowed_payment_method_types": null, "hooks": null,
        "payment_details": null, "payment_record": null, "presentment_details": null,
    });
    ctx.acct.put(pi);
    id
}

/// Confirms the intent with `pm`, recording a charge whether it succeeds or is declined.
pub fn attempt(ctx: &mut Ctx, pi_id: &str, pm_id: Option<&str>, payer: Payer) -> Outcome {
    let Some(pm) = pm_id.and_then(|id| ctx.acct.get(id)).cloned() else {
        return Outcome::NoPaymentMethod;
    };
    let Some(pi) = ctx.acct.get(pi_id).cloned() else {
        return Outcome::NoPaymentMethod;
    };
    let decline = match payment_methods::on_charge(&pm) {
        OnCharge::Declines(code) => Some(code),
        OnCharge::RequiresAuthentication if payer == Payer::Absent => {
            Some("authentication_required")
        }
        OnCharge::RequiresAuthentication => {
            requires_action(ctx, pi_id, &pm);
            return Outcome::RequiresAction;
        }
        OnCharge::Succeeds | OnCharge::Disputes => None,
    };
    let declined = decline.is_some();
    let amount = pi["amount"].as_i64().unwrap_or(0);
    let charge_id = new_id("ch");
    let txn = (!declined).then(|| balance_transaction(ctx, &charge_id, amount, &pi["currency"]));
    let card = &pm["card"];
    let failure_code = match decline {
        Some("authentication_required") => json!("authentication_required"),
        Some(_) => json!("card_declined"),
        None => Value::Null,
    };
    let failure_message = match decline {
        Some(code) => json!(ApiError::declined(code).message),
        None => Value::Null,
    };
    let outcome = if let Some(code) = decline {
        json!({"advice_code": "try_again_later", "network_advice_code": null,
               "network_decline_code": null, "network_status": "declined_by_network",
               "reason": code, "risk_level": "normal", "risk_score": 40,
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
        "authorization_code": null, "level3": null, "presentment_details": null,
        "radar_options": null, "transfer": null,
        "balance_transaction": txn, "billing_details": pm["billing_details"],
        "calculated_statement_descriptor": "STRIPE EMULATOR",
        "captured": !declined, "created": ctx.now, "currency": pi["currency"],
        "customer": pi["customer"], "description": pi["description"], "disputed": false,
        "failure_balance_transaction": null,
        "failure_code": failure_code.clone(),
        "failure_message": failure_message.clone(),
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
                "transaction_link_id": null, "capture_before": null, "description": null,
                "electronic_commerce_indicator": null, "iin": null, "issuer": null,
                "moto": null, "setup_credential_usage": null, "stored_credential_usage": null,
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
    if payment_methods::on_charge(&pm) == OnCharge::Disputes {
        dispute(ctx, &charge_id, amount, &pi["currency"]);
    }
    let pm_value = pm.clone();
    ctx.acct.update(pi_id, |pi| {
        pi["latest_charge"] = json!(charge_id);
        if let Some(code) = decline {
            pi["status"] = json!("requires_payment_method");
            pi["payment_method"] = Value::Null;
            pi["next_action"] = Value::Null;
            pi["last_payment_error"] = json!({
                "charge": charge_id, "code": failure_code, "decline_code": code,
                "doc_url": format!("https://stripe.com/docs/error-codes/{}",
                                   failure_code.as_str().unwrap_or_default().replace('_', "-")),
                "message": failure_message, "payment_method": pm_value,
                "type": "card_error",
            });
        } else {
            pi["status"] = json!("succeeded");
            pi["amount_received"] = json!(amount);
            pi["payment_method"] = pm_value["id"].clone();
            pi["last_payment_error"] = Value::Null;
            pi["next_action"] = Value::Null;
        }
    });
    match decline {
        Some(code) => Outcome::Declined(code),
        None => Outcome::Succeeded,
    }
}

/// The intent waits for the customer to authenticate with their bank; nothing is charged.
fn requires_action(ctx: &mut Ctx, pi_id: &str, pm: &Value) {
    let source = new_id("src");
    ctx.acct.update(pi_id, |pi| {
        pi["status"] = json!("requires_action");
        pi["payment_method"] = pm["id"].clone();
        pi["next_action"] = json!({
            "type": "use_stripe_sdk",
            "use_stripe_sdk": {
                "type": "three_d_secure_redirect",
                "stripe_js": format!("https://hooks.stripe.com/redirect/authenticate/{source}"),
                "source": source,
            },
        });
    });
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
    let customer = list::customer_filter(ctx.acct, p)?;
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
    let customer = list::customer_filter(ctx.acct, p)?;
    let intent = p.str("payment_intent")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "charge", p, "/v1/charges", |v| {
        customer.as_deref().is_none_or(|c| v["customer"] == c)
            && intent.as_deref().is_none_or(|c| v["payment_intent"] == c)
            && created(v["created"].as_i64().unwrap_or(0))
    })
}

/// Stripe's smallest charge in USD (50 cents); the emulator applies it to every currency.
const MIN_AMOUNT: i64 = 50;

const CONFIRM_PARAMS: &[&str] = &[
    "payment_method",
    "off_session",
    "return_url",
    "error_on_requires_action",
    "receipt_email",
    "setup_future_usage",
    "use_stripe_sdk",
    "mandate_data",
];

/// `POST /v1/payment_intents`: an intent for `amount`, confirmed at once with `confirm=true`.
pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = vec![
        "amount",
        "currency",
        "customer",
        "confirm",
        "description",
        "metadata",
        "payment_method_types",
        "automatic_payment_methods",
        "capture_method",
        "confirmation_method",
        "statement_descriptor",
        "statement_descriptor_suffix",
    ];
    allowed.extend(CONFIRM_PARAMS);
    p.allow(&allowed)?;
    let amount = p
        .int("amount")?
        .ok_or_else(|| ApiError::missing("amount"))?;
    if amount < MIN_AMOUNT {
        return Err(
            ApiError::coded("amount_too_small", "Amount must be at least $0.50 usd")
                .with_param("amount"),
        );
    }
    let currency = p.req_str("currency")?.to_ascii_lowercase();
    let customer = p.str("customer")?;
    if let Some(c) = &customer {
        ctx.acct.fetch_live("customer", c, "customer")?;
    }
    if let Some(m) = p.str("capture_method")?
        && m != "automatic"
        && m != "automatic_async"
    {
        return Err(ApiError::invalid_param(
            "capture_method",
            "The emulator captures automatically only.",
        ));
    }
    let mut metadata = json!({});
    crate::params::apply_metadata(&mut metadata, p.get("metadata"))?;
    let pm = match p.str("payment_method")? {
        Some(pm) => Some(payment_methods::for_payment(
            ctx,
            &pm,
            customer.as_deref(),
            "payment_method",
        )?),
        None => None,
    };
    let description = p.str("description")?;
    let id = create_intent(
        ctx,
        customer.as_deref().unwrap_or_default(),
        amount,
        &currency,
        description.as_deref().unwrap_or_default(),
    );
    ctx.acct.update(&id, |pi| {
        pi["customer"] = json!(customer);
        pi["description"] = json!(description);
        pi["metadata"] = metadata;
    });
    if let Some(pm) = pm {
        ctx.acct.update(&id, |pi| {
            pi["payment_method"] = json!(pm);
            pi["status"] = json!("requires_confirmation");
        });
    }
    if p.bool("confirm")? == Some(true) {
        return confirm_with(ctx, &id, p);
    }
    if p.has("off_session") {
        return Err(ApiError::invalid_param(
            "off_session",
            "You may only specify `off_session` when `confirm` is true.",
        ));
    }
    ctx.acct.fetch("payment_intent", &id, "id")
}

/// `POST /v1/payment_intents/{id}/confirm`.
pub fn confirm(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(CONFIRM_PARAMS)?;
    confirm_with(ctx, id, p)
}

fn confirm_with(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    let pi = ctx.acct.fetch("payment_intent", id, "intent")?;
    let status = pi["status"].as_str().unwrap_or_default().to_string();
    let confirmable = matches!(
        status.as_str(),
        "requires_payment_method" | "requires_confirmation" | "requires_action"
    );
    if !confirmable {
        return Err(ApiError::coded(
            "payment_intent_unexpected_state",
            format!("This PaymentIntent's status is {status}, so it cannot be confirmed."),
        ));
    }
    let customer = pi["customer"].as_str().map(String::from);
    let pm = match p.str("payment_method")? {
        Some(pm) => payment_methods::for_payment(ctx, &pm, customer.as_deref(), "payment_method")?,
        None => pi["payment_method"].as_str().map(String::from).ok_or_else(|| {
            ApiError::invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method. To confirm the PaymentIntent with {customer}, specify a payment method attached to this customer along with the customer ID.",
            )
        })?,
    };
    let payer = match p.get("off_session") {
        Some(Value::Bool(true)) => Payer::Absent,
        Some(Value::String(s)) if s == "true" || s == "one_off" || s == "recurring" => {
            Payer::Absent
        }
        _ => Payer::Present,
    };
    match attempt(ctx, id, Some(&pm), payer) {
        Outcome::Declined(code) => {
            let intent = ctx.acct.fetch("payment_intent", id, "intent")?;
            Err(ApiError::declined(code)
                .with_extra("charge", intent["latest_charge"].clone())
                .with_extra("payment_intent", intent))
        }
        Outcome::RequiresAction if p.bool("error_on_requires_action")? == Some(true) => {
            Err(ApiError::declined("authentication_required"))
        }
        _ => ctx.acct.fetch("payment_intent", id, "intent"),
    }
}

/// `POST /v1/payment_intents/{id}/cancel`: only before it succeeded.
pub fn cancel(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["cancellation_reason"])?;
    let pi = ctx.acct.fetch("payment_intent", id, "intent")?;
    if matches!(pi["status"].as_str(), Some("succeeded") | Some("canceled")) {
        return Err(ApiError::coded(
            "payment_intent_unexpected_state",
            format!(
                "You cannot cancel this PaymentIntent because it has a status of {}.",
                pi["status"].as_str().unwrap_or_default()
            ),
        ));
    }
    let reason = p.str("cancellation_reason")?;
    let now = ctx.now;
    ctx.acct.update(id, |pi| {
        pi["status"] = json!("canceled");
        pi["canceled_at"] = json!(now);
        pi["cancellation_reason"] = json!(reason);
        pi["next_action"] = Value::Null;
    });
    ctx.acct.fetch("payment_intent", id, "intent")
}
