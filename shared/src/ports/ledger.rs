//! The write path's memory: confirmations (what a visitor was shown and may confirm once)
//! and counters (policy bounds), behind a port so tests can run it in memory. Claiming a
//! confirmation and counting it against its bounds is one conditional step, so parallel
//! confirmations can neither both run nor together pass a cap.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::error::StoreError;
use crate::ports::history::{Act, Entry as HistoryEntry, History};
use crate::stripe::api::Change;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// Shown to the visitor, not confirmed yet.
    Pending,
    /// Confirmed: one caller is committing it (or crashed doing so; see `claimed_at`).
    Claimed,
    /// Finished: `outcome` is the answer every replay gets.
    Done,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Confirmation {
    /// SHA-256 of the token: the token itself is never stored.
    pub id: String,
    pub tenant: String,
    pub tool: String,
    pub user_id: String,
    pub customer: String,
    /// The tool's arguments, canonical JSON.
    pub args: Value,
    /// Inputs the plan was computed with and the commit must reuse (e.g. proration_date).
    pub pins: Value,
    /// The Stripe request, stored so the confirmed call sends exactly what was planned.
    pub change: Change,
    /// Requests sent after `change` succeeded, in order (a refund that ends the service).
    #[serde(default)]
    pub then: Vec<Change>,
    /// What the write does to the customer's money or service, for the policy and the
    /// customer's history (absent in confirmations stored before the policy existed).
    #[serde(default)]
    pub act: Option<Act>,
    pub preview: Value,
    pub summary: String,
    /// The bounds this write counts against, claimed with it.
    pub bounds: Vec<Bound>,
    pub expires_at: i64,
    pub state: State,
    pub claimed_at: Option<i64>,
    pub outcome: Option<Value>,
    /// The write-ahead audit record's sort key, completed after the commit.
    pub audit_sk: Option<String>,
}

/// A counter a write may not push past `cap` (e.g. plan changes of one visitor in one
/// calendar month).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Bound {
    /// Stable id of the counter, e.g. `change_plan#user_1#2026-11`.
    pub key: String,
    pub cap: u64,
    /// `reason` of the `policy_denied` when it holds.
    pub reason: String,
    /// What the visitor is told when it holds.
    pub message: String,
    /// When the counter may be forgotten (unix seconds).
    pub expires_at: i64,
    /// How much this write counts: 1 for a count of writes, the amount for a money cap.
    #[serde(default = "one")]
    pub weight: u64,
    /// A rolling window: only writes of the last `window_secs` count (each is kept with its
    /// time). `None`: a plain counter, whose `key` names its period.
    #[serde(default)]
    pub window_secs: Option<i64>,
}

/// One write counted in a rolling window: (confirmation id, unix time, weight).
pub type Entry = (String, i64, u64);

/// What of `entries` still counts at `now`, and its total.
pub fn in_window(entries: &[Entry], window_secs: i64, now: i64) -> (Vec<Entry>, u64) {
    let kept: Vec<Entry> = entries
        .iter()
        .filter(|(_, t, _)| *t > now - window_secs)
        .cloned()
        .collect();
    let total = kept.iter().map(|(_, _, w)| *w).sum();
    (kept, total)
}

fn one() -> u64 {
    1
}

impl Bound {
    /// A count of writes (each counts 1).
    pub fn count(key: String, cap: u64, reason: &str, message: String, expires_at: i64) -> Self {
        Self {
            key,
            cap,
            reason: reason.into(),
            message,
            expires_at,
            weight: 1,
            window_secs: None,
        }
    }

    /// A total of `weight`s over the last `window_secs` (e.g. refunded amounts in 30 days).
    pub fn rolling(
        key: String,
        cap: u64,
        weight: u64,
        window_secs: i64,
        reason: &str,
        message: String,
    ) -> Self {
        Self {
            key,
            cap,
            reason: reason.into(),
            message,
            expires_at: 0,
            weight,
            window_secs: Some(window_secs),
        }
    }

    /// Whether a counter at `n` has room for this write.
    pub fn fits(&self, n: u64) -> bool {
        n.checked_add(self.weight)
            .is_some_and(|total| total <= self.cap)
    }
}

impl Confirmation {
    /// This write as the customer's history keeps it, claimed at `now`.
    pub fn entry(&self, now: i64) -> Option<HistoryEntry> {
        self.act.clone().map(|act| HistoryEntry {
            id: self.id.clone(),
            at: now,
            act,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This caller owns the commit.
    Won,
    /// Another caller claimed it first (or it is done): wait for its outcome.
    Taken,
    /// A bound holds: the `reason` of the first one.
    OverCap(String),
}

#[async_trait]
pub trait Ledger: Send + Sync {
    async fn put(&self, c: &Confirmation) -> Result<(), StoreError>;
    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Confirmation>, StoreError>;
    /// The customer's history, read consistently (the policy judges on it; `version` is
    /// what a claim is conditional on).
    async fn history(&self, tenant: &str, customer: &str) -> Result<History, StoreError>;
    /// Pending → claimed, every bound counted and the write added to the customer's
    /// `history` (as judged: unchanged since it was read), all or nothing; `Taken` when any
    /// of it moved. A claim older than `stale_before` (its claimer crashed) may be taken
    /// over, without counting again.
    async fn claim(
        &self,
        c: &Confirmation,
        now: i64,
        stale_before: i64,
        history: &History,
    ) -> Result<Claim, StoreError>;
    /// Claimed → done with the answer every replay gets. `release` gives the bounds back
    /// and takes the write out of the customer's history (it did not happen).
    async fn finish(
        &self,
        c: &Confirmation,
        outcome: &Value,
        release: bool,
    ) -> Result<(), StoreError>;
    /// A claimed write whose effect is unknown (Stripe did not answer): its claim lapses at
    /// once, so a retry resends it under the same idempotency key.
    async fn abandon(&self, c: &Confirmation) -> Result<(), StoreError>;
    /// How much of `bound` is used at `now`, for the early check at propose time.
    async fn used(&self, tenant: &str, bound: &Bound, now: i64) -> Result<u64, StoreError>;
    /// Counts one more against `bound` if it is under its cap, in one conditional step;
    /// `false` (and nothing counted) when the cap is reached.
    async fn take(&self, tenant: &str, bound: &Bound) -> Result<bool, StoreError>;
    /// Counts against every bound or none, in one conditional step: `None` when all had
    /// room, else the index of the first that did not (nothing counted).
    async fn take_all(&self, tenant: &str, bounds: &[Bound]) -> Result<Option<usize>, StoreError>;
}
