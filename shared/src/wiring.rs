//! Wiring: the adapters a function's role uses, built once per cold start from the
//! environment template.yaml sets (real AWS and Stripe in a deployment, local endpoints by
//! configuration), and nothing it does not use.
use std::sync::Arc;

use crate::adapters::absent::Absent;
use crate::adapters::dynamo::audit::DynamoAudit;
use crate::adapters::dynamo::ledger::DynamoLedger;
use crate::adapters::dynamo::state::DynamoState;
use crate::adapters::dynamo::tenants::DynamoTenants;
use crate::adapters::outbox::AwsOutbox;
use crate::adapters::secrets::ManagedSecrets;
use crate::config::{AwsBudget, Settings};
use crate::pipeline::app::App;
use crate::pipeline::catalog::Catalog;
use crate::pipeline::tenants::TenantDirectory;
use crate::stripe::StripeClient;

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
    if let Some(client) = https_client() {
        loader = loader.http_client(client);
    }
    loader.load().await
}

/// The SDKs' HTTPS client (aws-smithy-http-client, rustls on aws-lc, as their default),
/// trusting the roots compiled into the binary. The default reads and parses every file in
/// /etc/ssl/certs when the first SDK client is built, a few milliseconds of every cold
/// start. `None` (the SDK's default then) only if the roots do not make a TLS context.
fn https_client() -> Option<aws_sdk_dynamodb::config::SharedHttpClient> {
    use aws_smithy_http_client::tls::{self, TlsContext, TrustStore, rustls_provider::CryptoMode};
    use base64::Engine;
    let mut pem = String::new();
    for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
        pem.push_str("-----BEGIN CERTIFICATE-----\n");
        pem.push_str(&base64::engine::general_purpose::STANDARD.encode(cert.as_ref()));
        pem.push_str("\n-----END CERTIFICATE-----\n");
    }
    let trust = TrustStore::empty()
        .with_native_roots(false)
        .with_pem_certificate(pem.into_bytes());
    let context = TlsContext::builder().with_trust_store(trust).build().ok()?;
    Some(
        aws_smithy_http_client::Builder::new()
            .tls_provider(tls::Provider::Rustls(CryptoMode::AwsLc))
            .tls_context(context)
            .build_https(),
    )
}

/// Every endpoint that serves a caller: tenants with their secrets (Secrets Manager, KMS),
/// audit, the write ledger, the webhook-fed state, Stripe.
pub async fn endpoints() -> Result<App, lambda_http::Error> {
    let settings = Settings::from_env()?;
    let aws = aws_sdk_config(settings.aws, None).await;
    let dynamo = aws_sdk_dynamodb::Client::new(&aws);
    let tenants = Arc::new(DynamoTenants::new(
        dynamo.clone(),
        settings.tenants_table.clone(),
        settings.contacts_table.clone(),
    ));
    let secrets = Arc::new(ManagedSecrets::new(
        aws_sdk_secretsmanager::Client::new(&aws),
        aws_sdk_kms::Client::new(&aws),
        settings.secrets_prefix.clone(),
    ));
    Ok(App {
        stripe: StripeClient::new(settings.stripe)?,
        tenants: TenantDirectory::new(tenants, secrets, settings.tenant_cache_ttl),
        audit: Arc::new(DynamoAudit::new(
            dynamo.clone(),
            settings.audit_table.clone(),
        )),
        ledger: Arc::new(DynamoLedger::new(
            dynamo.clone(),
            settings.ledger_table.clone(),
        )),
        state: Arc::new(DynamoState::new(dynamo, settings.state_table.clone())),
        catalog: Catalog::new(settings.tenant_cache_ttl),
        audit_retention_days: settings.audit_retention_days,
        // Clients built once per cold start; neither connects until a notice is sent.
        outbox: Arc::new(AwsOutbox::new(
            aws_sdk_eventbridge::Client::new(&aws),
            aws_sdk_sesv2::Client::new(&aws),
            settings.event_bus_name.clone(),
        )),
        public_url: settings.public_url.clone(),
    })
}

/// The tool list and the route fallback: a tenant's config (its tools, its allowed
/// origins) and nothing else. No secret, ledger, state, audit table or Stripe request is
/// theirs, so none of those clients is built.
pub async fn config_only() -> Result<App, lambda_http::Error> {
    let settings = Settings::from_env()?;
    let aws = aws_sdk_config(settings.aws, None).await;
    let tenants = Arc::new(DynamoTenants::new(
        aws_sdk_dynamodb::Client::new(&aws),
        settings.tenants_table.clone(),
        settings.contacts_table.clone(),
    ));
    let absent = Arc::new(Absent);
    Ok(App {
        stripe: StripeClient::new(settings.stripe)?,
        tenants: TenantDirectory::new(tenants, absent.clone(), settings.tenant_cache_ttl),
        audit: absent.clone(),
        ledger: absent.clone(),
        state: absent.clone(),
        catalog: Catalog::new(settings.tenant_cache_ttl),
        audit_retention_days: settings.audit_retention_days,
        outbox: absent,
        public_url: None,
    })
}
