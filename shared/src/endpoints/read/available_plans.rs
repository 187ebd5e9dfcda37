//! `get_available_plans`: active recurring prices the tenant allows (`allowed_prices`; none
//! listed: none offered, as `change_plan` reaches none), the current one marked.
use std::collections::HashSet;

use serde_json::{Value, json};

use super::billing_info::NoArgs;
use super::common::missing_customer;
use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Tool};
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::types::{Expandable, Price};

#[derive(Default)]
pub struct GetAvailablePlans;

impl Tool for GetAvailablePlans {
    const NAME: &'static str = "get_available_plans";
    const DESCRIPTION: &'static str = "The plans the visitor can choose from (active recurring prices), with the current one marked.";
    const BEFORE_ENABLED_TOOLS: bool = true;
    const NEEDS: &'static [Need] = &[Need::Customer, Need::Prices, Need::Subscriptions];
    type Args = NoArgs;

    async fn run<'a>(&'a self, call: &'a Call<'a>, _: Self::Args) -> Result<Answer, ApiError> {
        let prices = api::prices()
            .set("active", "true")
            .set("type", "recurring")
            .limit(100)
            .expand("data.product");
        let subs = api::subscriptions(call.customer_id).limit(10);
        // Independent questions: asked at the same time.
        let (prices, subs) = futures::join!(call.stripe.get(&prices), call.stripe.get(&subs));
        let prices = prices?;
        let subs = subs.map_err(missing_customer)?;
        let current: HashSet<&str> = subs
            .data
            .iter()
            .flat_map(|s| s.items.data.iter().map(|i| i.price.id.as_str()))
            .collect();
        let allowed = &call.tenant.allowed_prices;
        let mut plans: Vec<(&Price, &str)> = prices
            .data
            .iter()
            .filter(|p| p.active && allowed.contains(&p.id))
            .filter_map(|p| match &p.product {
                Expandable::Object(prod) if prod.active => Some((p, prod.name.as_str())),
                _ => None,
            })
            .collect();
        plans.sort_by_key(|(p, _)| p.unit_amount.unwrap_or(0));
        let views: Vec<Value> = plans
            .iter()
            .map(|(p, name)| {
                let r = p.recurring.as_ref();
                json!({
                    "price_id": p.id,
                    "name": name,
                    "amount": p.unit_amount.map(|a| Money::new(a, &p.currency)),
                    "interval": r.map(|r| r.interval.clone()),
                    "interval_count": r.map(|r| r.interval_count),
                    "current": current.contains(p.id.as_str()),
                })
            })
            .collect();
        let phrases: Vec<String> = plans
            .iter()
            .map(|(p, name)| {
                let amount = Money::new(p.unit_amount.unwrap_or(0), &p.currency).formatted;
                let unit = p
                    .recurring
                    .as_ref()
                    .map(|r| r.interval.as_str())
                    .unwrap_or("period");
                let mark = if current.contains(p.id.as_str()) {
                    " (your current plan)"
                } else {
                    ""
                };
                format!("{name} at {amount}/{unit}{mark}")
            })
            .collect();
        let summary = if phrases.is_empty() {
            "There are no plans available to choose from right now.".into()
        } else {
            format!("Available plans: {}.", phrases.join(", "))
        };
        Ok(Answer {
            data: json!({"plans": views}),
            summary,
        })
    }
}
