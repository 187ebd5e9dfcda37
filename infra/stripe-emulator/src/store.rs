//! In-memory state: one object map per API key ("account"), plus emulator-wide controls.

use std::collections::{HashMap, HashSet, VecDeque};
use std::sync::{Arc, Mutex, MutexGuard};

use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::Value;

use crate::errors::{ApiError, ApiResult};

pub const REQUEST_LOG_LIMIT: usize = 5000;

#[derive(Clone, Default)]
pub struct Shared(Arc<Mutex<Emulator>>);

impl Shared {
    /// A poisoned lock only means an earlier handler panicked (e.g. the `reset` fault);
    /// the state itself is still consistent because handlers never panic mid-mutation.
    pub fn lock(&self) -> MutexGuard<'_, Emulator> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[derive(Default)]
pub struct Emulator {
    pub accounts: HashMap<String, Account>,
    pub revoked: HashSet<String>,
    /// Restricted keys made through the control surface, by key.
    pub restricted: HashMap<String, crate::restricted::Restricted>,
    pub faults: Vec<Fault>,
    pub latency_all: u64,
    pub latency_by_key: HashMap<String, u64>,
    pub clock_offset: i64,
    pub request_logs: HashMap<String, VecDeque<Value>>,
    /// Requests per key since the log was last cleared; unlike the log it is not capped, so
    /// benchmarks can count requests over any number of calls.
    pub request_totals: HashMap<String, u64>,
    /// (API key, idempotency key) of POSTs still running.
    pub in_flight: HashSet<(String, String)>,
    /// How webhook deliveries misbehave, for tests.
    pub webhooks: crate::outbox::Controls,
    /// Deliveries that failed every retry.
    pub failed_deliveries: u64,
}

impl Emulator {
    pub fn now(&self) -> i64 {
        crate::clock::now(self.clock_offset)
    }

    /// The key's account, made on first use as one whose portal settings are saved (a
    /// default Billing Portal configuration).
    pub fn account(&mut self, key: &str) -> &mut Account {
        let now = self.now();
        self.accounts.entry(key.to_string()).or_insert_with(|| {
            let mut a = Account::default();
            a.put(crate::seeded::portal_configuration(now));
            a
        })
    }

    pub fn log_request(&mut self, key: &str, entry: Value) {
        *self.request_totals.entry(key.to_string()).or_default() += 1;
        let log = self.request_logs.entry(key.to_string()).or_default();
        log.push_back(entry);
        while log.len() > REQUEST_LOG_LIMIT {
            log.pop_front();
        }
    }

    /// Consumes one matching fault, if any is armed for this request: the fault, and
    /// whether it strikes after the request took effect (its answer lost).
    pub fn take_fault(&mut self, key: Option<&str>, method: &str) -> Option<(FaultKind, bool)> {
        let i = self.faults.iter().position(|f| {
            f.remaining > 0
                && (f.key.is_none() || f.key.as_deref() == key)
                && f.method
                    .as_deref()
                    .is_none_or(|m| m.eq_ignore_ascii_case(method))
        })?;
        let fault = &mut self.faults[i];
        fault.remaining -= 1;
        let taken = (fault.kind.clone(), fault.after);
        if fault.remaining == 0 {
            self.faults.remove(i);
        }
        Some(taken)
    }

    pub fn latency_for(&self, key: Option<&str>) -> u64 {
        key.and_then(|k| self.latency_by_key.get(k).copied())
            .unwrap_or(self.latency_all)
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum FaultKind {
    ServerError,
    RateLimit,
    Hang(u64),
    Reset,
}

#[derive(Debug, Clone)]
pub struct Fault {
    pub kind: FaultKind,
    pub remaining: u64,
    pub key: Option<String>,
    /// Only requests with this method (e.g. `POST`, to fail a write but not its reads).
    pub method: Option<String>,
    /// `hang`/`reset` after the request was applied: the change happens, the answer is
    /// lost, as when a client times out on a request Stripe did complete.
    pub after: bool,
}

#[derive(Clone)]
pub struct StoredResponse {
    pub fingerprint: String,
    pub status: u16,
    pub body: Value,
    pub request_id: String,
    /// When it was first answered (emulator time): keys are pruned 24 h later.
    pub stored_at: i64,
}

/// Stripe: "You can remove keys from the system automatically after they're at least 24
/// hours old" (docs.stripe.com/api/idempotent_requests). The emulator does, at exactly
/// 24 h of its clock, so a retry after that is a new request, as Stripe may make it.
pub const IDEMPOTENCY_KEY_LIFE: i64 = 24 * 3600;

#[derive(Default, Clone)]
pub struct Account {
    objects: HashMap<String, Value>,
    order: HashMap<String, u64>,
    next_order: u64,
    pub idempotency: HashMap<String, StoredResponse>,
    /// Objects changed since events were last derived, with what they were before (`None`:
    /// created): the one record that `events::emit` reads to say what Stripe would.
    pub journal: Vec<(String, Option<Value>)>,
    /// Signed deliveries waiting to be sent to webhook endpoints.
    pub outbox: Vec<crate::outbox::Delivery>,
}

impl Account {
    fn note(&mut self, id: &str) {
        let Some(kind) = self.objects.get(id).map(|v| v["object"].clone()) else {
            return;
        };
        if crate::outbox::watched(kind.as_str().unwrap_or_default())
            && !self.journal.iter().any(|(j, _)| j == id)
        {
            let before = self.objects.get(id).cloned();
            self.journal.push((id.to_string(), before));
        }
    }

    pub fn put(&mut self, obj: Value) {
        let id = obj["id"].as_str().unwrap_or_default().to_string();
        if self.objects.contains_key(&id) {
            self.note(&id);
        } else if crate::outbox::watched(obj["object"].as_str().unwrap_or_default())
            && !self.journal.iter().any(|(j, _)| *j == id)
        {
            self.journal.push((id.clone(), None));
        }
        if !self.order.contains_key(&id) {
            self.next_order += 1;
            self.order.insert(id.clone(), self.next_order);
        }
        self.objects.insert(id, obj);
    }

    pub fn get(&self, id: &str) -> Option<&Value> {
        self.objects.get(id)
    }

    /// Forgets an object (a test control's; the API deletes by marking).
    pub fn remove(&mut self, id: &str) {
        self.objects.remove(id);
        self.order.remove(id);
    }

    /// The stored object of type `kind` (`customer`, `price`...), or Stripe's 404.
    pub fn fetch(&self, kind: &str, id: &str, param: &str) -> ApiResult<Value> {
        match self.objects.get(id) {
            Some(v) if v["object"] == kind => Ok(v.clone()),
            _ => Err(ApiError::no_such(label(kind), id, param)),
        }
    }

    /// Like `fetch`, but a deleted customer counts as missing.
    pub fn fetch_live(&self, kind: &str, id: &str, param: &str) -> ApiResult<Value> {
        let v = self.fetch(kind, id, param)?;
        if v["deleted"] == true {
            return Err(ApiError::no_such(label(kind), id, param));
        }
        Ok(v)
    }

    pub fn update(&mut self, id: &str, f: impl FnOnce(&mut Value)) {
        self.note(id);
        if let Some(v) = self.objects.get_mut(id) {
            f(v);
        }
    }

    pub fn sort_key(&self, obj: &Value) -> (i64, u64) {
        let id = obj["id"].as_str().unwrap_or_default();
        (
            obj["created"].as_i64().unwrap_or(0),
            self.order.get(id).copied().unwrap_or(0),
        )
    }

    /// All objects of one type, newest first.
    pub fn all(&self, kind: &str) -> Vec<&Value> {
        let mut items: Vec<&Value> = self
            .objects
            .values()
            .filter(|v| v["object"] == kind)
            .collect();
        items.sort_by_key(|v| std::cmp::Reverse(self.sort_key(v)));
        items
    }
}

/// Stripe's wording for a resource in `No such <label>: 'id'`.
pub fn label(kind: &str) -> &str {
    match kind {
        "payment_method" => "PaymentMethod",
        "payment_intent" => "payment_intent",
        other => other,
    }
}

pub fn random_alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

pub fn new_id(prefix: &str) -> String {
    let len = match prefix {
        "cus" | "prod" | "si" => 14,
        _ => 24,
    };
    format!("{prefix}_{}", random_alnum(len))
}

pub fn random_hex_upper(len: usize) -> String {
    let mut rng = rand::rng();
    (0..len)
        .map(|_| {
            let n: u8 = rng.random_range(0..16);
            char::from_digit(n as u32, 16)
                .unwrap_or('0')
                .to_ascii_uppercase()
        })
        .collect()
}

/// What a handler sees: the caller's account and the emulator's notion of "now".
pub struct Ctx<'a> {
    pub acct: &'a mut Account,
    pub now: i64,
    pub clock_offset: i64,
}
