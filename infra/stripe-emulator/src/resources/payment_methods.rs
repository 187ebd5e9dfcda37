//! Card payment methods from Stripe's test tokens (`pm_card_visa`...): attach, detach, list.

use serde_json::{Value, json};

use crate::clock::current_year;
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::Params;
use crate::store::Ctx;
use crate::store::new_id;

struct TestCard {
    brand: &'static str,
    last4: &'static str,
    funding: &'static str,
    fingerprint: &'static str,
    /// Stripe checks the card on attach; these tokens fail there already.
    declines_on_attach: bool,
}

fn test_card(token: &str) -> Option<TestCard> {
    let card = |brand, last4, funding, fingerprint, declines_on_attach| TestCard {
        brand,
        last4,
        funding,
        fingerprint,
        declines_on_attach,
    };
    Some(match token {
        "pm_card_visa" => card("visa", "4242", "credit", "Xt5EWLLDS7FJjR1c", false),
        "pm_card_visa_debit" => card("visa", "5556", "debit", "q2GkT3lqkWw0mTn7", false),
        "pm_card_mastercard" => card("mastercard", "4444", "credit", "Wn7Ckw9Xo3mQ1dLs", false),
        "pm_card_amex" => card("amex", "8431", "credit", "Hd8Kq2Lm0Zp5Rt1V", false),
        "pm_card_chargeCustomerFail" => card("visa", "0341", "credit", "Ab3Df6Gh9Jk2Lm5N", false),
        // Charges succeed, then the cardholder disputes them (Stripe's 4000 0000 0000 0259).
        "pm_card_createDispute" => card("visa", "0259", "credit", "Rt6Yu9Io2Pa5Sd8F", false),
        // The bank asks for 3-D Secure on every payment (Stripe's 4000 0027 6000 3184); the
        // second also declines for insufficient funds once authenticated (…3178).
        "pm_card_authenticationRequired" => {
            card("visa", "3184", "credit", "Jw2Ex5Rz8Ty1Ui4O", false)
        }
        "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds" => {
            card("visa", "3178", "credit", "Kx3Fy6Sa9Uz2Vj5P", false)
        }
        "pm_card_chargeDeclined" | "pm_card_visa_chargeDeclined" => {
            card("visa", "0002", "credit", "Pq4Rs7Tu0Vw3Xy6Z", true)
        }
        "pm_card_chargeDeclinedInsufficientFunds"
        | "pm_card_visa_chargeDeclinedInsufficientFunds" => {
            card("visa", "9995", "credit", "Bc5Ef8Hi1Kl4No7Q", true)
        }
        _ => return None,
    })
}

/// What charging one of Stripe's test cards does.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum OnCharge {
    Succeeds,
    /// The charge succeeds and the cardholder disputes it at once (…0259).
    Disputes,
    /// Declined with this `decline_code`.
    Declines(&'static str),
    /// The bank asks for 3-D Secure before it will decide.
    RequiresAuthentication,
}

pub fn on_charge(pm: &Value) -> OnCharge {
    match pm["card"]["last4"].as_str().unwrap_or_default() {
        "0259" => OnCharge::Disputes,
        "0341" | "0002" => OnCharge::Declines("generic_decline"),
        "9995" => OnCharge::Declines("insufficient_funds"),
        "3184" | "3178" => OnCharge::RequiresAuthentication,
        _ => OnCharge::Succeeds,
    }
}

/// Attaches a stored `pm_...` or a test token to `customer`; returns the stored id.
pub fn attach_to(ctx: &mut Ctx, pm: &str, customer: &str, param: &str) -> ApiResult<String> {
    ctx.acct.fetch_live("customer", customer, "customer")?;
    if let Some(card) = test_card(pm) {
        if card.declines_on_attach {
            return Err(ApiError::card_declined().with_param(param));
        }
        return Ok(from_test_card(ctx, &card, json!(customer)));
    }
    let stored = ctx.acct.fetch("payment_method", pm, param)?;
    match stored["customer"].as_str() {
        Some(c) if c == customer => Ok(pm.to_string()),
        Some(_) => Err(ApiError::invalid_param(
            param,
            "The payment method you provided has already been attached to a customer.",
        )),
        None => {
            ctx.acct.update(pm, |v| v["customer"] = json!(customer));
            Ok(pm.to_string())
        }
    }
}

/// The payment method a payment intent is confirmed with: a test token becomes a new,
/// unattached payment method (declining cards too: they decline when charged); a stored
/// one must be the customer's or nobody's.
pub fn for_payment(
    ctx: &mut Ctx,
    pm: &str,
    customer: Option<&str>,
    param: &str,
) -> ApiResult<String> {
    if let Some(card) = test_card(pm) {
        return Ok(from_test_card(ctx, &card, Value::Null));
    }
    let stored = ctx.acct.fetch("payment_method", pm, param)?;
    match (stored["customer"].as_str(), customer) {
        (None, _) => Ok(pm.to_string()),
        (Some(owner), Some(c)) if owner == c => Ok(pm.to_string()),
        _ => Err(ApiError::invalid_param(
            param,
            format!(
                "The provided PaymentMethod {pm} is attached to another customer, or this PaymentIntent has none."
            ),
        )),
    }
}

fn from_test_card(ctx: &mut Ctx, card: &TestCard, customer: Value) -> String {
    let id = new_id("pm");
    let obj = json!({
        "id": id, "object": "payment_method", "allow_redisplay": "unspecified",
        "billing_details": {
            "address": {"city": null, "country": null, "line1": null, "line2": null,
                        "postal_code": null, "state": null},
            "email": null, "name": null, "phone": null, "tax_id": null,
        },
        "card": {
            "brand": card.brand,
            "checks": {"address_line1_check": null, "address_postal_code_check": null,
                       "cvc_check": "unchecked"},
            "country": "US", "display_brand": card.brand, "exp_month": 12,
            "exp_year": current_year(ctx.clock_offset) + 3, "fingerprint": card.fingerprint,
            "funding": card.funding, "generated_from": null, "last4": card.last4,
            "networks": {"available": [card.brand], "preferred": null},
            "three_d_secure_usage": {"supported": true}, "wallet": null,
            "regulated_status": "unregulated", "description": null, "iin": null,
            "issuer": null,
        },
        "created": ctx.now, "customer": customer, "livemode": false, "metadata": {},
        "type": "card", "customer_account": null,
    });
    ctx.acct.put(obj);
    id
}

/// Stripe's error when a payment method is named for a customer it is not attached to.
pub fn require_attached(ctx: &Ctx, pm: &str, customer: &str, param: &str) -> ApiResult<()> {
    let stored = ctx.acct.fetch("payment_method", pm, param)?;
    if stored["customer"] != customer {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "The customer does not have a payment method with the ID {pm}. The payment method must be attached to the customer."
            ),
        ));
    }
    Ok(())
}

pub fn attach(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["customer"])?;
    let customer = p.req_str("customer")?;
    let pm = attach_to(ctx, id, &customer, "id")?;
    ctx.acct.fetch("payment_method", &pm, "id")
}

pub fn detach(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    let pm = ctx.acct.fetch("payment_method", id, "id")?;
    let Some(customer) = pm["customer"].as_str().map(String::from) else {
        return Err(ApiError::invalid(
            "The payment method you provided is not attached to a customer so detachment is impossible.",
        ));
    };
    ctx.acct.update(id, |v| v["customer"] = Value::Null);
    ctx.acct.update(&customer, |c| {
        if c["invoice_settings"]["default_payment_method"] == id {
            c["invoice_settings"]["default_payment_method"] = Value::Null;
        }
    });
    ctx.acct.fetch("payment_method", id, "id")
}

pub fn retrieve(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch("payment_method", id, "id")
}

pub fn list_for(ctx: &mut Ctx, customer: &str, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["type", "allow_redisplay"]);
    p.allow(&allowed)?;
    ctx.acct.fetch_live("customer", customer, "customer")?;
    let kind = p.str("type")?;
    let url = format!("/v1/customers/{customer}/payment_methods");
    list::page(ctx.acct, "payment_method", p, &url, |v| {
        v["customer"] == customer && kind.as_deref().is_none_or(|k| v["type"] == k)
    })
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["type", "customer"]);
    p.allow(&allowed)?;
    let customer = list::customer_filter(ctx.acct, p)?;
    let kind = p.str("type")?;
    list::page(ctx.acct, "payment_method", p, "/v1/payment_methods", |v| {
        customer.as_deref().is_none_or(|c| v["customer"] == c)
            && kind.as_deref().is_none_or(|k| v["type"] == k)
    })
}

/// `POST /v1/payment_methods/{id}`: a card's expiry (`card[exp_month]`, `card[exp_year]`),
/// its billing details' name, email and phone, metadata, `allow_redisplay`.
pub fn update(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    use crate::params::{allow_nested, apply_metadata, opt_int, opt_obj, opt_str};
    p.allow(&[
        "card",
        "billing_details",
        "metadata",
        "allow_redisplay",
        "payment_method_configuration",
        "us_bank_account",
    ])?;
    let mut pm = ctx.acct.fetch("payment_method", id, "id")?;
    if let Some(Some(card)) = opt_obj(p.get("card"), "card")? {
        allow_nested(card, "card", &["exp_month", "exp_year", "networks"])?;
        if let Some(m) = opt_int(card.get("exp_month"), "card[exp_month]")? {
            if !(1..=12).contains(&m) {
                return Err(ApiError::invalid_param(
                    "card[exp_month]",
                    "Your card's expiration month is invalid.",
                ));
            }
            pm["card"]["exp_month"] = json!(m);
        }
        if let Some(y) = opt_int(card.get("exp_year"), "card[exp_year]")? {
            pm["card"]["exp_year"] = json!(y);
        }
    }
    if let Some(Some(details)) = opt_obj(p.get("billing_details"), "billing_details")? {
        allow_nested(
            details,
            "billing_details",
            &["address", "email", "name", "phone", "tax_id"],
        )?;
        for key in ["email", "name", "phone"] {
            if let Some(v) = opt_str(details.get(key), &format!("billing_details[{key}]"))? {
                pm["billing_details"][key] = json!(v);
            }
        }
    }
    if let Some(r) = p.str("allow_redisplay")? {
        pm["allow_redisplay"] = json!(r);
    }
    apply_metadata(&mut pm["metadata"], p.get("metadata"))?;
    ctx.acct.put(pm.clone());
    Ok(pm)
}
