//! The vocabulary every summary is made of: money, dates, counts, cards, declines and
//! invoices, said one way everywhere, so a tool's answer and agent insight never disagree
//! about the same fact.
pub mod approvals;
mod dates;
mod decline;
pub mod emails;
pub mod money;
pub mod subscription;
pub mod views;

pub use dates::{Dates, known_zone};
pub use decline::decline_phrase;

use crate::stripe::types::{Charge, Invoice, InvoiceStatus};
use money::Money;

/// "$49.00".
pub fn money(amount: i64, currency: &str) -> String {
    Money::new(amount, currency).formatted
}

/// How many of something a list shows, honest about what it leaves out:
/// "your only invoice", "your 3 invoices", "your latest invoice (you have more)",
/// "your latest 2 invoices (you have more)".
pub fn shown(count: usize, has_more: bool, noun: &str) -> String {
    match (count, has_more) {
        (1, false) => format!("your only {noun}"),
        (1, true) => format!("your latest {noun} (you have more)"),
        (n, false) => format!("your {n} {noun}s"),
        (n, true) => format!("your latest {n} {noun}s (you have more)"),
    }
}

/// "Visa ending 4242".
pub fn card_phrase(brand: &str, last4: &str) -> String {
    let brand = match brand {
        "amex" => "American Express".to_string(),
        "mastercard" => "Mastercard".to_string(),
        "diners" => "Diners Club".to_string(),
        "unionpay" => "UnionPay".to_string(),
        b => {
            let mut c = b.chars();
            c.next()
                .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
                .unwrap_or_default()
        }
    };
    format!("{brand} ending {last4}")
}

/// "Visa ending 4242" for the card a charge was made with, when Stripe says.
pub fn charge_card_phrase(c: &Charge) -> Option<String> {
    let card = c.payment_method_details.as_ref()?.card.as_ref()?;
    Some(card_phrase(card.brand.as_deref()?, card.last4.as_deref()?))
}

/// "invoice ABC-0001 for $49.00 from November 1, 2026 (UTC), paid", or for an open one
/// "..., open with $49.00 due by December 1, 2026 (UTC)": each fact once.
pub fn invoice_phrase(i: &Invoice, dates: &Dates) -> String {
    let number = i
        .number
        .as_deref()
        .map(|n| format!(" {n}"))
        .unwrap_or_default();
    let lead = format!(
        "invoice{number} for {} from {}",
        money(i.total, &i.currency),
        dates.date(i.created)
    );
    match i.status {
        Some(InvoiceStatus::Open) => format!("{lead}, {}", open_phrase(i, dates)),
        Some(InvoiceStatus::Paid) => format!("{lead}, paid"),
        Some(InvoiceStatus::Void) => format!("{lead}, voided"),
        Some(InvoiceStatus::Uncollectible) => format!("{lead}, marked uncollectible"),
        _ => format!("{lead}, not finalized yet"),
    }
}

/// "open with $49.00 due by December 1, 2026 (UTC)" (or "due now" without a due date).
pub fn open_phrase(i: &Invoice, dates: &Dates) -> String {
    let due = money(i.amount_remaining, &i.currency);
    match i.due_date {
        Some(d) => format!("open with {due} due by {}", dates.date(d)),
        None => format!("open with {due} due now"),
    }
}

/// "Invoice ABC-0001" or "An invoice", to start a sentence about one invoice.
pub fn invoice_name(i: &Invoice) -> String {
    match &i.number {
        Some(n) => format!("Invoice {n}"),
        None => "An invoice".into(),
    }
}

/// Upper-cases the first letter, for a phrase that starts a sentence.
pub fn sentence_case(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_say_when_there_are_more() {
        assert_eq!(shown(1, false, "invoice"), "your only invoice");
        assert_eq!(
            shown(1, true, "invoice"),
            "your latest invoice (you have more)"
        );
        assert_eq!(shown(4, false, "invoice"), "your 4 invoices");
        assert_eq!(
            shown(2, true, "payment"),
            "your latest 2 payments (you have more)"
        );
    }
}
