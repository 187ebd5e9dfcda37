//! Prorations: when a subscription item's price or quantity changes mid-period, the unused
//! time on the old one is credited and the remaining time on the new one charged.
//!
//! Stripe prorates to the second over the item's current period: an amount is
//! `unit_amount × quantity × (period_end − proration_date) / (period_end − period_start)`,
//! rounded to the currency's minor unit. Credits and debits are separate invoice items
//! (`proration: true`) that wait for the next invoice unless the change invoices at once.

use serde_json::{Value, json};
use time::OffsetDateTime;

use super::product_name;
use crate::store::Ctx;
use crate::store::new_id;

/// One item's state before and after a change; `None` when it did not exist (added) or no
/// longer does (deleted).
pub struct Change {
    pub item_id: String,
    pub before: Option<(Value, i64)>,
    pub after: Option<(Value, i64)>,
}

/// A proration to become an invoice item.
#[derive(Debug, Clone)]
pub struct Prorated {
    pub item_id: String,
    pub price: Value,
    pub quantity: i64,
    pub amount: i64,
    pub period: (i64, i64),
    pub description: String,
}

/// `unit × quantity × remaining / length`, rounded half away from zero to the minor unit.
pub fn amount(unit: i64, quantity: i64, at: i64, period: (i64, i64)) -> i64 {
    let (start, end) = period;
    let length = (end - start) as i128;
    let remaining = (end - at).clamp(0, end - start) as i128;
    if length <= 0 {
        return 0;
    }
    let num = unit as i128 * quantity as i128 * remaining;
    let rounded = (2 * num.abs() + length) / (2 * length);
    (if num < 0 { -rounded } else { rounded }) as i64
}

/// The prorations for `changes` made at `at` within `period`: for each changed item, a
/// credit for the unused time on what it was and a debit for the remaining time on what it
/// becomes. Unchanged items prorate nothing.
pub fn prorations(ctx: &Ctx, changes: &[Change], at: i64, period: (i64, i64)) -> Vec<Prorated> {
    let mut out = Vec::new();
    for c in changes {
        let same = match (&c.before, &c.after) {
            (Some((p1, q1)), Some((p2, q2))) => p1["id"] == p2["id"] && q1 == q2,
            _ => false,
        };
        if same {
            continue;
        }
        if let Some((price, qty)) = &c.before {
            let unit = price["unit_amount"].as_i64().unwrap_or(0);
            out.push(Prorated {
                item_id: c.item_id.clone(),
                price: price.clone(),
                quantity: *qty,
                amount: -amount(unit, *qty, at, period),
                period: (at, period.1),
                description: describe(ctx, "Unused time on", price, *qty, at),
            });
        }
        if let Some((price, qty)) = &c.after {
            let unit = price["unit_amount"].as_i64().unwrap_or(0);
            out.push(Prorated {
                item_id: c.item_id.clone(),
                price: price.clone(),
                quantity: *qty,
                amount: amount(unit, *qty, at, period),
                period: (at, period.1),
                description: describe(ctx, "Remaining time on", price, *qty, at),
            });
        }
    }
    out
}

/// `Unused time on Growth after 26 Nov 2026`; `… on 3 × Growth …` for several units.
fn describe(ctx: &Ctx, lead: &str, price: &Value, qty: i64, at: i64) -> String {
    let name = product_name(ctx, price["product"].as_str().unwrap_or_default());
    let what = if qty == 1 {
        name
    } else {
        format!("{qty} × {name}")
    };
    format!("{lead} {what} after {}", day(at))
}

/// `26 Nov 2026`, as Stripe dates proration lines.
fn day(ts: i64) -> String {
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    match OffsetDateTime::from_unix_timestamp(ts) {
        Ok(d) => format!(
            "{:02} {} {}",
            d.day(),
            MONTHS[(d.month() as usize).saturating_sub(1) % 12],
            d.year()
        ),
        Err(_) => ts.to_string(),
    }
}

/// Stores the prorations as pending invoice items of `sub` (they go on its next invoice)
/// and returns their ids.
pub fn add_pending(ctx: &mut Ctx, sub: &Value, prorations: &[Prorated]) -> Vec<String> {
    let sub_id = sub["id"].as_str().unwrap_or_default().to_string();
    let customer = sub["customer"].clone();
    let mut ids = Vec::new();
    for p in prorations {
        let credited = if p.amount < 0 {
            credited_items(ctx, &sub_id, &p.item_id, p.period.0)
        } else {
            Value::Null
        };
        let id = new_id("ii");
        let unit_decimal = unit_decimal(p.amount, p.quantity);
        ctx.acct.put(json!({
            "id": id, "object": "invoiceitem", "amount": p.amount,
            "currency": p.price["currency"], "customer": customer, "customer_account": null,
            "date": ctx.now, "description": p.description, "discountable": true,
            "discounts": [], "invoice": null, "livemode": false, "metadata": {},
            "net_amount": p.amount, "frozen_fields": null, "invoicing_rules": null,
            "parent": {"type": "subscription_details",
                       "subscription_details": {"subscription": sub_id,
                                                "subscription_item": p.item_id}},
            "period": {"start": p.period.0, "end": p.period.1},
            "pricing": {"type": "price_details",
                        "price_details": {"price": p.price["id"], "product": p.price["product"]},
                        "unit_amount_decimal": unit_decimal},
            "proration": true,
            "proration_details": {"credited_items": credited, "discount_amounts": []},
            "quantity": p.quantity, "quantity_decimal": p.quantity.to_string(),
            "tax_rates": [], "test_clock": null,
        }));
        ids.push(id);
    }
    ids
}

/// What a credit proration gives back: the debit still pending on an invoice item, else
/// the invoice line that billed the item for the period containing `at`.
fn credited_items(ctx: &Ctx, sub: &str, item: &str, at: i64) -> Value {
    let covers = |period: &Value| {
        period["start"].as_i64().is_some_and(|s| s <= at)
            && period["end"].as_i64().is_some_and(|e| at < e)
    };
    let pending_debit = ctx.acct.all("invoiceitem").into_iter().find(|ii| {
        ii["invoice"].is_null()
            && ii["proration"] == true
            && ii["amount"].as_i64().is_some_and(|a| a > 0)
            && ii["parent"]["subscription_details"]["subscription_item"] == item
            && (covers(&ii["period"]) || ii["period"]["start"].as_i64() == Some(at))
    });
    if let Some(ii) = pending_debit {
        return json!({"type": "invoice_item", "invoice_item": ii["id"],
                      "invoice_line_item_details": null});
    }
    for inv in ctx.acct.all("invoice") {
        if inv["parent"]["subscription_details"]["subscription"] != sub
            || inv["status"] == "draft"
            || inv["status"] == "void"
        {
            continue;
        }
        let lines: Vec<&Value> = inv["lines"]["data"]
            .as_array()
            .map(|l| {
                l.iter()
                    .filter(|l| {
                        let d = &l["parent"]["subscription_item_details"];
                        d["subscription_item"] == item
                            && d["proration"] == false
                            && covers(&l["period"])
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !lines.is_empty() {
            return json!({"type": "invoice_line_items", "invoice_item": null,
                          "invoice_line_item_details": {
                              "invoice": inv["id"],
                              "invoice_line_items": lines.iter().map(|l| l["id"].clone())
                                  .collect::<Vec<_>>()}});
        }
    }
    Value::Null
}

/// `amount / quantity` as a decimal string with at most 12 places, as Stripe writes
/// `unit_amount_decimal`.
fn unit_decimal(amount: i64, quantity: i64) -> String {
    if quantity <= 1 || amount % quantity == 0 {
        return (amount / quantity.max(1)).to_string();
    }
    let s = format!("{:.12}", amount as f64 / quantity as f64);
    s.trim_end_matches('0').trim_end_matches('.').to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prorates_to_the_second_and_rounds() {
        let period = (0, 30 * 86_400);
        // Half-way through: half the price.
        assert_eq!(amount(4900, 1, 15 * 86_400, period), 2450);
        // One second in: almost all of it, rounded to the cent.
        assert_eq!(amount(4900, 1, 1, period), 4900);
        // 4900 × 2 × 1/3 = 3266.67 → 3267; 9900 × 1/3 = 3300.
        assert_eq!(amount(4900, 2, 20 * 86_400, period), 3267);
        assert_eq!(amount(9900, 1, 20 * 86_400, period), 3300);
        // A third of a cent rounds down, two thirds up.
        assert_eq!(amount(1, 1, 20 * 86_400, period), 0);
        assert_eq!(amount(1, 2, 10 * 86_400, period), 1);
        // Outside the period nothing or everything remains.
        assert_eq!(amount(4900, 1, 31 * 86_400, period), 0);
        assert_eq!(amount(4900, 1, -5, period), 4900);
    }

    #[test]
    fn dates_and_unit_decimals() {
        // 2026-11-26T06:00:00Z
        assert_eq!(day(1_795_672_800), "26 Nov 2026");
        assert_eq!(day(1_767_312_000), "02 Jan 2026");
        assert_eq!(unit_decimal(-2450, 1), "-2450");
        assert_eq!(unit_decimal(3267, 2), "1633.5");
        assert_eq!(unit_decimal(1000, 3), "333.333333333333");
    }
}
