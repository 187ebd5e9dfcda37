//! Refunds of a charge (named directly or through its payment intent): whole or partial,
//! at most what is left, never of a disputed, failed or fully refunded charge. The charge
//! keeps `amount_refunded`, `refunded` and its `refunds` list current.

use serde_json::{Value, json};

use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{Params, apply_metadata};
use crate::store::Ctx;
use crate::store::new_id;

const REASONS: &[&str] = &["duplicate", "fraudulent", "requested_by_customer"];

pub fn create(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "charge",
        "payment_intent",
        "amount",
        "reason",
        "metadata",
        "expand",
        "instructions_email",
        "origin",
        "refund_application_fee",
        "reverse_transfer",
    ])?;
    if let Some(origin) = p.str("origin")?
        && origin != "customer_balance"
    {
        return Err(ApiError::invalid_param(
            "origin",
            format!("Invalid origin: must be customer_balance; got {origin}"),
        ));
    }
    // No Connect here: there is no application fee or transfer to reverse, so `true` is
    // accepted and changes nothing, as on a charge without them.
    for flag in ["refund_application_fee", "reverse_transfer"] {
        p.bool(flag)?;
    }
    let charge_id = match (p.str("charge")?, p.str("payment_intent")?) {
        (Some(c), _) => c,
        (None, Some(pi)) => {
            let intent = ctx.acct.fetch("payment_intent", &pi, "payment_intent")?;
            intent["latest_charge"]
                .as_str()
                .map(str::to_string)
                .ok_or_else(|| {
                    ApiError::coded(
                        "charge_not_refundable",
                        format!("PaymentIntent {pi} does not have a successful charge to refund."),
                    )
                })?
        }
        (None, None) => {
            return Err(ApiError::invalid(
                "One of the following params should be provided for this request: payment_intent or charge.",
            ));
        }
    };
    let charge = ctx.acct.fetch("charge", &charge_id, "charge")?;
    if let Some(r) = p.str("reason")?
        && !REASONS.contains(&r.as_str())
    {
        return Err(ApiError::invalid_param(
            "reason",
            format!(
                "Invalid reason: must be one of duplicate, fraudulent, or requested_by_customer; got {r}"
            ),
        ));
    }
    if charge["disputed"] == true {
        return Err(ApiError::coded(
            "charge_disputed",
            format!("Charge {charge_id} has been charged back; cannot issue a refund."),
        ));
    }
    if charge["status"] != "succeeded" {
        return Err(ApiError::coded(
            "charge_not_refundable",
            format!("Charge {charge_id} has not succeeded, so it cannot be refunded."),
        ));
    }
    let total = charge["amount"].as_i64().unwrap_or(0);
    let done = charge["amount_refunded"].as_i64().unwrap_or(0);
    let left = total - done;
    if left <= 0 {
        return Err(ApiError::coded(
            "charge_already_refunded",
            format!("Charge {charge_id} has already been refunded."),
        ));
    }
    let amount = p.int("amount")?.unwrap_or(left);
    if amount <= 0 {
        return Err(ApiError::invalid_param(
            "amount",
            "Invalid positive integer",
        ));
    }
    if amount > left {
        let cur = charge["currency"].as_str().unwrap_or("usd");
        return Err(ApiError::coded(
            "amount_too_large",
            format!(
                "Refund amount ({}) is greater than unrefunded amount on charge ({})",
                super::billing::money(amount, cur),
                super::billing::money(left, cur)
            ),
        )
        .with_param("amount"));
    }
    let id = new_id("re");
    let txn = new_id("txn");
    ctx.acct.put(json!({
        "id": txn, "object": "balance_transaction", "amount": -amount,
        "available_on": ctx.now, "balance_type": "payments", "created": ctx.now,
        "currency": charge["currency"], "description": "REFUND FOR CHARGE",
        "exchange_rate": null, "fee": 0, "fee_details": [], "net": -amount,
        "reporting_category": "refund", "source": id, "status": "available", "type": "refund",
    }));
    let mut refund = json!({
        "id": id, "object": "refund", "amount": amount, "balance_transaction": txn,
        "charge": charge_id, "created": ctx.now, "currency": charge["currency"],
        "customer": charge["customer"], "customer_account": null, "description": null,
        "failure_balance_transaction": null, "failure_reason": null,
        "instructions_email": null, "next_action": null,
        "payment_method": charge["payment_method"], "pending_reason": null,
        "presentment_details": null,
        "destination_details": {"card": {"reference": null, "reference_status": "pending", "reference_type": "acquirer_reference_number", "type": "refund"}, "type": "card"},
        "metadata": {}, "payment_intent": charge["payment_intent"],
        "reason": p.str("reason")?, "receipt_number": null,
        "source_transfer_reversal": null,
        // Card refunds in test mode succeed at once; the money reaches the card later.
        "status": "succeeded", "transfer_reversal": null,
    });
    apply_metadata(&mut refund["metadata"], p.get("metadata"))?;
    ctx.acct.put(refund.clone());
    ctx.acct.update(&charge_id, |c| {
        let refunded = done + amount;
        c["amount_refunded"] = json!(refunded);
        c["refunded"] = json!(refunded >= total);
        if let Some(list) = c["refunds"]["data"].as_array_mut() {
            list.insert(0, refund.clone());
        }
        c["refunds"]["total_count"] = json!(c["refunds"]["data"].as_array().map_or(0, Vec::len));
    });
    Ok(refund)
}

pub fn list(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend(["charge", "payment_intent", "created"]);
    p.allow(&allowed)?;
    let charge = p.str("charge")?;
    let intent = p.str("payment_intent")?;
    let created = list::range_filter(p, "created")?;
    list::page(ctx.acct, "refund", p, "/v1/refunds", |r| {
        charge.as_deref().is_none_or(|c| r["charge"] == c)
            && intent.as_deref().is_none_or(|i| r["payment_intent"] == i)
            && created(r["created"].as_i64().unwrap_or(0))
    })
}
