//! In-memory adapters of every port, for tests and benchmarks of the pipeline without AWS
//! (behind the `fakes` feature: never in a deployed function). One lock makes each step
//! atomic, as DynamoDB's conditions do.
use std::collections::{BTreeMap, HashMap};
use std::sync::Mutex;

use async_trait::async_trait;
use serde_json::Value;

use crate::ports::audit::{AuditRecord, AuditSink};
use crate::ports::error::StoreError;
use crate::ports::history::History;
use crate::ports::ledger::{Bound, Claim, Confirmation, Entry, Ledger, State, in_window};
use crate::ports::notices::{Email, Notice, Outbox, PayLink, Renewal, WebhookSeen};
use crate::ports::state::{
    Approval, ApprovalChange, BillingState, Fact, Put, Recovery, RecoveryStatus, is_open, listed,
    merged_open, merged_renewal, merged_resolve,
};
use crate::ports::tenants::{SecretStore, TenantConfig, TenantSecrets, TenantStore};

#[derive(Default)]
pub struct MemoryTenants {
    pub configs: Mutex<HashMap<String, TenantConfig>>,
    pub contacts: Mutex<HashMap<(String, String), String>>,
    pub secrets: Mutex<HashMap<String, TenantSecrets>>,
    pub reads: Mutex<u32>,
}

#[async_trait]
impl TenantStore for MemoryTenants {
    async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, StoreError> {
        *self.reads.lock().unwrap() += 1;
        Ok(self.configs.lock().unwrap().get(tenant).cloned())
    }
    async fn map_new_contact(
        &self,
        tenant: &str,
        user: &str,
        customer: &str,
    ) -> Result<bool, StoreError> {
        let mut contacts = self.contacts.lock().unwrap();
        let key = (tenant.to_string(), user.to_string());
        if contacts.contains_key(&key) {
            return Ok(false);
        }
        contacts.insert(key, customer.to_string());
        Ok(true)
    }
    async fn tenant_ids(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.configs.lock().unwrap().keys().cloned().collect())
    }
    async fn contact(&self, tenant: &str, user: &str) -> Result<Option<String>, StoreError> {
        let key = (tenant.to_string(), user.to_string());
        Ok(self.contacts.lock().unwrap().get(&key).cloned())
    }
}

#[async_trait]
impl SecretStore for MemoryTenants {
    async fn secrets(&self, tenant: &str) -> Result<Option<TenantSecrets>, StoreError> {
        Ok(self.secrets.lock().unwrap().get(tenant).cloned())
    }
}

#[derive(Default)]
pub struct MemoryAudit {
    pub records: std::sync::Mutex<Vec<AuditRecord>>,
}

#[async_trait]
impl AuditSink for MemoryAudit {
    async fn write(&self, record: &AuditRecord) -> Result<(), StoreError> {
        self.records
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?
            .push(record.clone());
        Ok(())
    }

    async fn recent(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let pk = format!("{tenant}#{customer}");
        let records = self
            .records
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        Ok(records
            .iter()
            .rev()
            .filter(|r| r.pk == pk)
            .take(limit)
            .cloned()
            .collect())
    }

    async fn recent_writes(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let pk = format!("{tenant}#{customer}");
        let records = self
            .records
            .lock()
            .map_err(|_| StoreError::Unavailable("poisoned".into()))?;
        // One record per key, the last written, as DynamoDB keeps it.
        let mut seen = std::collections::HashSet::new();
        Ok(records
            .iter()
            .rev()
            .filter(|r| r.pk == pk && r.sends.is_some() && seen.insert(r.sk.clone()))
            .take(limit)
            .cloned()
            .collect())
    }
}

/// In-memory ledger: one lock makes each step atomic, as DynamoDB's conditions do.
#[derive(Default)]
pub struct MemoryLedger {
    confirmations: Mutex<HashMap<(String, String), Confirmation>>,
    histories: Mutex<HashMap<(String, String), History>>,
    counters: Mutex<HashMap<(String, String), u64>>,
    windows: Mutex<HashMap<(String, String), Vec<Entry>>>,
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

    async fn history(&self, tenant: &str, customer: &str) -> Result<History, StoreError> {
        Ok(self
            .histories
            .lock()
            .map_err(poisoned)?
            .get(&(tenant.to_string(), customer.to_string()))
            .cloned()
            .unwrap_or_default())
    }

    async fn claim(
        &self,
        c: &Confirmation,
        now: i64,
        stale_before: i64,
        history: &History,
    ) -> Result<Claim, StoreError> {
        let mut all = self.confirmations.lock().map_err(poisoned)?;
        let mut histories = self.histories.lock().map_err(poisoned)?;
        let mut counters = self.counters.lock().map_err(poisoned)?;
        let mut windows = self.windows.lock().map_err(poisoned)?;
        let key = (c.tenant.clone(), c.id.clone());
        let Some(stored) = all.get_mut(&key) else {
            return Ok(Claim::Taken);
        };
        match stored.state {
            State::Pending => {
                let hkey = (c.tenant.clone(), c.customer.clone());
                let current = histories.get(&hkey).map_or(0, |h| h.version);
                if c.act.is_some() && current != history.version {
                    return Ok(Claim::Taken);
                }
                for b in &c.bounds {
                    let k = (c.tenant.clone(), b.key.clone());
                    let n = match b.window_secs {
                        Some(w) => in_window(windows.get(&k).map_or(&[], Vec::as_slice), w, now).1,
                        None => counters.get(&k).copied().unwrap_or(0),
                    };
                    if !b.fits(n) {
                        return Ok(Claim::OverCap(b.reason.clone()));
                    }
                }
                for b in &c.bounds {
                    let k = (c.tenant.clone(), b.key.clone());
                    match b.window_secs {
                        Some(_) => {
                            windows
                                .entry(k)
                                .or_default()
                                .push((c.id.clone(), now, b.weight))
                        }
                        None => *counters.entry(k).or_default() += b.weight,
                    }
                }
                if let Some(entry) = c.entry(now) {
                    let mut next = history.with(entry, now);
                    next.version = current + 1;
                    histories.insert(hkey, next);
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
            let mut histories = self.histories.lock().map_err(poisoned)?;
            if let Some(h) = histories.get_mut(&(c.tenant.clone(), c.customer.clone()))
                && h.entries.iter().any(|e| e.id == c.id)
            {
                let version = h.version + 1;
                *h = h.without(&c.id);
                h.version = version;
            }
            let mut counters = self.counters.lock().map_err(poisoned)?;
            let mut windows = self.windows.lock().map_err(poisoned)?;
            for b in &c.bounds {
                let k = (c.tenant.clone(), b.key.clone());
                if b.window_secs.is_some() {
                    if let Some(entries) = windows.get_mut(&k) {
                        entries.retain(|(id, _, _)| *id != c.id);
                    }
                } else if let Some(n) = counters.get_mut(&k) {
                    *n = n.saturating_sub(b.weight);
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

    async fn take(&self, tenant: &str, bound: &Bound) -> Result<bool, StoreError> {
        let mut counters = self.counters.lock().map_err(poisoned)?;
        let n = counters
            .entry((tenant.to_string(), bound.key.clone()))
            .or_default();
        if !bound.fits(*n) {
            return Ok(false);
        }
        *n += bound.weight;
        Ok(true)
    }

    async fn take_all(&self, tenant: &str, bounds: &[Bound]) -> Result<Option<usize>, StoreError> {
        let mut counters = self.counters.lock().map_err(poisoned)?;
        let key = |b: &Bound| (tenant.to_string(), b.key.clone());
        if let Some(i) = bounds
            .iter()
            .position(|b| !b.fits(counters.get(&key(b)).copied().unwrap_or(0)))
        {
            return Ok(Some(i));
        }
        for b in bounds {
            *counters.entry(key(b)).or_default() += b.weight;
        }
        Ok(None)
    }

    async fn used(&self, tenant: &str, b: &Bound, now: i64) -> Result<u64, StoreError> {
        let k = (tenant.to_string(), b.key.clone());
        Ok(match b.window_secs {
            Some(w) => {
                let windows = self.windows.lock().map_err(poisoned)?;
                in_window(windows.get(&k).map_or(&[], Vec::as_slice), w, now).1
            }
            None => self
                .counters
                .lock()
                .map_err(poisoned)?
                .get(&k)
                .copied()
                .unwrap_or(0),
        })
    }
}

/// In-process adapter, for tests and a process without AWS.
#[derive(Default)]
pub struct MemoryState {
    events: Mutex<BTreeMap<(String, String), i64>>,
    facts: Mutex<BTreeMap<(String, String, String), Fact>>,
    /// The facts (by key) whose renewal and notice were done.
    told: Mutex<std::collections::BTreeSet<(String, String, String)>>,
    recoveries: Mutex<BTreeMap<(String, String, String), Recovery>>,
    approvals: Mutex<BTreeMap<(String, String), Approval>>,
    pay_links: Mutex<BTreeMap<(String, String), PayLink>>,
    renewals: Mutex<BTreeMap<(String, String), Renewal>>,
    webhooks: Mutex<BTreeMap<String, WebhookSeen>>,
    /// How many of the next renewal writes fail, as a store that fails between a webhook's
    /// two writes would (tests of what Stripe's retry then mends).
    pub renewal_faults: std::sync::atomic::AtomicU32,
}

#[async_trait]
impl BillingState for MemoryState {
    async fn claim_event(
        &self,
        tenant: &str,
        event: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError> {
        let mut events = self.events.lock().expect("state lock");
        let key = (tenant.to_string(), event.to_string());
        if events.contains_key(&key) {
            return Ok(false);
        }
        events.insert(key, expires_at);
        Ok(true)
    }

    async fn claim_window(
        &self,
        tenant: &str,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<bool, StoreError> {
        let mut events = self.events.lock().expect("state lock");
        let k = (tenant.to_string(), key.to_string());
        // Stored as the window's end.
        if events.get(&k).is_some_and(|end| *end > now) {
            return Ok(false);
        }
        events.insert(k, now + window_secs);
        Ok(true)
    }

    async fn release_event(&self, tenant: &str, event: &str) -> Result<(), StoreError> {
        self.events
            .lock()
            .expect("state lock")
            .remove(&(tenant.to_string(), event.to_string()));
        Ok(())
    }

    async fn put_fact(
        &self,
        tenant: &str,
        customer: &str,
        fact: &Fact,
        settle_tie: bool,
    ) -> Result<Put, StoreError> {
        let mut facts = self.facts.lock().expect("state lock");
        let key = (tenant.to_string(), customer.to_string(), fact.key.clone());
        let told = self.told.lock().expect("state lock").contains(&key);
        let outcome = match facts.get(&key) {
            None => Put::Written,
            Some(s) if s.stamp.created < fact.stamp.created => Put::Written,
            Some(s) if s.stamp == fact.stamp && told => Put::Told,
            Some(s) if s.stamp == fact.stamp => Put::Again,
            Some(s) if s.stamp.created > fact.stamp.created => Put::Older,
            Some(_) if settle_tie => Put::Written,
            Some(_) => Put::Tie,
        };
        if outcome == Put::Written {
            self.told.lock().expect("state lock").remove(&key);
            facts.insert(key, fact.clone());
        }
        Ok(outcome)
    }

    async fn fact_told(&self, tenant: &str, customer: &str, fact: &Fact) -> Result<(), StoreError> {
        let facts = self.facts.lock().expect("state lock");
        let key = (tenant.to_string(), customer.to_string(), fact.key.clone());
        if facts.get(&key).is_some_and(|s| s.stamp == fact.stamp) {
            self.told.lock().expect("state lock").insert(key);
        }
        Ok(())
    }

    async fn facts(&self, tenant: &str, customer: &str) -> Result<Vec<Fact>, StoreError> {
        Ok(self
            .facts
            .lock()
            .expect("state lock")
            .iter()
            .filter(|((t, c, _), _)| t == tenant && c == customer)
            .map(|(_, f)| f.clone())
            .collect())
    }

    async fn open_recovery(&self, tenant: &str, r: &Recovery) -> Result<bool, StoreError> {
        let mut all = self.recoveries.lock().expect("state lock");
        let key = (tenant.to_string(), r.customer.clone(), r.invoice.clone());
        if let Some(next) = merged_open(all.get(&key).cloned(), r) {
            all.insert(key.clone(), next);
        }
        Ok(is_open(all.get(&key)))
    }

    async fn resolve_recovery(&self, tenant: &str, r: &Recovery) -> Result<bool, StoreError> {
        let mut all = self.recoveries.lock().expect("state lock");
        let key = (tenant.to_string(), r.customer.clone(), r.invoice.clone());
        let was_open = is_open(all.get(&key));
        let next = merged_resolve(all.get(&key).cloned(), r);
        all.insert(key, next);
        Ok(was_open)
    }

    async fn recoveries(
        &self,
        tenant: &str,
        status: RecoveryStatus,
        customer: Option<&str>,
    ) -> Result<Vec<Recovery>, StoreError> {
        let all = self
            .recoveries
            .lock()
            .expect("state lock")
            .iter()
            .filter(|((t, c, _), _)| t == tenant && customer.is_none_or(|want| want == c))
            .map(|(_, r)| r.clone())
            .collect();
        Ok(listed(all, status))
    }

    async fn change_approval(
        &self,
        tenant: &str,
        id: &str,
        change: ApprovalChange<'_>,
    ) -> Result<(Option<Approval>, bool), StoreError> {
        let mut all = self.approvals.lock().expect("state lock");
        let key = (tenant.to_string(), id.to_string());
        match change(all.get(&key)) {
            Some(next) => {
                all.insert(key, next.clone());
                Ok((Some(next), true))
            }
            None => Ok((all.get(&key).cloned(), false)),
        }
    }

    async fn approvals(
        &self,
        tenant: &str,
        customer: Option<&str>,
    ) -> Result<Vec<Approval>, StoreError> {
        let mut all: Vec<Approval> = self
            .approvals
            .lock()
            .expect("state lock")
            .iter()
            .filter(|((t, _), a)| t == tenant && customer.is_none_or(|c| c == a.customer))
            .map(|(_, a)| a.clone())
            .collect();
        all.sort_by_key(|a| std::cmp::Reverse(a.asked_at));
        Ok(all)
    }
    async fn put_pay_link(&self, tenant: &str, link: &PayLink) -> Result<(), StoreError> {
        let mut all = self.pay_links.lock().expect("state lock");
        all.insert((tenant.to_string(), link.id.clone()), link.clone());
        Ok(())
    }
    async fn pay_link(&self, tenant: &str, id: &str) -> Result<Option<PayLink>, StoreError> {
        let all = self.pay_links.lock().expect("state lock");
        Ok(all.get(&(tenant.to_string(), id.to_string())).cloned())
    }
    async fn spend_pay_link(&self, tenant: &str, id: &str, now: i64) -> Result<bool, StoreError> {
        let mut all = self.pay_links.lock().expect("state lock");
        match all.get_mut(&(tenant.to_string(), id.to_string())) {
            Some(l) if l.used_at.is_none() && l.expires_at > now => {
                l.used_at = Some(now);
                Ok(true)
            }
            _ => Ok(false),
        }
    }
    async fn unspend_pay_link(&self, tenant: &str, id: &str) -> Result<(), StoreError> {
        let mut all = self.pay_links.lock().expect("state lock");
        if let Some(l) = all.get_mut(&(tenant.to_string(), id.to_string())) {
            l.used_at = None;
        }
        Ok(())
    }
    async fn put_renewal(&self, tenant: &str, r: &Renewal) -> Result<(), StoreError> {
        use std::sync::atomic::Ordering;
        let faults = &self.renewal_faults;
        if faults
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| n.checked_sub(1))
            .is_ok()
        {
            return Err(StoreError::Unavailable(
                "renewal write failed (injected)".into(),
            ));
        }
        let mut all = self.renewals.lock().expect("state lock");
        let key = (tenant.to_string(), r.subscription.clone());
        let next = merged_renewal(all.get(&key), r);
        all.insert(key, next);
        Ok(())
    }
    async fn renewals(&self, tenant: &str) -> Result<Vec<Renewal>, StoreError> {
        let all = self.renewals.lock().expect("state lock");
        Ok(all
            .iter()
            .filter(|((t, _), _)| t == tenant)
            .map(|(_, r)| r.clone())
            .collect())
    }
    async fn renewal_checked(
        &self,
        tenant: &str,
        subscription: &str,
        period_end: i64,
    ) -> Result<(), StoreError> {
        let mut all = self.renewals.lock().expect("state lock");
        if let Some(r) = all.get_mut(&(tenant.to_string(), subscription.to_string()))
            && r.period_end == period_end
        {
            r.checked = Some(period_end);
        }
        Ok(())
    }
    async fn webhook_seen(&self, tenant: &str, seen: &WebhookSeen) -> Result<(), StoreError> {
        let mut all = self.webhooks.lock().expect("state lock");
        all.insert(tenant.to_string(), seen.clone());
        Ok(())
    }
    async fn last_webhook(&self, tenant: &str) -> Result<Option<WebhookSeen>, StoreError> {
        Ok(self
            .webhooks
            .lock()
            .expect("state lock")
            .get(tenant)
            .cloned())
    }
}

/// Notices kept in memory, for tests: what was published and sent.
#[derive(Default)]
pub struct MemoryOutbox {
    pub published: Mutex<Vec<Notice>>,
    pub sent: Mutex<Vec<Email>>,
}

#[async_trait]
impl Outbox for MemoryOutbox {
    async fn publish(&self, n: &Notice) -> Result<(), StoreError> {
        self.published.lock().expect("outbox lock").push(n.clone());
        Ok(())
    }
    async fn send(&self, e: &Email) -> Result<(), StoreError> {
        self.sent.lock().expect("outbox lock").push(e.clone());
        Ok(())
    }
}
