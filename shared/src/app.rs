//! Wiring: the adapters a function needs, built once per cold start from the environment
//! template.yaml sets (real AWS and Stripe in a deployment, local endpoints by
//! configuration), and borrowed by every invocation.
use std::sync::Arc;
use std::time::Duration;

use crate::audit::AuditSink;
use crate::aws::{DynamoAudit, DynamoLedger, DynamoTenants, ManagedSecrets};
use crate::catalog::Catalog;
use crate::config::{AwsBudget, Settings, StripeSettings};
use crate::ledger::{Ledger, MemoryLedger};
use crate::state::dynamo::DynamoState;
use crate::state::{BillingState, MemoryState};
use crate::stripe::StripeClient;
use crate::tenant::{SecretStore, TenantDirectory, TenantStore};

/// The AWS SDK's configuration (credentials, region, endpoint from the environment) with
/// this project's time budget; `endpoint` overrides the environment's.
pub async fn aws_sdk_config(budget: AwsBudget, endpoint: Option<&str>) -> aws_config::SdkConfig {
    let mut loader = aws_config::defaults(aws_config::BehaviorVersion::latest())
        .timeout_config(
            aws_config::timeout::TimeoutConfig::builder()
                .connect_timeout(budget.connect_timeout)
                .operation_attempt_timeout(budget.attempt_timeout)
                .operation_timeout(budget.operation_timeout)
                .build(),
        )
        .retry_config(
            aws_config::retry::RetryConfig::standard().with_max_attempts(budget.max_attempts),
        );
    if let Some(url) = endpoint {
        loader = loader.endpoint_url(url);
    }
    loader.load().await
}

/// Built once per cold start and borrowed by every invocation.
pub struct App {
    pub stripe: StripeClient,
    pub tenants: TenantDirectory,
    pub audit: Arc<dyn AuditSink>,
    /// Confirmations and bound counters of the write tools.
    pub ledger: Arc<dyn Ledger>,
    /// What Stripe's events told us (projection, recovery queue, applied event ids).
    pub state: Arc<dyn BillingState>,
    pub catalog: Catalog,
    pub audit_retention_days: u32,
}

impl App {
    pub fn new(
        stripe: StripeSettings,
        store: Arc<dyn TenantStore>,
        secrets: Arc<dyn SecretStore>,
        audit: Arc<dyn AuditSink>,
        cache_ttl: Duration,
    ) -> Result<Self, lambda_http::Error> {
        Ok(Self {
            stripe: StripeClient::new(stripe)?,
            tenants: TenantDirectory::new(store, secrets, cache_ttl),
            audit,
            ledger: Arc::new(MemoryLedger::default()),
            state: Arc::new(MemoryState::default()),
            catalog: Catalog::new(cache_ttl),
            audit_retention_days: 400,
        })
    }

    /// The real adapters, configured from the environment template.yaml sets.
    pub async fn from_env() -> Result<Self, lambda_http::Error> {
        let settings = Settings::from_env()?;
        let aws = aws_sdk_config(settings.aws, None).await;
        let dynamo = aws_sdk_dynamodb::Client::new(&aws);
        let store = Arc::new(DynamoTenants::new(
            dynamo.clone(),
            settings.tenants_table.clone(),
            settings.contacts_table.clone(),
        ));
        let secrets = Arc::new(ManagedSecrets::new(
            aws_sdk_secretsmanager::Client::new(&aws),
            aws_sdk_kms::Client::new(&aws),
            settings.secrets_prefix.clone(),
        ));
        let audit = Arc::new(DynamoAudit::new(
            dynamo.clone(),
            settings.audit_table.clone(),
        ));
        let state = Arc::new(DynamoState::new(
            dynamo.clone(),
            settings.state_table.clone(),
        ));
        let ledger = Arc::new(DynamoLedger::new(dynamo, settings.ledger_table.clone()));
        let mut app = Self::new(
            settings.stripe,
            store,
            secrets,
            audit,
            settings.tenant_cache_ttl,
        )?;
        app.audit_retention_days = settings.audit_retention_days;
        app.ledger = ledger;
        app.state = state;
        Ok(app)
    }
}
