//! What a subscription says, computed one way everywhere: when its period ends, when it
//! will cancel, when it is next paid, what it costs, what it is called.
use std::collections::HashMap;

use crate::billing::money::Money;
use crate::stripe::types::{Expandable, Invoice, Subscription, SubscriptionStatus};

impl Subscription {
    /// Ended for good: canceled, or expired before its first payment.
    pub fn is_ended(&self) -> bool {
        matches!(
            self.status,
            SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
        )
    }

    /// The end of the current period (since basil each item has its own; the first to
    /// end is when the subscription renews or a cancellation at period end takes effect).
    pub fn period_end(&self) -> Option<i64> {
        self.items
            .data
            .iter()
            .filter_map(|i| i.current_period_end)
            .min()
    }

    /// When a scheduled cancellation takes effect: its `cancel_at`, or the period's end
    /// when it cancels at period end.
    pub fn scheduled_cancel(&self) -> Option<i64> {
        if self.status == SubscriptionStatus::Canceled {
            return None;
        }
        self.cancel_at.or(if self.cancel_at_period_end {
            self.period_end()
        } else {
            None
        })
    }

    /// When it is next paid: none while it will cancel or its payments are paused.
    pub fn next_payment(&self) -> Option<i64> {
        if self.scheduled_cancel().is_some() || self.pause_collection.is_some() {
            return None;
        }
        match self.status {
            SubscriptionStatus::Trialing => self.trial_end,
            SubscriptionStatus::Active | SubscriptionStatus::PastDue => self.period_end(),
            _ => None,
        }
    }

    /// What a period costs before discounts, in the currency's minor unit.
    pub fn recurring_amount(&self) -> i64 {
        self.items
            .data
            .iter()
            .map(|i| i.price.unit_amount.unwrap_or(0) * i.quantity.unwrap_or(1) as i64)
            .sum()
    }

    pub fn amount(&self) -> Money {
        Money::new(self.recurring_amount(), &self.currency)
    }

    /// The billing interval and its count (`("month", 1)`).
    pub fn interval(&self) -> Option<(String, u32)> {
        self.items
            .data
            .first()
            .and_then(|i| i.price.recurring.as_ref())
            .map(|r| (r.interval.clone(), r.interval_count))
    }

    /// Billed yearly or less often: a renewal that comes once in a long while.
    pub fn billed_yearly(&self) -> bool {
        self.items.data.iter().any(|i| {
            i.price.recurring.as_ref().is_some_and(|r| {
                r.interval == "year" || (r.interval == "month" && r.interval_count >= 12)
            })
        })
    }

    /// "$49.00/month", "$120.00 every 3 months".
    pub fn price_phrase(&self) -> String {
        let money = self.amount().formatted;
        match self.interval() {
            Some((unit, 1)) => format!("{money}/{unit}"),
            Some((unit, n)) => format!("{money} every {n} {unit}s"),
            None => money,
        }
    }

    /// The plan's name from its products' `names` ("Growth", or "Growth + Add-on").
    pub fn plan_name(&self, names: &HashMap<String, String>) -> String {
        let parts: Vec<String> = self
            .items
            .data
            .iter()
            .map(|i| {
                names
                    .get(i.price.product.id())
                    .cloned()
                    .or_else(|| i.price.nickname.clone())
                    .unwrap_or_else(|| "subscription".into())
            })
            .collect();
        parts.join(" + ")
    }

    /// Its latest invoice, when expanded.
    pub fn latest_invoice(&self) -> Option<&Invoice> {
        self.latest_invoice.as_ref().and_then(Expandable::object)
    }

    /// Its status in words ("past due").
    pub fn status_words(&self) -> String {
        self.status.as_str().replace('_', " ")
    }
}

/// The current subscriptions; when there are none, the most recent ended one, so "was it
/// canceled?" has an answer.
pub fn relevant(subs: &[Subscription]) -> Vec<&Subscription> {
    let current: Vec<&Subscription> = subs.iter().filter(|s| !s.is_ended()).collect();
    if current.is_empty() {
        subs.iter().max_by_key(|s| s.created).into_iter().collect()
    } else {
        current
    }
}
