//! `get_credit_balance`: credit (or debt) on the account and its recent transactions.
//! Stripe's `customer.balance` is negative when the customer has credit.
use serde_json::{Value, json};

use super::billing_info::NoArgs;
use super::common::missing_customer;
use crate::error::ApiError;
use crate::money::Money;
use crate::stripe::Params;
use crate::stripe::types::{BalanceTransaction, Customer, List};
use crate::timefmt::rfc3339;
use crate::tool::{Answer, Call, Tool};

pub struct GetCreditBalance;

impl Tool for GetCreditBalance {
    const NAME: &'static str = "get_credit_balance";
    const DESCRIPTION: &'static str = "The visitor's account credit (or amount owed) that applies to future invoices, and its recent changes.";
    type Args = NoArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, _: Self::Args) -> Result<Answer, ApiError> {
        let customer_path = format!("/v1/customers/{}", call.customer_id);
        let txn_path = format!("{customer_path}/balance_transactions");
        let none = Params::new();
        let txn_params = Params::new().set("limit", 5);
        let (customer, txns) = futures::join!(
            call.stripe.get::<Customer>(&customer_path, &none),
            call.stripe
                .get::<List<BalanceTransaction>>(&txn_path, &txn_params),
        );
        let customer = customer.map_err(missing_customer)?;
        let txns = txns.map_err(missing_customer)?;
        let currency = customer
            .currency
            .clone()
            .or_else(|| txns.data.first().map(|t| t.currency.clone()))
            .unwrap_or_else(|| "usd".into());
        let balance = customer.balance;
        let (kind, summary) = match balance {
            0 => (
                "none",
                "You have no account credit and owe nothing extra.".to_string(),
            ),
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
            }),
            summary,
        })
    }
}
