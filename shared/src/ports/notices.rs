//! Notices: what the system tells the world about a customer's billing, as events on the
//! stack's EventBridge bus (a merchant's rule takes them to its own channel) and, where
//! the tenant turns email on, as an email to the customer. [`Outbox`] is the port; the
//! adapters are in `crate::adapters`.
use async_trait::async_trait;
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::ports::error::StoreError;

/// Every event's `source` on the bus.
pub const SOURCE: &str = "billing-tools";

/// What a notice is about; its `detail-type` on the bus is [`NoticeKind::detail_type`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum NoticeKind {
    RecoveryOpened,
    RecoveryResolved,
    ApprovalRequested,
    ApprovalDecided,
    CardExpiring,
    SubscriptionChanged,
    RefundIssued,
}

impl NoticeKind {
    pub const ALL: [NoticeKind; 7] = [
        NoticeKind::RecoveryOpened,
        NoticeKind::RecoveryResolved,
        NoticeKind::ApprovalRequested,
        NoticeKind::ApprovalDecided,
        NoticeKind::CardExpiring,
        NoticeKind::SubscriptionChanged,
        NoticeKind::RefundIssued,
    ];

    /// The event's `detail-type`, which a merchant's rule matches on (documented in the
    /// README).
    pub fn detail_type(self) -> &'static str {
        match self {
            NoticeKind::RecoveryOpened => "Recovery Opened",
            NoticeKind::RecoveryResolved => "Recovery Resolved",
            NoticeKind::ApprovalRequested => "Approval Requested",
            NoticeKind::ApprovalDecided => "Approval Decided",
            NoticeKind::CardExpiring => "Card Expiring",
            NoticeKind::SubscriptionChanged => "Subscription Changed",
            NoticeKind::RefundIssued => "Refund Issued",
        }
    }
}

/// One notice: whose it is and what happened. `facts` are the kind's own fields (amounts
/// as `{"amount", "currency", "formatted"}`, links, statuses); never a secret, a token
/// or card data beyond brand and last 4.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Notice {
    #[serde(skip)]
    pub kind: NoticeKind,
    pub tenant: String,
    pub customer: String,
    /// The merchant's user id, where known (a visitor's write, an approval).
    pub user_id: Option<String>,
    #[serde(flatten)]
    pub facts: serde_json::Map<String, Value>,
}

/// A plain email to one customer: a text part and the same words as simple HTML.
#[derive(Debug, Clone, PartialEq)]
pub struct Email {
    pub from: String,
    pub to: String,
    pub subject: String,
    pub text: String,
    pub html: String,
}

#[async_trait]
pub trait Outbox: Send + Sync {
    /// Puts the notice on the bus.
    async fn publish(&self, notice: &Notice) -> Result<(), StoreError>;
    /// Sends the email.
    async fn send(&self, email: &Email) -> Result<(), StoreError>;
}

/// A one-tap "pay now" link: single-use, bound to one invoice, for 72 hours. Only the
/// SHA-256 of its token is stored.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PayLink {
    /// SHA-256 (hex) of the token.
    pub id: String,
    pub customer: String,
    /// The invoice it pays; empty for a card-only link (an expiring card's email), which
    /// opens the portal to update the card and pays nothing.
    pub invoice: String,
    pub expires_at: i64,
    /// When it was used to pay (a link pays once).
    pub used_at: Option<i64>,
}

/// A subscription's next renewal as webhooks keep it, which the expiring-card scan reads
/// (one partition per tenant: its cost grows with subscribers, not with calls).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Renewal {
    pub subscription: String,
    pub customer: String,
    pub status: String,
    /// Unix seconds of the period's end (the next renewal).
    pub period_end: i64,
    /// The renewal whose card was last checked (its `period_end`), so a scan asks Stripe
    /// about each renewal once.
    #[serde(default)]
    pub checked: Option<i64>,
}

/// The last Stripe event a tenant's webhook received (what `tenantctl doctor` reports).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WebhookSeen {
    pub at: i64,
    pub event: String,
    pub kind: String,
}
