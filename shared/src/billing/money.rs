//! Money as the contract shapes it: minor units, currency, and a formatted string that is
//! right for zero- and three-decimal currencies.
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Money {
    pub amount: i64,
    pub currency: String,
    pub formatted: String,
}

/// Stripe's zero-decimal currencies: amounts are in whole units.
/// Source: docs.stripe.com/currencies#zero-decimal
const ZERO_DECIMAL: &[&str] = &[
    "bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv",
    "xaf", "xof", "xpf",
];
/// Stripe's three-decimal currencies. Source: docs.stripe.com/currencies#three-decimal
const THREE_DECIMAL: &[&str] = &["bhd", "jod", "kwd", "omr", "tnd"];

fn symbol(currency: &str) -> Option<&'static str> {
    Some(match currency {
        "usd" => "$",
        "eur" => "€",
        "gbp" => "£",
        "jpy" => "¥",
        "cad" => "CA$",
        "aud" => "A$",
        "nzd" => "NZ$",
        "inr" => "₹",
        "krw" => "₩",
        "brl" => "R$",
        "mxn" => "MX$",
        "chf" => "CHF ",
        _ => return None,
    })
}

pub fn decimals(currency: &str) -> u32 {
    if ZERO_DECIMAL.contains(&currency) {
        0
    } else if THREE_DECIMAL.contains(&currency) {
        3
    } else {
        2
    }
}

impl Money {
    pub fn new(amount: i64, currency: &str) -> Self {
        let currency = currency.to_ascii_lowercase();
        Self {
            formatted: format(amount, &currency),
            amount,
            currency,
        }
    }
}

/// "$1,234.50", "¥4,900", "-€5.00", "12.345 KWD".
pub fn format(amount: i64, currency: &str) -> String {
    let digits = decimals(currency);
    let scale = 10_i64.pow(digits);
    let abs = amount.unsigned_abs();
    let whole = group_thousands(abs / scale as u64);
    let number = if digits == 0 {
        whole
    } else {
        format!(
            "{whole}.{:0width$}",
            abs % scale as u64,
            width = digits as usize
        )
    };
    let sign = if amount < 0 { "-" } else { "" };
    match symbol(currency) {
        Some(sym) => format!("{sign}{sym}{number}"),
        None => format!("{sign}{number} {}", currency.to_ascii_uppercase()),
    }
}

fn group_thousands(n: u64) -> String {
    let s = n.to_string();
    let mut out = String::with_capacity(s.len() + s.len() / 3);
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn formats_each_kind_of_currency() {
        assert_eq!(Money::new(4900, "usd").formatted, "$49.00");
        assert_eq!(Money::new(4900, "USD").currency, "usd");
        assert_eq!(Money::new(123456789, "usd").formatted, "$1,234,567.89");
        assert_eq!(Money::new(4900, "eur").formatted, "€49.00");
        assert_eq!(Money::new(4900, "jpy").formatted, "¥4,900");
        assert_eq!(Money::new(-500, "eur").formatted, "-€5.00");
        assert_eq!(Money::new(12345, "kwd").formatted, "12.345 KWD");
        assert_eq!(Money::new(5, "usd").formatted, "$0.05");
        assert_eq!(Money::new(0, "sek").formatted, "0.00 SEK");
    }
}
