//! Real adapters: DynamoDB for tenant config, contacts and audit; Secrets Manager + KMS
//! for tenant secrets. The SDK finds local endpoints through `AWS_ENDPOINT_URL`, so there
//! is no code path for "local".
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_dynamodb::types::AttributeValue;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use serde::Deserialize;

use crate::audit::{AuditRecord, AuditSink};
use crate::secret::Secret;
use crate::tenant::{SecretStore, StoreError, TenantConfig, TenantSecrets, TenantStore};

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

pub struct DynamoTenants {
    client: aws_sdk_dynamodb::Client,
    tenants_table: String,
    contacts_table: String,
}

impl DynamoTenants {
    pub fn new(
        client: aws_sdk_dynamodb::Client,
        tenants_table: String,
        contacts_table: String,
    ) -> Self {
        Self {
            client,
            tenants_table,
            contacts_table,
        }
    }
}

#[async_trait]
impl TenantStore for DynamoTenants {
    async fn config(&self, tenant: &str) -> Result<Option<TenantConfig>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.tenants_table)
            .key("tenant", AttributeValue::S(tenant.into()))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        out.item
            .map(|item| {
                serde_dynamo::from_item(item).map_err(|e| StoreError::Malformed(e.to_string()))
            })
            .transpose()
    }

    async fn contact(&self, tenant: &str, user_id: &str) -> Result<Option<String>, StoreError> {
        let out = self
            .client
            .get_item()
            .table_name(&self.contacts_table)
            .key("tenant", AttributeValue::S(tenant.into()))
            .key("user_id", AttributeValue::S(user_id.into()))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(out
            .item
            .and_then(|mut item| item.remove("customer_id"))
            .and_then(|v| v.as_s().ok().cloned()))
    }
}

/// The JSON kept in a tenant's secret. The Stripe key is KMS ciphertext bound to the
/// tenant by the encryption context, so a secret copied to another tenant won't decrypt.
#[derive(Deserialize)]
struct StoredSecrets {
    stripe_key_ciphertext: String,
    #[serde(default)]
    identity_secrets: Vec<String>,
    #[serde(default)]
    agent_secrets: Vec<String>,
    #[serde(default)]
    webhook_secrets: Vec<String>,
}

pub struct ManagedSecrets {
    secrets: aws_sdk_secretsmanager::Client,
    kms: aws_sdk_kms::Client,
    prefix: String,
}

impl ManagedSecrets {
    pub fn new(
        secrets: aws_sdk_secretsmanager::Client,
        kms: aws_sdk_kms::Client,
        prefix: String,
    ) -> Self {
        Self {
            secrets,
            kms,
            prefix,
        }
    }
}

#[async_trait]
impl SecretStore for ManagedSecrets {
    async fn secrets(&self, tenant: &str) -> Result<Option<TenantSecrets>, StoreError> {
        let out = match self
            .secrets
            .get_secret_value()
            .secret_id(format!("{}{}", self.prefix, tenant))
            .send()
            .await
        {
            Ok(out) => out,
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_resource_not_found_exception()) =>
            {
                return Ok(None);
            }
            Err(e) => {
                return Err(unavailable(
                    aws_sdk_secretsmanager::error::DisplayErrorContext(e),
                ));
            }
        };
        let raw = out
            .secret_string
            .ok_or_else(|| StoreError::Malformed("secret has no string value".into()))?;
        let stored: StoredSecrets = serde_json::from_str(&raw)
            .map_err(|_| StoreError::Malformed("secret is not the expected JSON".into()))?;
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&stored.stripe_key_ciphertext)
            .map_err(|_| StoreError::Malformed("stripe key ciphertext is not base64".into()))?;
        let plain = self
            .kms
            .decrypt()
            .ciphertext_blob(Blob::new(blob))
            .set_encryption_context(Some(HashMap::from([(
                "tenant".to_string(),
                tenant.to_string(),
            )])))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_kms::error::DisplayErrorContext(e)))?;
        let key = plain
            .plaintext
            .and_then(|b| String::from_utf8(b.into_inner()).ok())
            .ok_or_else(|| StoreError::Malformed("stripe key is not text".into()))?;
        let wrap = |v: Vec<String>| v.into_iter().map(Secret::new).collect();
        Ok(Some(TenantSecrets {
            stripe_key: Secret::new(key),
            identity_secrets: wrap(stored.identity_secrets),
            agent_secrets: wrap(stored.agent_secrets),
            webhook_secrets: wrap(stored.webhook_secrets),
        }))
    }
}

pub struct DynamoAudit {
    client: aws_sdk_dynamodb::Client,
    table: String,
}

impl DynamoAudit {
    pub fn new(client: aws_sdk_dynamodb::Client, table: String) -> Self {
        Self { client, table }
    }
}

#[async_trait]
impl AuditSink for DynamoAudit {
    async fn write(&self, record: &AuditRecord) -> Result<(), StoreError> {
        let item =
            serde_dynamo::to_item(record).map_err(|e| StoreError::Malformed(e.to_string()))?;
        self.client
            .put_item()
            .table_name(&self.table)
            .set_item(Some(item))
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        Ok(())
    }

    async fn recent(
        &self,
        tenant: &str,
        customer: &str,
        limit: usize,
    ) -> Result<Vec<AuditRecord>, StoreError> {
        let out = self
            .client
            .query()
            .table_name(&self.table)
            .key_condition_expression("pk = :pk")
            .expression_attribute_values(":pk", AttributeValue::S(format!("{tenant}#{customer}")))
            .scan_index_forward(false)
            .limit(limit as i32)
            .send()
            .await
            .map_err(|e| unavailable(aws_sdk_dynamodb::error::DisplayErrorContext(e)))?;
        serde_dynamo::from_items(out.items.unwrap_or_default())
            .map_err(|e| StoreError::Malformed(e.to_string()))
    }
}
