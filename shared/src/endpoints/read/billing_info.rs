//! `get_billing_info`: name, email, phone, address, and the default card, masked.
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::json;

use super::common::fetch_customer;
use crate::billing::card_phrase;
use crate::billing::views::saved_card;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api::Need;

#[derive(Default)]
pub struct GetBillingInfo;

#[derive(Debug, Default, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoArgs {}

impl Tool for GetBillingInfo {
    const NAME: &'static str = "get_billing_info";
    const DESCRIPTION: &'static str = "The visitor's billing details: name, email, phone, address, and the default card (brand, last 4, expiry).";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer];
    type Args = NoArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, _: Self::Args) -> Result<Answer, ApiError> {
        let customer = fetch_customer(call.stripe, call.customer_id).await?;
        let pm = customer.default_card();
        let summary = match pm {
            Some(c) => format!(
                "Your card on file is a {}, expiring {:02}/{}.",
                card_phrase(&c.brand, &c.last4),
                c.exp_month,
                c.exp_year
            ),
            None => "You don't have a default card on file.".into(),
        };
        let summary = match &customer.email {
            Some(e) => format!("{summary} Invoices go to {e}."),
            None => summary,
        };
        Ok(Answer {
            data: json!({
                "name": customer.name,
                "email": customer.email,
                "phone": customer.phone,
                "address": customer.address,
                "payment_method": pm.map(saved_card),
            }),
            summary,
        })
    }
}
