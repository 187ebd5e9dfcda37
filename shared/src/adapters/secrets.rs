//! Tenant secrets in Secrets Manager, the Stripe key as KMS ciphertext bound to the tenant.
use std::collections::HashMap;

use async_trait::async_trait;
use aws_sdk_kms::primitives::Blob;
use base64::Engine;
use serde::Deserialize;

use crate::ports::error::StoreError;
use crate::ports::tenants::{SecretStore, TenantSecrets};
use crate::secret::Secret;

fn unavailable(e: impl std::fmt::Display) -> StoreError {
    StoreError::Unavailable(e.to_string())
}

/// The JSON kept in a tenant's secret. The Stripe key is KMS ciphertext bound to the
/// tenant by the encryption context, so a secret copied to another tenant won't decrypt.
#[derive(Deserialize)]
struct StoredSecrets {
    /// Absent until `tenantctl connect-key` stores one: the tenant is not connected yet.
    #[serde(default)]
    stripe_key_ciphertext: Option<String>,
    #[serde(default)]
    identity_secrets: Vec<String>,
    #[serde(default)]
    user_hash_secrets: Vec<String>,
    #[serde(default)]
    agent_secrets: Vec<String>,
    #[serde(default)]
    webhook_secrets: Vec<String>,
    #[serde(default)]
    panel_keys: Vec<String>,
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
        let Some(ciphertext) = stored.stripe_key_ciphertext else {
            return Ok(None);
        };
        let blob = base64::engine::general_purpose::STANDARD
            .decode(&ciphertext)
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
            user_hash_secrets: wrap(stored.user_hash_secrets),
            agent_secrets: wrap(stored.agent_secrets),
            panel_keys: wrap(stored.panel_keys),
            webhook_secrets: wrap(stored.webhook_secrets),
        }))
    }
}
