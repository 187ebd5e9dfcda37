//! Coupons, promotion codes, and redeeming them into discounts (`discounts[]` on
//! subscriptions). What a discount takes off an invoice is billing's arithmetic
//! (`billing::discounts`); this module only decides whether a redemption is allowed and
//! records it.

use serde_json::{Map, Value, json};

use crate::clock::add_interval;
use crate::errors::{ApiError, ApiResult};
use crate::list::{self, PAGING};
use crate::params::{
    Params, allow_nested, apply_metadata, opt_bool, opt_int, opt_obj, opt_str, str_list,
};
use crate::store::Ctx;
use crate::store::{new_id, random_alnum};

// ---- coupons ----

pub fn create_coupon(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "id",
        "percent_off",
        "amount_off",
        "currency",
        "duration",
        "duration_in_months",
        "max_redemptions",
        "redeem_by",
        "name",
        "metadata",
        "applies_to",
        "currency_options",
    ])?;
    let percent_off = match p.str("percent_off")? {
        Some(raw) => Some(raw.parse::<f64>().map_err(|_| {
            ApiError::invalid_param("percent_off", format!("Invalid decimal: {raw}"))
        })?),
        None => None,
    };
    let amount_off = p.int("amount_off")?;
    let currency = p.str("currency")?.map(|c| c.to_lowercase());
    match (percent_off, amount_off) {
        (None, None) => {
            return Err(ApiError::invalid(
                "You must pass either `percent_off` or `amount_off`.",
            ));
        }
        (Some(_), Some(_)) => {
            return Err(ApiError::invalid(
                "You may only specify one of these parameters: amount_off, percent_off.",
            ));
        }
        (Some(pct), None) if !(pct > 0.0 && pct <= 100.0) => {
            return Err(ApiError::invalid_param(
                "percent_off",
                "percent_off must be greater than 0 and at most 100.",
            ));
        }
        (None, Some(a)) if a <= 0 => {
            return Err(ApiError::invalid_param(
                "amount_off",
                "This value must be greater than or equal to 1.",
            ));
        }
        (None, Some(_)) if currency.is_none() => return Err(ApiError::missing("currency")),
        _ => {}
    }
    let duration = p.str("duration")?.unwrap_or_else(|| "once".into());
    let months = p.int("duration_in_months")?;
    match (duration.as_str(), months) {
        ("repeating", None) => return Err(ApiError::missing("duration_in_months")),
        ("repeating", Some(m)) if m < 1 => {
            return Err(ApiError::invalid_param(
                "duration_in_months",
                "This value must be greater than or equal to 1.",
            ));
        }
        ("repeating", _) => {}
        ("once" | "forever", Some(_)) => {
            return Err(ApiError::invalid_param(
                "duration_in_months",
                "You may only set `duration_in_months` when `duration` is `repeating`.",
            ));
        }
        ("once" | "forever", None) => {}
        (other, _) => {
            return Err(ApiError::invalid_param(
                "duration",
                format!(
                    "Invalid duration: must be one of forever, once, or repeating; got {other}"
                ),
            ));
        }
    }
    let max = positive(p.int("max_redemptions")?, "max_redemptions")?;
    let redeem_by = p.int("redeem_by")?;
    if redeem_by.is_some_and(|t| t <= ctx.now) {
        return Err(ApiError::invalid_param(
            "redeem_by",
            "Invalid timestamp: must be an integer Unix timestamp in the future.",
        ));
    }
    let id = match p.str("id")? {
        Some(id) => {
            if ctx.acct.get(&id).is_some() {
                return Err(already_exists("Coupon already exists.", "id"));
            }
            id
        }
        None => random_alnum(8).to_uppercase(),
    };
    let mut coupon = json!({
        "id": id, "object": "coupon", "amount_off": amount_off, "applies_to": null,
        "created": ctx.now, "currency": if amount_off.is_some() { json!(currency) } else { Value::Null },
        "currency_options": null, "duration": duration,
        "duration_in_months": months, "livemode": false, "max_redemptions": max,
        "metadata": {}, "name": p.str("name")?, "percent_off": percent_off,
        "redeem_by": redeem_by, "times_redeemed": 0, "valid": true,
    });
    if let Some(Some(applies)) = opt_obj(p.get("applies_to"), "applies_to")? {
        allow_nested(applies, "applies_to", &["products"])?;
        let products = str_list(applies.get("products"), "applies_to[products]")?;
        coupon["applies_to"] = json!({"products": products});
    }
    apply_metadata(&mut coupon["metadata"], p.get("metadata"))?;
    ctx.acct.put(coupon);
    retrieve_coupon_value(ctx, &id)
}

fn positive(v: Option<i64>, name: &str) -> ApiResult<Option<i64>> {
    match v {
        Some(n) if n < 1 => Err(ApiError::invalid_param(
            name,
            "This value must be greater than or equal to 1.",
        )),
        other => Ok(other),
    }
}

fn already_exists(message: &str, param: &str) -> ApiError {
    let mut e = ApiError::invalid_param(param, message);
    e.code = Some("resource_already_exists");
    e
}

/// The coupon as the API shows it: `valid` turns false once it cannot be redeemed again.
fn coupon_view(coupon: &Value, now: i64) -> Value {
    let mut out = coupon.clone();
    out["valid"] = json!(coupon_valid(coupon, now));
    out
}

fn coupon_valid(coupon: &Value, now: i64) -> bool {
    let exhausted = coupon["max_redemptions"]
        .as_i64()
        .is_some_and(|m| coupon["times_redeemed"].as_i64().unwrap_or(0) >= m);
    let expired = coupon["redeem_by"].as_i64().is_some_and(|t| t <= now);
    !exhausted && !expired
}

fn retrieve_coupon_value(ctx: &Ctx, id: &str) -> ApiResult<Value> {
    ctx.acct
        .fetch("coupon", id, "id")
        .map(|c| coupon_view(&c, ctx.now))
}

pub fn retrieve_coupon(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    retrieve_coupon_value(ctx, id)
}

pub fn update_coupon(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["name", "metadata", "currency_options"])?;
    let mut coupon = ctx.acct.fetch("coupon", id, "id")?;
    if p.has("name") {
        coupon["name"] = json!(p.str("name")?);
    }
    apply_metadata(&mut coupon["metadata"], p.get("metadata"))?;
    ctx.acct.put(coupon);
    retrieve_coupon_value(ctx, id)
}

pub fn list_coupons(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.push("created");
    p.allow(&allowed)?;
    let created = list::range_filter(p, "created")?;
    let mut page = list::page(ctx.acct, "coupon", p, "/v1/coupons", |c| {
        created(c["created"].as_i64().unwrap_or(0))
    })?;
    render_all(&mut page, |c| coupon_view(c, ctx.now));
    Ok(page)
}

fn render_all(page: &mut Value, f: impl Fn(&Value) -> Value) {
    if let Some(data) = page["data"].as_array_mut() {
        for v in data.iter_mut() {
            *v = f(v);
        }
    }
}

// ---- promotion codes ----

pub fn create_promotion_code(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    p.allow(&[
        "promotion",
        "code",
        "active",
        "customer",
        "customer_account",
        "expires_at",
        "max_redemptions",
        "restrictions",
        "metadata",
    ])?;
    let promotion = match opt_obj(p.get("promotion"), "promotion")? {
        Some(Some(m)) => m,
        _ => return Err(ApiError::missing("promotion")),
    };
    allow_nested(promotion, "promotion", &["type", "coupon"])?;
    let kind = opt_str(promotion.get("type"), "promotion[type]")?
        .ok_or_else(|| ApiError::missing("promotion[type]"))?;
    if kind != "coupon" {
        return Err(ApiError::invalid_param(
            "promotion[type]",
            format!("Invalid promotion[type]: must be coupon; got {kind}"),
        ));
    }
    let coupon_id = opt_str(promotion.get("coupon"), "promotion[coupon]")?
        .ok_or_else(|| ApiError::missing("promotion[coupon]"))?;
    let coupon = ctx.acct.fetch("coupon", &coupon_id, "promotion[coupon]")?;
    let customer = p.str("customer")?;
    if let Some(c) = &customer {
        ctx.acct.fetch_live("customer", c, "customer")?;
    }
    let code = match p.str("code")? {
        Some(code) => {
            if code.is_empty() || !code.chars().all(|c| c.is_ascii_alphanumeric() || c == '-') {
                return Err(ApiError::invalid_param(
                    "code",
                    "Promotion codes may only contain letters (a-z, A-Z), digits (0-9) and dashes (-).",
                ));
            }
            code
        }
        None => random_alnum(8).to_uppercase(),
    };
    let active = p.bool("active")?.unwrap_or(true);
    // Codes are unique regardless of case among active codes a customer could use.
    let clash = ctx.acct.all("promotion_code").into_iter().any(|other| {
        other["active"] == true
            && other["code"]
                .as_str()
                .is_some_and(|c| c.eq_ignore_ascii_case(&code))
            && (other["customer"].is_null()
                || customer.is_none()
                || other["customer"] == customer.as_deref().unwrap_or_default())
    });
    if active && clash {
        return Err(already_exists(
            &format!("An active promotion code with `code: {code}` already exists."),
            "code",
        ));
    }
    let expires_at = p.int("expires_at")?;
    if expires_at.is_some_and(|t| t <= ctx.now) {
        return Err(ApiError::invalid_param(
            "expires_at",
            "Invalid timestamp: must be an integer Unix timestamp in the future.",
        ));
    }
    if let (Some(e), Some(r)) = (expires_at, coupon["redeem_by"].as_i64())
        && e > r
    {
        return Err(ApiError::invalid_param(
            "expires_at",
            "The promotion code's `expires_at` may not be after the coupon's `redeem_by`.",
        ));
    }
    let max = positive(p.int("max_redemptions")?, "max_redemptions")?;
    if let (Some(m), Some(cm)) = (max, coupon["max_redemptions"].as_i64())
        && m > cm
    {
        return Err(ApiError::invalid_param(
            "max_redemptions",
            "The promotion code's `max_redemptions` may not exceed the coupon's `max_redemptions`.",
        ));
    }
    let restrictions = restrictions_value(p.get("restrictions"))?;
    let id = new_id("promo");
    let mut promo = json!({
        "id": id, "object": "promotion_code", "active": active, "code": code,
        "created": ctx.now, "customer": customer, "customer_account": null,
        "expires_at": expires_at, "livemode": false, "max_redemptions": max,
        "metadata": {}, "promotion": {"coupon": coupon_id, "type": "coupon"},
        "restrictions": restrictions, "times_redeemed": 0,
    });
    apply_metadata(&mut promo["metadata"], p.get("metadata"))?;
    ctx.acct.put(promo);
    retrieve_promo_value(ctx, &id)
}

fn restrictions_value(v: Option<&Value>) -> ApiResult<Value> {
    let mut out = json!({
        "currency_options": {}, "first_time_transaction": false,
        "minimum_amount": null, "minimum_amount_currency": null,
    });
    let Some(Some(m)) = opt_obj(v, "restrictions")? else {
        return Ok(out);
    };
    allow_nested(
        m,
        "restrictions",
        &[
            "first_time_transaction",
            "minimum_amount",
            "minimum_amount_currency",
            "currency_options",
        ],
    )?;
    if let Some(b) = opt_bool(
        m.get("first_time_transaction"),
        "restrictions[first_time_transaction]",
    )? {
        out["first_time_transaction"] = json!(b);
    }
    let amount = opt_int(m.get("minimum_amount"), "restrictions[minimum_amount]")?;
    let currency = opt_str(
        m.get("minimum_amount_currency"),
        "restrictions[minimum_amount_currency]",
    )?
    .map(|c| c.to_lowercase());
    match (amount, &currency) {
        (Some(a), _) if a < 0 => {
            return Err(ApiError::invalid_param(
                "restrictions[minimum_amount]",
                "This value must be greater than or equal to 0.",
            ));
        }
        (Some(_), None) => return Err(ApiError::missing("restrictions[minimum_amount_currency]")),
        (None, Some(_)) => return Err(ApiError::missing("restrictions[minimum_amount]")),
        _ => {}
    }
    out["minimum_amount"] = json!(amount);
    out["minimum_amount_currency"] = json!(currency);
    Ok(out)
}

/// The promotion code as the API shows it. Stripe: "A promotion code is only active if the
/// coupon is also valid"; an expired or used-up code is not active either.
fn promo_view(ctx: &Ctx, promo: &Value) -> Value {
    let mut out = promo.clone();
    out["active"] = json!(promo_usable(ctx, promo));
    out
}

fn promo_usable(ctx: &Ctx, promo: &Value) -> bool {
    let coupon_ok = promo["promotion"]["coupon"]
        .as_str()
        .and_then(|c| ctx.acct.get(c))
        .is_some_and(|c| coupon_valid(c, ctx.now));
    let expired = promo["expires_at"].as_i64().is_some_and(|t| t <= ctx.now);
    let exhausted = promo["max_redemptions"]
        .as_i64()
        .is_some_and(|m| promo["times_redeemed"].as_i64().unwrap_or(0) >= m);
    promo["active"] == true && coupon_ok && !expired && !exhausted
}

fn retrieve_promo_value(ctx: &Ctx, id: &str) -> ApiResult<Value> {
    ctx.acct
        .fetch("promotion_code", id, "id")
        .map(|v| promo_view(ctx, &v))
}

pub fn retrieve_promotion_code(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    retrieve_promo_value(ctx, id)
}

pub fn update_promotion_code(ctx: &mut Ctx, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&["active", "metadata", "restrictions"])?;
    let mut promo = ctx.acct.fetch("promotion_code", id, "id")?;
    if let Some(active) = p.bool("active")? {
        promo["active"] = json!(active);
    }
    apply_metadata(&mut promo["metadata"], p.get("metadata"))?;
    ctx.acct.put(promo);
    retrieve_promo_value(ctx, id)
}

pub fn list_promotion_codes(ctx: &mut Ctx, p: &Params) -> ApiResult<Value> {
    let mut allowed = PAGING.to_vec();
    allowed.extend([
        "active",
        "code",
        "coupon",
        "customer",
        "customer_account",
        "created",
    ]);
    p.allow(&allowed)?;
    let active = p.bool("active")?;
    // Stripe's list filter: "Only return promotion codes that have this case-insensitive
    // code." Customers redeem codes the same way (case-insensitively), and uniqueness is
    // checked ignoring case, so `summer25` finds the code created as `SUMMER25`.
    let code = p.str("code")?;
    let coupon = p.str("coupon")?;
    let customer = list::customer_filter(ctx.acct, p)?;
    let created = list::range_filter(p, "created")?;
    let keep: Vec<String> = ctx
        .acct
        .all("promotion_code")
        .into_iter()
        .filter(|v| {
            active.is_none_or(|a| promo_usable(ctx, v) == a)
                && code.as_deref().is_none_or(|c| {
                    v["code"]
                        .as_str()
                        .is_some_and(|have| have.eq_ignore_ascii_case(c))
                })
                && coupon
                    .as_deref()
                    .is_none_or(|c| v["promotion"]["coupon"] == c)
                && customer.as_deref().is_none_or(|c| v["customer"] == c)
                && created(v["created"].as_i64().unwrap_or(0))
        })
        .filter_map(|v| v["id"].as_str().map(String::from))
        .collect();
    let mut page = list::page(ctx.acct, "promotion_code", p, "/v1/promotion_codes", |v| {
        keep.iter().any(|k| v["id"] == k.as_str())
    })?;
    render_all(&mut page, |v| promo_view(ctx, v));
    Ok(page)
}

// ---- redemption ----

/// What a new discount would apply to, for the promotion code's minimum-amount rule.
pub struct Purchase<'a> {
    pub customer: &'a str,
    pub subscription: &'a str,
    /// The amount of the invoice it would first apply to, and its currency.
    pub amount: i64,
    pub currency: &'a str,
}

/// Reads `discounts[]` (`[{coupon}]`, `[{promotion_code}]` or `[{discount}]`) and redeems
/// it into discount ids. `Ok(None)`: leave the discounts as they are (absent or `[]`);
/// `Ok(Some(vec![]))`: clear them (`discounts=""`). `existing` are the subscription's
/// current discounts, which `{discount}` may name.
pub fn redeem(
    ctx: &mut Ctx,
    v: Option<&Value>,
    existing: &[String],
    buy: &Purchase,
) -> ApiResult<Option<Vec<String>>> {
    let list = match v {
        None | Some(Value::Null) => return Ok(None),
        Some(Value::String(s)) if s.is_empty() => return Ok(Some(Vec::new())),
        Some(Value::Array(list)) if list.is_empty() => return Ok(None),
        Some(Value::Array(list)) => list.clone(),
        Some(_) => return Err(ApiError::invalid_param("discounts", "Invalid array")),
    };
    // Check everything first so a refused code redeems nothing.
    let mut specs = Vec::new();
    for (i, entry) in list.iter().enumerate() {
        let name = format!("discounts[{i}]");
        let Value::Object(m) = entry else {
            return Err(ApiError::invalid_param(&name, "Invalid object"));
        };
        specs.push(check(ctx, m, &name, existing, buy)?);
    }
    let mut ids = Vec::new();
    for spec in specs {
        let id = match spec {
            Spec::Existing(id) => id,
            Spec::Coupon { coupon, promo } => record(ctx, &coupon, promo.as_deref(), buy),
        };
        if !ids.contains(&id) {
            ids.push(id);
        }
    }
    Ok(Some(ids))
}

enum Spec {
    Existing(String),
    Coupon {
        coupon: String,
        promo: Option<String>,
    },
}

fn check(
    ctx: &Ctx,
    m: &Map<String, Value>,
    name: &str,
    existing: &[String],
    buy: &Purchase,
) -> ApiResult<Spec> {
    allow_nested(m, name, &["coupon", "promotion_code", "discount"])?;
    let coupon = opt_str(m.get("coupon"), &format!("{name}[coupon]"))?;
    let promo = opt_str(m.get("promotion_code"), &format!("{name}[promotion_code]"))?;
    let discount = opt_str(m.get("discount"), &format!("{name}[discount]"))?;
    match (coupon, promo, discount) {
        (Some(c), None, None) => {
            let param = format!("{name}[coupon]");
            let coupon = ctx.acct.fetch("coupon", &c, &param)?;
            check_coupon(ctx, &coupon, &param)?;
            Ok(Spec::Coupon {
                coupon: c,
                promo: None,
            })
        }
        (None, Some(pc), None) => {
            let param = format!("{name}[promotion_code]");
            let promo = ctx.acct.fetch("promotion_code", &pc, &param)?;
            check_promo(ctx, &promo, &param, buy)?;
            Ok(Spec::Coupon {
                coupon: promo["promotion"]["coupon"]
                    .as_str()
                    .unwrap_or_default()
                    .to_string(),
                promo: Some(pc),
            })
        }
        (None, None, Some(d)) => {
            if !existing.contains(&d) {
                return Err(ApiError::invalid_param(
                    &format!("{name}[discount]"),
                    format!("No such discount: '{d}'"),
                ));
            }
            Ok(Spec::Existing(d))
        }
        (None, None, None) => Err(ApiError::invalid_param(
            name,
            "You must pass one of `coupon`, `promotion_code` or `discount`.",
        )),
        _ => Err(ApiError::invalid_param(
            name,
            "You may only specify one of these parameters: coupon, discount, promotion_code.",
        )),
    }
}

fn check_coupon(ctx: &Ctx, coupon: &Value, param: &str) -> ApiResult<()> {
    let id = coupon["id"].as_str().unwrap_or_default();
    if coupon["redeem_by"].as_i64().is_some_and(|t| t <= ctx.now) {
        let mut e = ApiError::invalid_param(param, format!("Coupon expired: {id}"));
        e.code = Some("coupon_expired");
        return Err(e);
    }
    if !coupon_valid(coupon, ctx.now) {
        return Err(ApiError::invalid_param(
            param,
            format!("Coupon {id} has been redeemed the maximum number of times."),
        ));
    }
    Ok(())
}

fn check_promo(ctx: &Ctx, promo: &Value, param: &str, buy: &Purchase) -> ApiResult<()> {
    let code = promo["code"].as_str().unwrap_or_default();
    let coupon_id = promo["promotion"]["coupon"].as_str().unwrap_or_default();
    let coupon = ctx.acct.fetch("coupon", coupon_id, param)?;
    check_coupon(ctx, &coupon, param)?;
    if promo["expires_at"].as_i64().is_some_and(|t| t <= ctx.now) {
        let mut e =
            ApiError::invalid_param(param, format!("This promotion code ({code}) has expired."));
        e.code = Some("coupon_expired");
        return Err(e);
    }
    if !promo_usable(ctx, promo) {
        return Err(ApiError::invalid_param(
            param,
            format!(
                "This promotion code ({code}) is inactive or has been redeemed the maximum number of times."
            ),
        ));
    }
    if let Some(only) = promo["customer"].as_str()
        && only != buy.customer
    {
        return Err(ApiError::invalid_param(
            param,
            "This promotion code cannot be redeemed by this customer.",
        ));
    }
    let r = &promo["restrictions"];
    if r["first_time_transaction"] == true && has_prior_transactions(ctx, buy.customer) {
        return Err(ApiError::invalid_param(
            param,
            "This promotion code cannot be redeemed because the associated customer has prior transactions.",
        ));
    }
    if let Some(min) = r["minimum_amount"].as_i64() {
        let currency = r["minimum_amount_currency"].as_str().unwrap_or_default();
        if currency != buy.currency || buy.amount < min {
            return Err(ApiError::invalid_param(
                param,
                format!(
                    "This promotion code requires a minimum purchase of {} and cannot be applied.",
                    super::billing::money(min, currency)
                ),
            ));
        }
    }
    Ok(())
}

/// Stripe: "customers without any successful payments or invoices" may use a
/// first-time-transaction code; a paid invoice (even a trial's) or a charge counts.
fn has_prior_transactions(ctx: &Ctx, customer: &str) -> bool {
    ctx.acct
        .all("invoice")
        .iter()
        .any(|i| i["customer"] == customer && i["status"] == "paid")
        || ctx
            .acct
            .all("charge")
            .iter()
            .any(|c| c["customer"] == customer && c["status"] == "succeeded")
}

/// Creates the discount and counts the redemption on the coupon and promotion code.
fn record(ctx: &mut Ctx, coupon_id: &str, promo: Option<&str>, buy: &Purchase) -> String {
    let coupon = ctx.acct.get(coupon_id).cloned().unwrap_or(Value::Null);
    let end = (coupon["duration"] == "repeating").then(|| {
        add_interval(
            ctx.now,
            "month",
            coupon["duration_in_months"].as_i64().unwrap_or(1),
        )
    });
    let id = new_id("di");
    ctx.acct.put(json!({
        "id": id, "object": "discount", "checkout_session": null, "customer": buy.customer,
        "customer_account": null, "end": end, "invoice": null, "invoice_item": null,
        "promotion_code": promo, "source": {"coupon": coupon_id, "type": "coupon"},
        "start": ctx.now, "subscription": buy.subscription, "subscription_item": null,
    }));
    let bump = |v: &mut Value| {
        v["times_redeemed"] = json!(v["times_redeemed"].as_i64().unwrap_or(0) + 1);
    };
    ctx.acct.update(coupon_id, bump);
    if let Some(p) = promo {
        ctx.acct.update(p, bump);
    }
    let now = ctx.now;
    ctx.acct
        .update(coupon_id, |c| c["valid"] = json!(coupon_valid(c, now)));
    id
}
