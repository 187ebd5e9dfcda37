//! Discount arithmetic: what a subscription's discounts (coupons, redeemed directly or
//! through promotion codes) take off an invoice's lines.
//!
//! Each line's share goes in its `discount_amounts`; the invoice lists the discounts in
//! `discounts` and their sums in `total_discount_amounts`. A `percent_off` coupon takes its
//! share of every discountable line (a credit proration's share is negative, so the credit
//! shrinks as the charge it undoes was discounted); an `amount_off` coupon takes its amount
//! once per invoice, at most what is left, spread over the positive lines. A coupon with
//! `applies_to[products]` discounts only the lines of those products (Stripe: "A list of
//! product IDs this coupon applies to"); the other lines keep their full amount.

use serde_json::{Value, json};

use crate::store::Account;

pub struct Applied {
    /// Discounts active on this invoice.
    pub ids: Vec<String>,
    /// `[{amount, discount}]` per discount.
    pub amounts: Vec<Value>,
    pub total: i64,
    /// `duration=once` discounts this invoice used up.
    pub used_up: Vec<String>,
}

/// Whether the discount still applies at `at` (a `repeating` one has an `end`).
pub fn active(acct: &Account, id: &str, at: i64) -> bool {
    acct.get(id)
        .is_some_and(|d| d["object"] == "discount" && d["end"].as_i64().is_none_or(|end| at < end))
}

pub fn apply(
    acct: &Account,
    discount_ids: &[String],
    currency: &Value,
    lines: &mut [Value],
    at: i64,
) -> Applied {
    let mut applied = Applied {
        ids: Vec::new(),
        amounts: Vec::new(),
        total: 0,
        used_up: Vec::new(),
    };
    for id in discount_ids {
        if !active(acct, id, at) {
            continue;
        }
        let Some(coupon) = acct
            .get(id)
            .and_then(|d| d["source"]["coupon"].as_str())
            .and_then(|c| acct.get(c))
        else {
            continue;
        };
        let left: i64 = lines.iter().filter(|l| eligible(coupon, l)).map(net).sum();
        let shares = shares(coupon, currency, lines, left);
        let sum: i64 = shares.iter().sum();
        for (line, share) in lines.iter_mut().zip(&shares) {
            if *share != 0
                && let Some(list) = line["discount_amounts"].as_array_mut()
            {
                list.push(json!({"amount": share, "discount": id}));
            }
        }
        applied.ids.push(id.clone());
        applied.amounts.push(json!({"amount": sum, "discount": id}));
        applied.total += sum;
        if coupon["duration"] == "once" && sum > 0 {
            applied.used_up.push(id.clone());
        }
    }
    applied
}

/// A line's amount after the discounts already on it.
fn net(line: &Value) -> i64 {
    if line["discountable"] == false {
        return 0;
    }
    let taken: i64 = line["discount_amounts"]
        .as_array()
        .map(|d| d.iter().filter_map(|d| d["amount"].as_i64()).sum())
        .unwrap_or(0);
    line["amount"].as_i64().unwrap_or(0) - taken
}

/// Whether the coupon discounts this line: any line, unless it names the products it
/// applies to.
fn eligible(coupon: &Value, line: &Value) -> bool {
    match coupon["applies_to"]["products"].as_array() {
        Some(products) => {
            let product = &line["pricing"]["price_details"]["product"];
            products.iter().any(|p| p == product)
        }
        None => true,
    }
}

fn shares(coupon: &Value, currency: &Value, lines: &[Value], left: i64) -> Vec<i64> {
    // What the coupon may discount of each line: nothing of another product's.
    let base = |l: &Value| if eligible(coupon, l) { net(l) } else { 0 };
    if let Some(pct) = coupon["percent_off"].as_f64() {
        return lines
            .iter()
            .map(|l| (base(l) as f64 * pct / 100.0).round() as i64)
            .collect();
    }
    let Some(off) = coupon["amount_off"].as_i64() else {
        return vec![0; lines.len()];
    };
    if coupon["currency"] != *currency || left <= 0 {
        return vec![0; lines.len()];
    }
    let take = off.min(left);
    let positive: i64 = lines.iter().map(|l| base(l).max(0)).sum();
    let mut out: Vec<i64> = lines
        .iter()
        .map(|l| (take as i128 * base(l).max(0) as i128 / positive.max(1) as i128) as i64)
        .collect();
    // Whole cents: the last positive line takes what integer division left over.
    let rest = take - out.iter().sum::<i64>();
    if let Some(i) = lines.iter().rposition(|l| base(l) > 0) {
        out[i] += rest;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn acct_with(coupon: Value) -> Account {
        let mut acct = Account::default();
        acct.put(coupon);
        acct.put(json!({"id": "di_1", "object": "discount", "end": null,
                        "source": {"coupon": "C1", "type": "coupon"}}));
        acct
    }

    fn line(amount: i64) -> Value {
        json!({"amount": amount, "discountable": true, "discount_amounts": []})
    }

    #[test]
    fn percent_off_every_line() {
        let acct = acct_with(json!({"id": "C1", "object": "coupon", "percent_off": 25.0,
                                   "duration": "forever"}));
        let mut lines = vec![line(-2450), line(4950), line(9900)];
        let a = apply(&acct, &["di_1".into()], &json!("usd"), &mut lines, 0);
        assert_eq!(a.total, -613 + 1238 + 2475);
        assert_eq!(lines[1]["discount_amounts"][0]["amount"], 1238);
        assert!(a.used_up.is_empty());
    }

    #[test]
    fn applies_to_discounts_only_the_products_named() {
        let acct = acct_with(json!({"id": "C1", "object": "coupon", "percent_off": 50.0,
                                   "duration": "forever",
                                   "applies_to": {"products": ["prod_A"]}}));
        let of = |amount: i64, product: &str| {
            json!({"amount": amount, "discountable": true, "discount_amounts": [],
                   "pricing": {"type": "price_details",
                               "price_details": {"price": "price_x", "product": product}}})
        };
        let mut lines = vec![of(4900, "prod_B"), of(1000, "prod_A")];
        let a = apply(&acct, &["di_1".into()], &json!("usd"), &mut lines, 0);
        assert_eq!(a.total, 500, "half of prod_A's line, nothing of prod_B's");
        let amount_off = acct_with(json!({"id": "C1", "object": "coupon", "amount_off": 2000,
                                          "currency": "usd", "duration": "forever",
                                          "applies_to": {"products": ["prod_A"]}}));
        let mut lines = vec![of(4900, "prod_B"), of(1000, "prod_A")];
        let a = apply(&amount_off, &["di_1".into()], &json!("usd"), &mut lines, 0);
        assert_eq!(a.total, 1000, "at most the eligible line's amount");
        let mut other = vec![of(4900, "prod_B")];
        assert_eq!(
            apply(&amount_off, &["di_1".into()], &json!("usd"), &mut other, 0).total,
            0
        );
    }

    #[test]
    fn amount_off_once_and_capped() {
        let acct = acct_with(json!({"id": "C1", "object": "coupon", "amount_off": 1000,
                                   "currency": "usd", "duration": "once"}));
        let mut lines = vec![line(4900), line(100)];
        let a = apply(&acct, &["di_1".into()], &json!("usd"), &mut lines, 0);
        assert_eq!(a.total, 1000);
        assert_eq!(a.used_up, vec!["di_1".to_string()]);
        let mut small = vec![line(300)];
        assert_eq!(
            apply(&acct, &["di_1".into()], &json!("usd"), &mut small, 0).total,
            300
        );
        let mut euros = vec![line(4900)];
        assert_eq!(
            apply(&acct, &["di_1".into()], &json!("eur"), &mut euros, 0).total,
            0
        );
    }
}
