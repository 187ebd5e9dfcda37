//! What the system knows about each customer's billing from Stripe's webhooks, kept without
//! a Stripe request: facts (a subscription's status, the customer's standing, the last
//! failed payment), each stamped with the event that set it and written only by a newer
//! one; the recovery queue of failed payments; the approvals agents decide; and the event
//! ids already applied.
//! [`BillingState`] is the port; the adapters are in `crate::adapters`.

use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::error::StoreError;
use crate::ports::notices::{PayLink, Renewal, WebhookSeen};

/// Which event set a fact: Stripe's `created` (seconds), then the event id. Two events of
/// the same second cannot be ordered by what they carry, so a tie is settled by asking
/// Stripe for the object (see [`Put::Tie`]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Stamp {
    pub created: i64,
    pub event: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Fact {
    pub key: String,
    pub value: Value,
    pub stamp: Stamp,
}

/// What [`BillingState::put_fact`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Put {
    Written,
    /// What is stored came from a later event: left as it is.
    Older,
    /// Stored from another event of the same second: the caller fetches the object from
    /// Stripe and writes that with `settle_tie`.
    Tie,
    /// Stored from this very event: a redelivery of one whose first delivery wrote the
    /// fact and then failed (so what follows the write is done again).
    Again,
    /// Stored from this very event, and what follows it was done
    /// ([`BillingState::fact_told`]): a redelivery after the event id was forgotten (a
    /// resend from Stripe's Dashboard days later), with nothing left to do.
    Told,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum RecoveryStatus {
    Open,
    Resolved,
}

/// A failed payment and what to do about it, opened by `invoice.payment_failed` and
/// resolved by the invoice being paid (in whichever order the two arrive).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Recovery {
    pub customer: String,
    pub invoice: String,
    /// `{"amount", "currency", "formatted"}`.
    pub amount_due: Value,
    pub attempt_count: i64,
    /// RFC 3339; Stripe's next automatic retry, if it will make one.
    pub next_retry: Option<String>,
    /// The decline in plain words.
    pub decline: Option<String>,
    pub hosted_invoice_url: Option<String>,
    /// RFC 3339; unset when the invoice was paid before its failure reached us.
    pub opened_at: Option<String>,
    pub resolved_at: Option<String>,
    pub status: RecoveryStatus,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ApprovalStatus {
    Pending,
    Approved,
    Denied,
    /// Pending past its `expires_at`: nobody decided in time (stored as pending).
    Expired,
}

/// The bound a write passed, which a person may lift.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PassedBound {
    /// The `policy_denied` reason it would have been (`refund_cap_exceeded`, ...).
    pub reason: String,
    /// What the visitor was told.
    pub message: String,
    /// By how much, in words ("$30.00 over the $100.00 limit").
    pub over: Option<String>,
}

/// A confirmed write a bound held, waiting for a person. The write itself (its exact
/// Stripe change, preview and history entry) stays in its confirmation; this is what
/// agents list and decide, and what the visitor reads back.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Approval {
    /// `apr_{customer}.{24 hex}`: whose it is can be read from the id alone.
    pub id: String,
    pub customer: String,
    pub user_id: String,
    pub tool: String,
    /// The id of the confirmation it resumes (a hash: the token is never stored).
    pub confirmation: String,
    /// The preview as the visitor saw it, and its summary.
    pub preview: Value,
    pub summary: String,
    pub bound: PassedBound,
    pub asked_at: i64,
    pub expires_at: i64,
    pub status: ApprovalStatus,
    /// `agent:{id}` of who decided.
    pub decided_by: Option<String>,
    pub decided_at: Option<i64>,
    pub note: Option<String>,
    /// Once approved: the write's answer (`data`, `summary`) or its error.
    pub outcome: Option<Value>,
    /// The bot has told the visitor of the decision (its next status mentions it once).
    #[serde(default)]
    pub told: bool,
}

impl Approval {
    /// Its status at `now`: a pending one past its life is expired.
    pub fn status_at(&self, now: i64) -> ApprovalStatus {
        match self.status {
            ApprovalStatus::Pending if self.expires_at <= now => ApprovalStatus::Expired,
            s => s,
        }
    }

    /// The id's customer: `apr_{customer}.{hex}`.
    pub fn customer_of(id: &str) -> Option<&str> {
        let rest = id.strip_prefix("apr_")?;
        let (customer, hex) = rest.rsplit_once('.')?;
        let ok = customer.starts_with("cus_")
            && customer.len() <= 64
            && customer[4..].chars().all(|c| c.is_ascii_alphanumeric())
            && hex.len() == 24
            && hex.chars().all(|c| c.is_ascii_hexdigit());
        ok.then_some(customer)
    }
}

/// A change to an approval, applied atomically: given what is stored, what to store
/// (`None`: leave it).
pub type ApprovalChange<'a> = &'a (dyn Fn(Option<&Approval>) -> Option<Approval> + Send + Sync);

#[async_trait]
pub trait BillingState: Send + Sync {
    /// Claims an event id; `false` when it was claimed before (a duplicate delivery).
    async fn claim_event(
        &self,
        tenant: &str,
        event: &str,
        expires_at: i64,
    ) -> Result<bool, StoreError>;
    /// Claims `key` unless it was claimed in the last `window_secs` (a rolling window:
    /// at most one per window, whenever the last one was); `false` when it was.
    async fn claim_window(
        &self,
        tenant: &str,
        key: &str,
        now: i64,
        window_secs: i64,
    ) -> Result<bool, StoreError>;
    /// Gives a claim back when applying the event failed, so Stripe's retry applies it.
    async fn release_event(&self, tenant: &str, event: &str) -> Result<(), StoreError>;
    /// Writes the fact if its stamp is newer than the stored one (a later `created`);
    /// with `settle_tie`, also over a stamp of the same second (the value then comes from
    /// Stripe itself).
    async fn put_fact(
        &self,
        tenant: &str,
        customer: &str,
        fact: &Fact,
        settle_tie: bool,
    ) -> Result<Put, StoreError>;
    /// Notes that what follows the fact's write (its renewal, its notice) was done, while
    /// the stored fact is still this one; a later redelivery of its event is then
    /// [`Put::Told`], not [`Put::Again`].
    async fn fact_told(&self, tenant: &str, customer: &str, fact: &Fact) -> Result<(), StoreError>;
    async fn facts(&self, tenant: &str, customer: &str) -> Result<Vec<Fact>, StoreError>;
    /// Opens (or updates with a later attempt) the invoice's recovery; a resolved one stays
    /// resolved and only learns when it had opened.
    /// `true` when the invoice's recovery is open afterwards (one whose invoice was paid
    /// first stays resolved: nobody is told of a failure already made good).
    async fn open_recovery(&self, tenant: &str, r: &Recovery) -> Result<bool, StoreError>;
    /// Resolves the invoice's recovery, creating it resolved if its failure has not
    /// arrived yet, so a late failure cannot reopen it.
    /// `true` when this call resolved an open one (decided in the same compare-and-set).
    async fn resolve_recovery(&self, tenant: &str, r: &Recovery) -> Result<bool, StoreError>;
    /// A tenant's recoveries (those that ever opened), newest first; of one customer when
    /// given.
    async fn recoveries(
        &self,
        tenant: &str,
        status: RecoveryStatus,
        customer: Option<&str>,
    ) -> Result<Vec<Recovery>, StoreError>;
    /// Applies `change` to approval `id` as one compare-and-set (retried while another
    /// writer gets there first): what is stored afterwards, and whether this call wrote it.
    async fn change_approval(
        &self,
        tenant: &str,
        id: &str,
        change: ApprovalChange<'_>,
    ) -> Result<(Option<Approval>, bool), StoreError>;
    /// A tenant's approvals (of one customer when given), newest first.
    async fn approvals(
        &self,
        tenant: &str,
        customer: Option<&str>,
    ) -> Result<Vec<Approval>, StoreError>;
    /// Stores a new pay link (its id is its token's hash).
    async fn put_pay_link(&self, tenant: &str, link: &PayLink) -> Result<(), StoreError>;
    async fn pay_link(&self, tenant: &str, id: &str) -> Result<Option<PayLink>, StoreError>;
    /// Marks the link used, once: `true` for the one call that did.
    async fn spend_pay_link(&self, tenant: &str, id: &str, now: i64) -> Result<bool, StoreError>;
    /// Gives a spent link back (its payment could not be tried: Stripe or AWS failed), so
    /// the customer can click again.
    async fn unspend_pay_link(&self, tenant: &str, id: &str) -> Result<(), StoreError>;
    /// Keeps a subscription's next renewal (written with the subscription's fact, so only
    /// a newer event changes it); `checked` is carried over while the period is the same.
    async fn put_renewal(&self, tenant: &str, r: &Renewal) -> Result<(), StoreError>;
    /// Every subscription renewal the tenant's webhooks told of.
    async fn renewals(&self, tenant: &str) -> Result<Vec<Renewal>, StoreError>;
    /// Notes the renewal's card as checked for its current period.
    async fn renewal_checked(
        &self,
        tenant: &str,
        subscription: &str,
        period_end: i64,
    ) -> Result<(), StoreError>;
    async fn webhook_seen(&self, tenant: &str, seen: &WebhookSeen) -> Result<(), StoreError>;
    async fn last_webhook(&self, tenant: &str) -> Result<Option<WebhookSeen>, StoreError>;
}

/// A renewal as stored after `r` arrived: the check of the same period is kept.
pub(crate) fn merged_renewal(stored: Option<&Renewal>, r: &Renewal) -> Renewal {
    Renewal {
        checked: stored
            .and_then(|s| s.checked)
            .filter(|c| *c == r.period_end),
        ..r.clone()
    }
}

/// Keeps only what a listing of `status` shows, newest first.
pub(crate) fn listed(mut all: Vec<Recovery>, status: RecoveryStatus) -> Vec<Recovery> {
    all.retain(|r| r.status == status && r.opened_at.is_some());
    all.sort_by(|a, b| b.opened_at.cmp(&a.opened_at));
    all
}

/// What an open makes of what is stored (`None`: nothing to change). Both adapters apply
/// it under their own exclusion (a lock; a versioned conditional write).
pub(crate) fn merged_open(stored: Option<Recovery>, r: &Recovery) -> Option<Recovery> {
    match stored {
        None => Some(r.clone()),
        // Paid before its failure arrived: it stays resolved and learns when it opened.
        Some(s) if s.status == RecoveryStatus::Resolved => {
            s.opened_at.is_none().then(|| Recovery {
                opened_at: r.opened_at.clone(),
                decline: r.decline.clone(),
                ..s
            })
        }
        Some(s) if s.attempt_count >= r.attempt_count => None,
        Some(s) => Some(Recovery {
            opened_at: s.opened_at.or_else(|| r.opened_at.clone()),
            ..r.clone()
        }),
    }
}

/// Whether a stored recovery is open (opened, not resolved).
pub(crate) fn is_open(r: Option<&Recovery>) -> bool {
    r.is_some_and(|r| r.status == RecoveryStatus::Open && r.opened_at.is_some())
}

pub(crate) fn merged_resolve(stored: Option<Recovery>, r: &Recovery) -> Recovery {
    match stored {
        None => Recovery {
            status: RecoveryStatus::Resolved,
            opened_at: None,
            ..r.clone()
        },
        Some(s) => Recovery {
            status: RecoveryStatus::Resolved,
            resolved_at: s.resolved_at.or_else(|| r.resolved_at.clone()),
            next_retry: None,
            ..s
        },
    }
}
