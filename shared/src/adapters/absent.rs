//! The port a role does not use: every call answers that it is not wired here. The tool
//! list and the route fallback read tenant config only; their functions carry no secrets,
//! ledger, state or audit client.
use async_trait::async_trait;
use serde_json::Value;

use crate::ports::audit::{AuditRecord, AuditSink};
use crate::ports::error::StoreError;
use crate::ports::history::History;
use crate::ports::ledger::{Bound, Claim, Confirmation, Ledger};
use crate::ports::notices::{Email, Notice, Outbox, PayLink, Renewal, WebhookSeen};
use crate::ports::state::{
    Approval, ApprovalChange, BillingState, Fact, Put, Recovery, RecoveryStatus,
};
use crate::ports::tenants::{SecretStore, TenantSecrets};

pub struct Absent;

fn absent<T>() -> Result<T, StoreError> {
    Err(StoreError::Unavailable(
        "not wired for this function's role".into(),
    ))
}

#[async_trait]
impl SecretStore for Absent {
    async fn secrets(&self, _: &str) -> Result<Option<TenantSecrets>, StoreError> {
        absent()
    }
}

#[async_trait]
impl AuditSink for Absent {
    async fn write(&self, _: &AuditRecord) -> Result<(), StoreError> {
        absent()
    }
    async fn recent(&self, _: &str, _: &str, _: usize) -> Result<Vec<AuditRecord>, StoreError> {
        absent()
    }
    async fn recent_writes(
        &self,
        _: &str,
        _: &str,
        _: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        absent()
    }
}

#[async_trait]
impl Ledger for Absent {
    async fn put(&self, _: &Confirmation) -> Result<(), StoreError> {
        absent()
    }
    async fn get(&self, _: &str, _: &str) -> Result<Option<Confirmation>, StoreError> {
        absent()
    }
    async fn history(&self, _: &str, _: &str) -> Result<History, StoreError> {
        absent()
    }
    async fn claim(
        &self,
        _: &Confirmation,
        _: i64,
        _: i64,
        _: &History,
    ) -> Result<Claim, StoreError> {
        absent()
    }
    async fn finish(&self, _: &Confirmation, _: &Value, _: bool) -> Result<(), StoreError> {
        absent()
    }
    async fn abandon(&self, _: &Confirmation) -> Result<(), StoreError> {
        absent()
    }
    async fn used(&self, _: &str, _: &Bound, _: i64) -> Result<u64, StoreError> {
        absent()
    }
    async fn take(&self, _: &str, _: &Bound) -> Result<bool, StoreError> {
        absent()
    }
    async fn take_all(&self, _: &str, _: &[Bound]) -> Result<Option<usize>, StoreError> {
        absent()
    }
}

#[async_trait]
impl BillingState for Absent {
    async fn claim_event(&self, _: &str, _: &str, _: i64) -> Result<bool, StoreError> {
        absent()
    }
    async fn claim_window(&self, _: &str, _: &str, _: i64, _: i64) -> Result<bool, StoreError> {
        absent()
    }
    async fn release_event(&self, _: &str, _: &str) -> Result<(), StoreError> {
        absent()
    }
    async fn put_fact(&self, _: &str, _: &str, _: &Fact, _: bool) -> Result<Put, StoreError> {
        absent()
    }
    async fn fact_told(&self, _: &str, _: &str, _: &Fact) -> Result<(), StoreError> {
        absent()
    }
    async fn facts(&self, _: &str, _: &str) -> Result<Vec<Fact>, StoreError> {
        absent()
    }
    async fn open_recovery(&self, _: &str, _: &Recovery) -> Result<bool, StoreError> {
        absent()
    }
    async fn resolve_recovery(&self, _: &str, _: &Recovery) -> Result<bool, StoreError> {
        absent()
    }
    async fn recoveries(
        &self,
        _: &str,
        _: RecoveryStatus,
        _: Option<&str>,
    ) -> Result<Vec<Recovery>, StoreError> {
        absent()
    }
    async fn change_approval(
        &self,
        _: &str,
        _: &str,
        _: ApprovalChange<'_>,
    ) -> Result<(Option<Approval>, bool), StoreError> {
        absent()
    }
    async fn approvals(&self, _: &str, _: Option<&str>) -> Result<Vec<Approval>, StoreError> {
        absent()
    }
    async fn put_pay_link(&self, _: &str, _: &PayLink) -> Result<(), StoreError> {
        absent()
    }
    async fn pay_link(&self, _: &str, _: &str) -> Result<Option<PayLink>, StoreError> {
        absent()
    }
    async fn spend_pay_link(&self, _: &str, _: &str, _: i64) -> Result<bool, StoreError> {
        absent()
    }
    async fn unspend_pay_link(&self, _: &str, _: &str) -> Result<(), StoreError> {
        absent()
    }
    async fn put_renewal(&self, _: &str, _: &Renewal) -> Result<(), StoreError> {
        absent()
    }
    async fn renewals(&self, _: &str) -> Result<Vec<Renewal>, StoreError> {
        absent()
    }
    async fn renewal_checked(&self, _: &str, _: &str, _: i64) -> Result<(), StoreError> {
        absent()
    }
    async fn webhook_seen(&self, _: &str, _: &WebhookSeen) -> Result<(), StoreError> {
        absent()
    }
    async fn last_webhook(&self, _: &str) -> Result<Option<WebhookSeen>, StoreError> {
        absent()
    }
}

/// A role that tells no one: a notice is dropped (logged at debug).
#[async_trait]
impl Outbox for Absent {
    async fn publish(&self, n: &Notice) -> Result<(), StoreError> {
        tracing::debug!(
            kind = n.kind.detail_type(),
            "notice not published: no bus wired"
        );
        Ok(())
    }
    async fn send(&self, _: &Email) -> Result<(), StoreError> {
        absent()
    }
}
