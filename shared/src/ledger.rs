//! The write path's memory: confirmations (what a visitor was shown and may confirm once)
//! and counters (policy bounds), behind a port so tests can run it in memory. Claiming a
//! confirmation and counting it against its bounds is one conditional step, so parallel
//! confirmations can neither both run nor together pass a cap.
use std::collections::HashMap;
use std::sync::Mutex;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::stripe::api::Change;
use crate::tenant::StoreError;

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
    /// Pending → claimed and every bound counted, all or nothing. A claim older than
    /// `stale_before` (its claimer crashed) may be taken over, without counting again.
    async fn claim(
        &self,
        c: &Confirmation,
        now: i64,
        stale_before: i64,
    ) -> Result<Claim, StoreError>;
    /// Claimed → done with the answer every replay gets. `release` gives the bounds back
    /// (Stripe refused the change, so it did not happen).
    async fn finish(
        &self,
        c: &Confirmation,
        outcome: &Value,
        release: bool,
    ) -> Result<(), StoreError>;
    /// A claimed write whose effect is unknown (Stripe did not answer): its claim lapses at
    /// once, so a retry resends it under the same idempotency key.
    async fn abandon(&self, c: &Confirmation) -> Result<(), StoreError>;
    /// A counter's value, for the early check at propose time.
    async fn count(&self, tenant: &str, key: &str) -> Result<u64, StoreError>;
}

/// In-memory ledger: one lock makes each step atomic, as DynamoDB's conditions do.
#[derive(Default)]
pub struct MemoryLedger {
    confirmations: Mutex<HashMap<(String, String), Confirmation>>,
    counters: Mutex<HashMap<(String, String), u64>>,
}

fn poisoned<T>(_: T) -> StoreError {
    StoreError::Unavailable("ledger lock poisoned".into())
}

#[async_trait]
impl Ledger for MemoryLedger {
    async fn put(&self, c: &Confirmation) -> Result<(), StoreError> {
        self.confirmations
            .lock()
            .map_err(poisoned)?
            .insert((c.tenant.clone(), c.id.clone()), c.clone());
        Ok(())
    }

    async fn get(&self, tenant: &str, id: &str) -> Result<Option<Confirmation>, StoreError> {
        Ok(self
            .confirmations
            .lock()
            .map_err(poisoned)?
            .get(&(tenant.to_string(), id.to_string()))
            .cloned())
    }

    async fn claim(
        &self,
        c: &Confirmation,
        now: i64,
        stale_before: i64,
    ) -> Result<Claim, StoreError> {
        let mut all = self.confirmations.lock().map_err(poisoned)?;
        let mut counters = self.counters.lock().map_err(poisoned)?;
        let key = (c.tenant.clone(), c.id.clone());
        let Some(stored) = all.get_mut(&key) else {
            return Ok(Claim::Taken);
        };
        match stored.state {
            State::Pending => {
                for b in &c.bounds {
                    let n = counters.get(&(c.tenant.clone(), b.key.clone())).copied();
                    if n.unwrap_or(0) >= b.cap {
                        return Ok(Claim::OverCap(b.reason.clone()));
                    }
                }
                for b in &c.bounds {
                    *counters
                        .entry((c.tenant.clone(), b.key.clone()))
                        .or_default() += 1;
                }
            }
            State::Claimed if stored.claimed_at.is_some_and(|t| t < stale_before) => {}
            _ => return Ok(Claim::Taken),
        }
        stored.state = State::Claimed;
        stored.claimed_at = Some(now);
        stored.audit_sk = c.audit_sk.clone();
        Ok(Claim::Won)
    }

    async fn finish(
        &self,
        c: &Confirmation,
        outcome: &Value,
        release: bool,
    ) -> Result<(), StoreError> {
        let mut all = self.confirmations.lock().map_err(poisoned)?;
        if let Some(stored) = all.get_mut(&(c.tenant.clone(), c.id.clone())) {
            stored.state = State::Done;
            stored.outcome = Some(outcome.clone());
        }
        if release {
            let mut counters = self.counters.lock().map_err(poisoned)?;
            for b in &c.bounds {
                if let Some(n) = counters.get_mut(&(c.tenant.clone(), b.key.clone())) {
                    *n = n.saturating_sub(1);
                }
            }
        }
        Ok(())
    }

    async fn abandon(&self, c: &Confirmation) -> Result<(), StoreError> {
        let mut all = self.confirmations.lock().map_err(poisoned)?;
        if let Some(stored) = all.get_mut(&(c.tenant.clone(), c.id.clone()))
            && stored.state == State::Claimed
        {
            stored.claimed_at = Some(0);
        }
        Ok(())
    }

    async fn count(&self, tenant: &str, key: &str) -> Result<u64, StoreError> {
        Ok(self
            .counters
            .lock()
            .map_err(poisoned)?
            .get(&(tenant.to_string(), key.to_string()))
            .copied()
            .unwrap_or(0))
    }
}
