//! What every call borrows: the Stripe client, the tenants, and the ports, built once per
//! cold start by `crate::wiring` (with the adapters the function's role uses) and lived as
//! long as the process.
use std::sync::Arc;

use crate::pipeline::catalog::Catalog;
use crate::pipeline::tenants::TenantDirectory;
use crate::ports::audit::AuditSink;
use crate::ports::ledger::Ledger;
use crate::ports::notices::Outbox;
use crate::ports::state::BillingState;
use crate::stripe::StripeClient;

pub struct App {
    pub stripe: StripeClient,
    pub tenants: TenantDirectory,
    pub audit: Arc<dyn AuditSink>,
    /// Confirmations, bound counters and customers' histories of the write tools.
    pub ledger: Arc<dyn Ledger>,
    /// What Stripe's events told us (projection, recovery queue, applied event ids).
    pub state: Arc<dyn BillingState>,
    pub catalog: Catalog,
    pub audit_retention_days: u32,
    /// Where notices go: the stack's bus, and the customers' email.
    pub outbox: Arc<dyn Outbox>,
    /// The API's public base URL (`https://api.example.com/prod`), which the links in an
    /// email point at; `None`: no email with a link is sent.
    pub public_url: Option<String>,
}
