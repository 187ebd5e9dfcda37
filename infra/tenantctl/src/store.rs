//! The operator's reads and writes of what the functions read: the tenant's config item,
//! its Secrets Manager secret (the Stripe key as KMS ciphertext bound to the tenant, and
//! the signing secrets), its contacts and its audit records.
use std::collections::HashMap;

use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use serde_json::{Map, Value};
use shared::adapters::dynamo::audit::DynamoAudit;
use shared::adapters::secrets::ManagedSecrets;
use shared::config::AwsBudget;
use shared::ports::audit::{AuditRecord, AuditSink};
use shared::ports::tenants::{SecretStore, TenantConfig, TenantSecrets};

use crate::{Failure, Names};

pub struct Aws {
    pub names: Names,
    dynamo: aws_sdk_dynamodb::Client,
    kms: aws_sdk_kms::Client,
    secrets: aws_sdk_secretsmanager::Client,
}

fn unavailable(what: &str, e: impl std::fmt::Display) -> Failure {
    Failure::Unavailable(format!("{what}: {e}"))
}

impl Aws {
    pub async fn connect(names: Names) -> Result<Self, Failure> {
        // An operator waits longer than a function may: a few seconds per operation.
        let budget = AwsBudget {
            connect_timeout: std::time::Duration::from_secs(3),
            attempt_timeout: std::time::Duration::from_secs(10),
            operation_timeout: std::time::Duration::from_secs(30),
            max_attempts: 3,
        };
        let config = shared::wiring::aws_sdk_config(budget, None).await;
        Ok(Self {
            names,
            dynamo: aws_sdk_dynamodb::Client::new(&config),
            kms: aws_sdk_kms::Client::new(&config),
            secrets: aws_sdk_secretsmanager::Client::new(&config),
        })
    }

    pub async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, Failure> {
        let out = self
            .dynamo
            .get_item()
            .table_name(&self.names.tenants_table)
            .key("tenant", AttributeValue::S(tenant.into()))
            .consistent_read(true)
            .send()
            .await
            .map_err(|e| {
                unavailable("DynamoDB", aws_sdk_dynamodb::error::DisplayErrorContext(e))
            })?;
        out.item
            .map(|item| {
                serde_dynamo::from_item(item)
                    .map_err(|e| Failure::Unavailable(format!("stored config is malformed: {e}")))
            })
            .transpose()
    }

    /// Every tenant's config (a scan: an operator's one-off, never a function's).
    pub async fn all_configs(&self) -> Result<Vec<TenantConfig>, Failure> {
        let mut out = Vec::new();
        let mut start = None;
        loop {
            let page = self
                .dynamo
                .scan()
                .table_name(&self.names.tenants_table)
                .consistent_read(true)
                .set_exclusive_start_key(start)
                .send()
                .await
                .map_err(|e| {
                    unavailable("DynamoDB", aws_sdk_dynamodb::error::DisplayErrorContext(e))
                })?;
            for item in page.items.unwrap_or_default() {
                out.push(serde_dynamo::from_item(item).map_err(|e| {
                    Failure::Unavailable(format!("stored config is malformed: {e}"))
                })?);
            }
            match page.last_evaluated_key {
                Some(k) if !k.is_empty() => start = Some(k),
                _ => return Ok(out),
            }
        }
    }

    pub async fn require(&self, tenant: &str) -> Result<TenantConfig, Failure> {
        self.config(tenant).await?.ok_or_else(|| {
            Failure::NotFound(format!(
                "no tenant `{tenant}` in stack {}",
                self.names.stack
            ))
        })
    }

    /// Writes the config; `new` only when no tenant of that id exists yet.
    pub async fn put_config(&self, config: &TenantConfig, new: bool) -> Result<(), Failure> {
        let item = serde_dynamo::to_item(config)
            .map_err(|e| Failure::Usage(format!("config cannot be stored: {e}")))?;
        let mut put = self
            .dynamo
            .put_item()
            .table_name(&self.names.tenants_table)
            .set_item(Some(item));
        if new {
            put = put.condition_expression("attribute_not_exists(tenant)");
        }
        match put.send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_conditional_check_failed_exception()) =>
            {
                Err(Failure::Exists(format!(
                    "tenant `{}` already exists",
                    config.tenant
                )))
            }
            Err(e) => Err(unavailable(
                "DynamoDB",
                aws_sdk_dynamodb::error::DisplayErrorContext(e),
            )),
        }
    }

    fn secret_id(&self, tenant: &str) -> String {
        format!("{}{tenant}", self.names.secrets_prefix)
    }

    /// The tenant's secret document (empty when it has none yet).
    pub async fn stored_secrets(&self, tenant: &str) -> Result<Map<String, Value>, Failure> {
        match self
            .secrets
            .get_secret_value()
            .secret_id(self.secret_id(tenant))
            .send()
            .await
        {
            Ok(out) => {
                let raw = out.secret_string.unwrap_or_default();
                serde_json::from_str(&raw)
                    .map_err(|_| Failure::Unavailable("the tenant's secret is not JSON".into()))
            }
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                Ok(Map::new())
            }
            Err(e) => Err(unavailable(
                "Secrets Manager",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e),
            )),
        }
    }

    pub async fn put_secrets(&self, tenant: &str, doc: &Map<String, Value>) -> Result<(), Failure> {
        let text = Value::Object(doc.clone()).to_string();
        let created = self
            .secrets
            .create_secret()
            .name(self.secret_id(tenant))
            .description(format!(
                "Stripe key (KMS ciphertext) and signing secrets of tenant {tenant}"
            ))
            .secret_string(&text)
            .send()
            .await;
        match created {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_exists_exception()) =>
            {
                self.secrets
                    .put_secret_value()
                    .secret_id(self.secret_id(tenant))
                    .secret_string(text)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| {
                        unavailable(
                            "Secrets Manager",
                            aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                        )
                    })
            }
            Err(e) => Err(unavailable(
                "Secrets Manager",
                aws_sdk_secretsmanager::error::DisplayErrorContext(e),
            )),
        }
    }

    fn context(tenant: &str) -> HashMap<String, String> {
        HashMap::from([("tenant".to_string(), tenant.to_string())])
    }

    /// The Stripe key as base64 KMS ciphertext that only decrypts with this tenant's
    /// encryption context.
    pub async fn encrypt_key(&self, tenant: &str, key: &str) -> Result<String, Failure> {
        let out = self
            .kms
            .encrypt()
            .key_id(&self.names.key_alias)
            .plaintext(Blob::new(key.as_bytes()))
            .set_encryption_context(Some(Self::context(tenant)))
            .send()
            .await
            .map_err(|e| unavailable("KMS", aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let blob = out
            .ciphertext_blob
            .ok_or_else(|| Failure::Unavailable("KMS returned no ciphertext".into()))?;
        Ok(base64::engine::general_purpose::STANDARD.encode(blob.into_inner()))
    }

    /// The last Stripe event the tenant's webhook received, as the webhook noted it.
    pub async fn last_webhook(
        &self,
        tenant: &str,
    ) -> Result<Option<shared::ports::notices::WebhookSeen>, Failure> {
        use shared::ports::state::BillingState;
        shared::adapters::dynamo::state::DynamoState::new(
            self.dynamo.clone(),
            self.names.state_table.clone(),
        )
        .last_webhook(tenant)
        .await
        .map_err(|e| Failure::Unavailable(e.to_string()))
    }

    /// The tenant's decrypted secrets, read as the functions read them.
    pub async fn secrets(&self, tenant: &str) -> Result<Option<TenantSecrets>, Failure> {
        ManagedSecrets::new(
            self.secrets.clone(),
            self.kms.clone(),
            self.names.secrets_prefix.clone(),
        )
        .secrets(tenant)
        .await
        .map_err(|e| Failure::Unavailable(e.to_string()))
    }

    pub async fn put_contact(
        &self,
        tenant: &str,
        user: &str,
        customer: &str,
    ) -> Result<(), Failure> {
        self.dynamo
            .put_item()
            .table_name(&self.names.contacts_table)
            .item("tenant", AttributeValue::S(tenant.into()))
            .item("user_id", AttributeValue::S(user.into()))
            .item("customer_id", AttributeValue::S(customer.into()))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| unavailable("DynamoDB", aws_sdk_dynamodb::error::DisplayErrorContext(e)))
    }

    /// One audit record, written as the functions write theirs.
    pub async fn write_audit(&self, record: &AuditRecord) -> Result<(), Failure> {
        DynamoAudit::new(self.dynamo.clone(), self.names.audit_table.clone())
            .write(record)
            .await
            .map_err(|e| Failure::Unavailable(e.to_string()))
    }

    /// Records since `since` (an RFC 3339 time, which the sort key starts with), newest
    /// first: one customer's, or the whole tenant's through the `by_tenant` index.
    pub async fn audit(
        &self,
        tenant: &str,
        customer: Option<&str>,
        since: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, Failure> {
        let mut records = Vec::new();
        let mut start = None;
        loop {
            let mut q = self
                .dynamo
                .query()
                .table_name(&self.names.audit_table)
                .scan_index_forward(false)
                .set_exclusive_start_key(start.take())
                .expression_attribute_values(":since", AttributeValue::S(since.into()));
            q = match customer {
                Some(c) => q
                    .key_condition_expression("pk = :pk AND sk >= :since")
                    .expression_attribute_values(":pk", AttributeValue::S(format!("{tenant}#{c}"))),
                None => q
                    .index_name("by_tenant")
                    .key_condition_expression("tenant = :t AND sk >= :since")
                    .expression_attribute_values(":t", AttributeValue::S(tenant.into())),
            };
            let out = q.send().await.map_err(|e| {
                unavailable("DynamoDB", aws_sdk_dynamodb::error::DisplayErrorContext(e))
            })?;
            let page: Vec<AuditRecord> = serde_dynamo::from_items(out.items.unwrap_or_default())
                .map_err(|e| Failure::Unavailable(format!("audit record is malformed: {e}")))?;
            records.extend(page);
            start = out.last_evaluated_key;
            if start.is_none() || records.len() >= limit {
                break;
            }
        }
        records.truncate(limit);
        Ok(records)
    }
}
