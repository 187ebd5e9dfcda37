//! `apply_coupon` (W): a promotion code the visitor types, checked as Stripe would check it
//! (active, expiry, redemptions, customer, first purchase only, minimum amount) before the
//! preview, which shows the next invoice before and after. Added to the subscription's
//! `discounts`, keeping the ones it has.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::{current_with, nothing};
use crate::billing::money;
use crate::error::ApiError;
use crate::money::Money;
use crate::stripe::Params;
use crate::stripe::api;
use crate::stripe::types::Expandable;
use crate::timefmt::{now_unix, rfc3339};
use crate::tool::{Answer, Call};
use crate::tools::check_opt_id;
use crate::tools::subscription_status::discount_phrase;
use crate::write::{Plan, WriteTool};

#[derive(Default)]
pub struct ApplyCoupon;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponArgs {
    /// The promotion code as the visitor typed it (e.g. `SPRING20`).
    pub code: String,
    /// The subscription it is for (`sub_...`); default: the visitor's current one.
    #[serde(default)]
    pub subscription_id: Option<String>,
}

fn invalid(reason: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(message.into()).with_reason(reason)
}

impl WriteTool for ApplyCoupon {
    const NAME: &'static str = "apply_coupon";
    const DESCRIPTION: &'static str = "Applies a promotion code the visitor has to their subscription, showing the next invoice before and after.";
    type Args = CouponArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        let c = &args.code;
        if c.trim().is_empty() || c.len() > 200 || c.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_field",
                "Invalid field `code`: must be the promotion code as written, 1 to 200 characters.",
            ));
        }
        check_opt_id("subscription_id", args.subscription_id.as_deref(), "sub_")
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        _pins: Option<&'a Value>,
    ) -> Result<Plan, ApiError> {
        let code = args.code.trim();
        let allowed = &call.tenant.policy.allowed_codes;
        // Stripe matches promotion codes without regard to case; so does the allow-list.
        if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(code)) {
            return Err(ApiError::policy_denied(
                "code_not_allowed",
                "That code can't be applied here; a person from support can help.",
            ));
        }
        let promos = api::promotion_codes()
            .set("code", code)
            .set("limit", 1)
            .expand("data.promotion.coupon");
        let paid = api::invoices(call.customer_id)
            .set("status", "paid")
            .set("limit", 1);
        let (sub, promos, paid) = futures::join!(
            current_with(call, args.subscription_id.as_deref(), &["discounts"]),
            call.stripe.get(&promos),
            call.stripe.get(&paid),
        );
        let Some((sub, plan)) = sub? else {
            return Ok(Plan::Instead(nothing(
                "You don't have an active subscription to apply a code to.",
            )));
        };
        let promo = promos?.data.into_iter().next().ok_or_else(|| {
            invalid(
                "code_unknown",
                "That promotion code doesn't exist; please check how it is written.",
            )
        })?;
        let coupon = match &promo.promotion.coupon {
            Some(Expandable::Object(c)) => c.clone(),
            _ => {
                return Err(invalid(
                    "code_inactive",
                    "That promotion code can't be used any more.",
                ));
            }
        };
        let now = now_unix();
        if promo.expires_at.is_some_and(|t| t <= now) {
            return Err(invalid("code_expired", "That promotion code has expired."));
        }
        if promo
            .max_redemptions
            .is_some_and(|m| promo.times_redeemed >= m)
        {
            return Err(invalid(
                "code_used_up",
                "That promotion code has been used as often as it can be.",
            ));
        }
        // After the specific reasons: Stripe reports expired and used-up codes as inactive too.
        if !promo.active || !coupon.valid {
            return Err(invalid(
                "code_inactive",
                "That promotion code can't be used any more.",
            ));
        }
        if promo
            .customer
            .as_deref()
            .is_some_and(|c| c != call.customer_id)
        {
            return Err(invalid(
                "code_not_for_you",
                "That promotion code is for another account.",
            ));
        }
        let paid_before = !paid?.data.is_empty();
        if promo.restrictions.first_time_transaction && paid_before {
            return Err(invalid(
                "code_first_time_only",
                "That promotion code is for a first purchase only.",
            ));
        }
        let recurring: i64 = sub
            .items
            .data
            .iter()
            .map(|i| i.price.unit_amount.unwrap_or(0) * i.quantity.unwrap_or(1) as i64)
            .sum();
        if let (Some(min), Some(min_cur)) = (
            promo.restrictions.minimum_amount,
            promo.restrictions.minimum_amount_currency.as_deref(),
        ) && min_cur.eq_ignore_ascii_case(&sub.currency)
            && recurring < min
        {
            return Err(invalid(
                "code_minimum_not_met",
                format!(
                    "That promotion code needs an invoice of at least {}.",
                    money(min, &sub.currency)
                ),
            ));
        }
        if sub
            .discounts
            .iter()
            .filter_map(|d| d.object())
            .any(|d| d.promotion_code.as_deref() == Some(promo.id.as_str()))
        {
            return Ok(Plan::Instead(nothing(format!(
                "{} is already applied to your {plan} plan.",
                promo.code
            ))));
        }
        // Keep the discounts the subscription has; add this one.
        let mut discounts = Params::new();
        let mut n = 0;
        for d in &sub.discounts {
            discounts = discounts.set(format!("discounts[{n}][discount]"), d.id());
            n += 1;
        }
        discounts = discounts.set(format!("discounts[{n}][promotion_code]"), &promo.id);
        let base = api::preview_invoice(call.customer_id).set("subscription", &sub.id);
        let with = base.clone().with(discounts.clone());
        let (key_before, key_after) = (
            format!("{}:coupon-before", call.request_id),
            format!("{}:coupon-after", call.request_id),
        );
        // Independent previews, asked at once.
        let (before, after) = futures::join!(
            call.stripe.post(&base, &key_before),
            call.stripe.post(&with, &key_after),
        );
        let before = before?;
        // Stripe may still refuse the code for this subscription (a rule we did not see).
        let after = after.map_err(|e| match e.status() {
            Some(400) => invalid(
                "code_not_applicable",
                "That promotion code can't be applied to your subscription.",
            ),
            _ => e.to_api_error(),
        })?;
        let cur = before.currency.clone();
        let date = before.next_payment_attempt.unwrap_or(before.created);
        let what = discount_phrase(&coupon);
        Ok(Plan::Change {
            preview: json!({
                "subscription_id": sub.id, "plan": plan, "code": promo.code,
                "discount": what, "next_invoice_date": rfc3339(date),
                "before": Money::new(before.amount_due, &cur),
                "after": Money::new(after.amount_due, &cur),
            }),
            summary: format!(
                "Code {} gives {what} on your {plan} plan: your next invoice, on {}, goes from {} to {}.",
                promo.code,
                call.dates.date(date),
                money(before.amount_due, &cur),
                money(after.amount_due, &cur)
            ),
            change: api::update_subscription(&sub.id).with(discounts).untyped(),
            pins: json!({}),
        })
    }

    fn done(&self, _call: &Call<'_>, preview: &Value, _stripe: &Value) -> Answer {
        Answer {
            data: json!({
                "changed": true, "subscription_id": preview["subscription_id"],
                "code": preview["code"], "discount": preview["discount"],
                "before": preview["before"], "after": preview["after"],
            }),
            summary: format!(
                "Done: {} is applied ({}); your next invoice will be {}.",
                preview["code"].as_str().unwrap_or("the code"),
                preview["discount"].as_str().unwrap_or("a discount"),
                preview["after"]["formatted"].as_str().unwrap_or_default()
            ),
        }
    }
}
