//! `apply_coupon` (W): a promotion code the visitor types, checked as Stripe would check it
//! (active, expiry, redemptions, customer, first purchase only, minimum amount, the products
//! it applies to) before the preview, which shows the next invoice before and after. A code
//! that exists but is not for this visitor answers exactly as an unknown one, and proposals
//! are counted per customer per hour, so the tool is no oracle for guessing codes. The
//! policy adds at most one code's discount to a subscription (unless `policy.stack_codes`).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::retention::{self, OfferId, Taken};
use super::{current_with, nothing, taken_offer};
use crate::billing::money;
use crate::billing::money::Money;
use crate::billing::views::discount_phrase;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call};
use crate::pipeline::policy::Act;
use crate::pipeline::two_phase::{Plan, WriteTool};
use crate::ports::ledger::Bound;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids::SubscriptionId;
use crate::stripe::types::Expandable;
use crate::stripe::writes::{DiscountRef, InvoicePreview, SubscriptionUpdate};
use crate::timefmt::{now_unix, rfc3339};

#[derive(Default)]
pub struct ApplyCoupon;

/// What `apply_coupon` shows before it is confirmed.
#[derive(Debug, Serialize, Deserialize)]
pub struct CodePreview {
    pub subscription_id: String,
    pub plan: String,
    pub code: String,
    /// "20% off for 3 months".
    pub discount: String,
    pub next_invoice_date: Option<String>,
    pub before: Money,
    pub after: Money,
    /// The retention offer this takes, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub taken: Option<Taken>,
}

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CouponArgs {
    /// The promotion code as the visitor typed it (e.g. `SPRING20`).
    pub code: String,
    /// The subscription it is for (`sub_...`); default: the visitor's current one.
    #[serde(default)]
    pub subscription_id: Option<SubscriptionId>,
    /// The id of the retention offer this call takes, as `cancel_subscription`'s preview
    /// gave it in `offers[].accept.arguments` (counts the save).
    #[serde(default)]
    pub offer: Option<OfferId>,
}

fn invalid(reason: &str, message: impl Into<String>) -> ApiError {
    ApiError::invalid_request(message.into()).with_reason(reason)
}

impl WriteTool for ApplyCoupon {
    const NAME: &'static str = "apply_coupon";
    const DESCRIPTION: &'static str = "Applies a promotion code the visitor has to their subscription, showing the next invoice before and after.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Subscriptions,
        Need::Invoices,
        Need::InvoicePreview,
        Need::PromotionCodes,
        Need::SubscriptionUpdate,
    ];
    type Args = CouponArgs;
    type Preview = CodePreview;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        let c = &args.code;
        if c.trim().is_empty() || c.len() > 200 || c.chars().any(char::is_control) {
            return Err(invalid(
                "invalid_field",
                "Invalid field `code`: must be the promotion code as written, 1 to 200 characters.",
            ));
        }
        args.offer.as_ref().map(OfferId::check).transpose()?;
        Ok(())
    }

    async fn plan<'a>(
        &'a self,
        call: &'a Call<'a>,
        args: &'a Self::Args,
        pins: Option<&'a Value>,
    ) -> Result<Plan<Self::Preview>, ApiError> {
        let code = args.code.trim();
        // Every proposal counts, found or not: guessing codes costs attempts. The count is
        // taken beside the look-ups (no round trip added); a confirmation does not count.
        let attempts = async {
            if pins.is_some() {
                return Ok(true);
            }
            let hour = now_unix().div_euclid(3600);
            let cap = call.tenant.policy.code_attempts_per_hour;
            let bound = Bound::count(
                format!("code_attempts#{}#{hour}", call.customer_id),
                cap,
                "code_attempt_limit",
                String::new(),
                (hour + 2) * 3600,
            );
            call.app.ledger.take(&call.tenant.tenant, &bound).await
        };
        let allowed = &call.tenant.policy.allowed_codes;
        // A retention offer's code is the tenant's to give, listed or not; the policy
        // gives it once a year.
        let retention = call.tenant.policy.is_retention_code(code);
        // Stripe matches promotion codes without regard to case; so does the allow-list.
        if !allowed.is_empty()
            && !retention
            && !allowed.iter().any(|a| a.eq_ignore_ascii_case(code))
        {
            return Err(ApiError::policy_denied(
                "code_not_allowed",
                "That code can't be applied here; a person from support can help.",
            ));
        }
        let promos = api::promotion_codes()
            .set("code", code)
            .limit(1)
            .expand("data.promotion.coupon.applies_to");
        let paid = api::invoices(call.customer_id)
            .set("status", "paid")
            .limit(1);
        let (sub, promos, paid, attempts) = futures::join!(
            current_with(call, args.subscription_id.as_deref(), &["discounts"]),
            call.stripe.get(&promos),
            call.stripe.get(&paid),
            attempts,
        );
        if !attempts? {
            return Err(ApiError::policy_denied(
                "code_attempt_limit",
                "That's a lot of codes in one hour; please try again later, or a person from our support team can help.",
            ));
        }
        let Some((sub, plan)) = sub? else {
            return Ok(Plan::Instead(nothing(
                "You don't have an active subscription to apply a code to.",
            )));
        };
        let unknown = || {
            invalid(
                "code_unknown",
                "That promotion code doesn't exist; please check how it is written.",
            )
        };
        let promo = promos?.data.into_iter().next().ok_or_else(unknown)?;
        // A code restricted to another customer is, to this visitor, no code at all.
        if promo
            .customer
            .as_deref()
            .is_some_and(|c| c != call.customer_id)
        {
            return Err(unknown());
        }
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
        // Stripe applies a coupon restricted to products to those products' lines only; one
        // for none of this plan's products would take nothing off.
        if let Some(only) = coupon
            .applies_to
            .as_ref()
            .filter(|a| !a.products.is_empty())
        {
            let fits = sub
                .items
                .data
                .iter()
                .any(|i| only.products.iter().any(|p| p == i.price.product.id()));
            if !fits {
                return Err(invalid(
                    "code_not_applicable",
                    "That promotion code can't be applied to your subscription.",
                ));
            }
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
        let discounts: Vec<DiscountRef> = sub
            .discounts
            .iter()
            .map(|d| DiscountRef::Discount(d.id().to_string()))
            .chain([DiscountRef::PromotionCode(promo.id.clone())])
            .collect();
        let preview = |discounts| {
            api::preview_invoice(
                call.customer_id,
                &InvoicePreview {
                    subscription: Some(sub.id.clone()),
                    discounts,
                    ..Default::default()
                },
            )
        };
        let (base, with) = (preview(None), preview(Some(discounts.clone())));
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
            _ => ApiError::from(e),
        })?;
        let cur = before.currency.clone();
        let date = before.next_payment_attempt.unwrap_or(before.created);
        let what = discount_phrase(&coupon);
        Ok(Plan::Change {
            preview: CodePreview {
                taken: taken_offer(
                    call,
                    args.offer.as_ref(),
                    &format!("discount_{}", code.to_ascii_lowercase()),
                    Money::new(after.amount_due, &cur),
                )?,
                subscription_id: sub.id.clone(),
                plan: plan.clone(),
                code: promo.code.clone(),
                discount: what.clone(),
                next_invoice_date: rfc3339(date),
                before: Money::new(before.amount_due, &cur),
                after: Money::new(after.amount_due, &cur),
            },
            summary: format!(
                "Code {} gives {what} on your {plan} plan: your next invoice, on {}, goes from {} to {}.",
                promo.code,
                call.dates.date(date),
                money(before.amount_due, &cur),
                money(after.amount_due, &cur)
            ),
            change: api::update_subscription(
                &sub.id,
                &SubscriptionUpdate {
                    discounts: Some(discounts),
                    ..Default::default()
                },
            )
            .untyped(),
            then: Vec::new(),
            act: Act::Code {
                subscription: sub.id.clone(),
                code: promo.id.clone(),
                existing: sub.discounts.len() as u32,
                retention,
            },
            pins: json!({}),
        })
    }

    fn done(&self, call: &Call<'_>, p: &CodePreview, _sent: &[Value]) -> Answer {
        if let Some(taken) = &p.taken {
            retention::accepted(call, &p.subscription_id, taken);
        }
        Answer {
            data: json!({
                "changed": true, "subscription_id": p.subscription_id,
                "code": p.code, "discount": p.discount,
                "before": p.before, "after": p.after,
            }),
            summary: format!(
                "Done: {} is applied ({}); your next invoice will be {}.",
                p.code, p.discount, p.after.formatted
            ),
        }
    }
}
