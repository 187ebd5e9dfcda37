//! `get_credit_balance`: credit (or debt) on the account and its recent transactions.
//! Stripe's `customer.balance` is negative when the customer has credit.
use serde_json::{Value, json};

use super::billing_info::NoArgs;
use super::common::missing_customer;
use crate::billing::money::Money;
use crate::billing::views::invoice;
use crate::billing::{Dates, invoice_name, money, open_phrase};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::types::Invoice;
use crate::timefmt::rfc3339;

#[derive(Default)]
pub struct GetCreditBalance;

impl Tool for GetCreditBalance {
    const NAME: &'static str = "get_credit_balance";
    const DESCRIPTION: &'static str = "The visitor's account credit (or amount owed) that applies to future invoices, and its recent changes.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::BalanceTransactions, Need::Invoices];
    type Args = NoArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, _: Self::Args) -> Result<Answer, ApiError> {
        let txns = api::balance_transactions(call.customer_id).limit(5);
        // Open invoices are owed too, though not on the balance: asked at the same time so
        // "you owe nothing" is never said to someone with an unpaid invoice.
        let open = api::invoices(call.customer_id)
            .set("status", "open")
            .limit(10);
        let customer = api::customer(call.customer_id);
        let (customer, txns, open) = futures::join!(
            call.stripe.get(&customer),
            call.stripe.get(&txns),
            call.stripe.get(&open),
        );
        let customer = customer.map_err(missing_customer)?;
        let txns = txns.map_err(missing_customer)?;
        let open = open.map_err(missing_customer)?.data;
        let currency = customer
            .currency
            .clone()
            .or_else(|| txns.data.first().map(|t| t.currency.clone()))
            .unwrap_or_else(|| "usd".into());
        let balance = customer.balance;
        let (kind, balance_sentence) = match balance {
            0 if open.is_empty() => (
                "none",
                "You have no account credit, and nothing is owed.".to_string(),
            ),
            0 => ("none", "You have no account credit.".to_string()),
            b if b < 0 => (
                "credit",
                format!(
                    "You have {} of account credit, which will be applied to your next invoices.",
                    Money::new(-b, &currency).formatted
                ),
            ),
            b => (
                "debt",
                format!(
                    "You owe {}, which will be added to your next invoice.",
                    Money::new(b, &currency).formatted
                ),
            ),
        };
        let summary = match open_invoices_sentence(&open, call.dates) {
            Some(s) => format!("{balance_sentence} {s}"),
            None => balance_sentence,
        };
        let views: Vec<Value> = txns
            .data
            .iter()
            .map(|t| {
                json!({
                    "id": t.id,
                    "type": t.kind,
                    // Positive here means credit given to the customer.
                    "credit": Money::new(-t.amount, &t.currency),
                    "description": t.description,
                    "created": rfc3339(t.created),
                    "invoice": t.invoice,
                    "credit_after": Money::new(-t.ending_balance, &t.currency),
                })
            })
            .collect();
        Ok(Answer {
            data: json!({
                "kind": kind,
                "credit": Money::new(balance.min(0).abs(), &currency),
                "owed": Money::new(balance.max(0), &currency),
                "transactions": views,
                "open_invoices": open.iter().map(invoice).collect::<Vec<_>>(),
            }),
            summary,
        })
    }
}

/// "Invoice X is open with $19.00 due by ...", or the total over several.
fn open_invoices_sentence(open: &[Invoice], dates: &Dates) -> Option<String> {
    match open {
        [] => None,
        [one] => Some(format!(
            "{} is {}.",
            invoice_name(one),
            open_phrase(one, dates)
        )),
        many => {
            let currency = &many[0].currency;
            let same = many.iter().all(|i| &i.currency == currency);
            let total: i64 = many.iter().map(|i| i.amount_remaining).sum();
            Some(if same {
                format!(
                    "You have {} open invoices with {} due in total.",
                    many.len(),
                    money(total, currency)
                )
            } else {
                format!("You have {} open invoices.", many.len())
            })
        }
    }
}
