//! What already happened to one customer's money and service through the bot: every write
//! it claimed, kept as long as a rule looks back at it. One record per customer, read in one
//! consistent read and changed in the same conditional step that claims a write, so two
//! concurrent writes can never both pass a rule that one of them alone would pass.
use serde::{Deserialize, Serialize};

const DAY: i64 = 86_400;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Compare-and-set version: 0 when nothing was ever written for the customer.
    #[serde(skip)]
    pub version: u64,
    #[serde(default)]
    pub entries: Vec<Entry>,
}

/// One write, counted from the moment its confirmation was claimed (a claimed write whose
/// outcome is unknown counts as done: the safe side). Taken out again only when Stripe
/// refused it, or when it expired without a trace in Stripe.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Entry {
    /// The confirmation that made it.
    pub id: String,
    /// When it was claimed (unix seconds).
    pub at: i64,
    pub act: Act,
}

/// A subscription's billing period, named by its end (the item's `current_period_end`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct PeriodRef {
    pub subscription: String,
    pub end: i64,
}

/// What a write does to the customer's money or service, with the facts from Stripe the
/// policy judges it by. Each write tool says it in its plan; the history keeps it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Act {
    Refund {
        charge: String,
        amount: u64,
        currency: String,
        /// What the charge was for, and what of it was refunded before this one.
        paid: u64,
        refunded_before: u64,
        /// The subscription period this charge paid for, when it is the current one.
        period: Option<PeriodRef>,
        /// The write also ends (or schedules the end of) that subscription's service.
        ends_service: bool,
        /// When the charge was made (unix seconds; 0 in entries stored before it was kept),
        /// for the refund window.
        #[serde(default)]
        charged_at: i64,
    },
    PlanChange {
        subscription: String,
        price: String,
        period: PeriodRef,
        /// Credit for unused time the change grants (the negative proration), minor unit.
        credit: u64,
    },
    Pause {
        subscription: String,
        /// When collection resumes (unix seconds); the pause starts at the entry's `at`.
        until: i64,
        /// The next renewal of a yearly (or longer) plan, which no pause may span.
        renewal: Option<i64>,
    },
    Resume {
        subscription: String,
        /// The scheduled end it undoes, if any (as Stripe shows it now).
        cancel_at: Option<i64>,
        /// The pause it ends, if any: its `resumes_at` as Stripe shows it now (0 when the
        /// pause has no end date).
        pause_until: Option<i64>,
    },
    Cancel {
        subscription: String,
        /// When the cancellation takes effect.
        at: Option<i64>,
    },
    Code {
        subscription: String,
        /// The promotion code's id.
        code: String,
        /// Discounts the subscription already has.
        existing: u32,
        /// A retention offer's code (`policy.retention`): once per customer in 12 months.
        #[serde(default)]
        retention: bool,
    },
    Details {
        /// The new values, as one string: identical writes have identical ones.
        changes: String,
        /// The new email (lower case), when the write changes it.
        email: Option<String>,
        /// Another customer of the tenant has that email.
        email_taken: bool,
    },
    Retry {
        invoice: String,
    },
}

impl Act {
    /// What an identical write would also say: the same tool, customer and effective
    /// arguments. `None`: never a duplicate (a payment retry's effect is the invoice's state,
    /// which its own plan reads).
    pub fn fingerprint(&self) -> Option<String> {
        Some(match self {
            Act::Refund { charge, amount, .. } => format!("refund:{charge}:{amount}"),
            Act::PlanChange {
                subscription,
                price,
                ..
            } => format!("plan:{subscription}:{price}"),
            Act::Pause { subscription, .. } => format!("pause:{subscription}"),
            Act::Resume { subscription, .. } => format!("resume:{subscription}"),
            Act::Cancel { subscription, .. } => format!("cancel:{subscription}"),
            Act::Code {
                subscription, code, ..
            } => format!("code:{subscription}:{code}"),
            Act::Details { changes, .. } => format!("details:{changes}"),
            Act::Retry { .. } => return None,
        })
    }

    /// The object whose state the write sets: a later write on it means this one's effect
    /// no longer stands. `None`: the effect always stands (money paid out).
    pub fn object(&self) -> Option<&str> {
        match self {
            Act::Refund { .. } | Act::Retry { .. } => None,
            Act::PlanChange { subscription, .. }
            | Act::Pause { subscription, .. }
            | Act::Resume { subscription, .. }
            | Act::Cancel { subscription, .. }
            | Act::Code { subscription, .. } => Some(subscription),
            Act::Details { .. } => Some("customer"),
        }
    }

    /// Until when a rule may still look at this write.
    fn keep_until(&self, at: i64) -> i64 {
        let latest = match self {
            Act::Refund { period, .. } => (at + 31 * DAY).max(period.as_ref().map_or(0, |p| p.end)),
            Act::PlanChange { period, .. } => (at + 62 * DAY).max(period.end),
            Act::Pause { .. } | Act::Resume { .. } | Act::Code { .. } => at + 366 * DAY,
            Act::Cancel { at: ends, .. } => ends.map_or(at + 366 * DAY, |e| e.max(at)),
            Act::Details { email, .. } => at + if email.is_some() { 31 } else { 1 } * DAY,
            Act::Retry { .. } => at,
        };
        // A day more than any rule needs: duplicate windows and clock skew.
        latest + DAY
    }
}

impl History {
    /// The entries other than `id`'s (a confirmation never judges itself).
    pub fn others<'a>(&'a self, id: &'a str) -> impl Iterator<Item = &'a Entry> + 'a {
        self.entries.iter().filter(move |e| e.id != id)
    }

    /// Whether `e`'s effect still stands: nothing the bot did later set the same object.
    pub fn stands(&self, e: &Entry) -> bool {
        let Some(object) = e.act.object() else {
            return true;
        };
        !self.entries.iter().any(|later| {
            later.id != e.id && later.at >= e.at && later.act.object() == Some(object) && {
                // Same second: the one listed later is the later one.
                later.at > e.at || self.position(&later.id) > self.position(&e.id)
            }
        })
    }

    fn position(&self, id: &str) -> Option<usize> {
        self.entries.iter().position(|e| e.id == id)
    }

    /// The history with `entry` added (or, for a claim taken over, left as it is), and what
    /// no rule looks at any more dropped.
    pub fn with(&self, entry: Entry, now: i64) -> History {
        let mut next = self.pruned(now);
        if !next.entries.iter().any(|e| e.id == entry.id) {
            next.entries.push(entry);
        }
        next
    }

    /// The history without `id`'s entry (a write that did not happen).
    pub fn without(&self, id: &str) -> History {
        History {
            version: self.version,
            entries: self
                .entries
                .iter()
                .filter(|e| e.id != id)
                .cloned()
                .collect(),
        }
    }

    pub fn pruned(&self, now: i64) -> History {
        History {
            version: self.version,
            entries: self
                .entries
                .iter()
                .filter(|e| e.act.keep_until(e.at) >= now)
                .cloned()
                .collect(),
        }
    }

    /// When the stored record may be forgotten (DynamoDB TTL).
    pub fn expires_at(&self) -> i64 {
        self.entries
            .iter()
            .map(|e| e.act.keep_until(e.at))
            .max()
            .unwrap_or(0)
    }
}
