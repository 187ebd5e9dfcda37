//! The tenants a warm Lambda serves: their config and secrets read through the ports and
//! kept for a bounded time, so DynamoDB, Secrets Manager and KMS are asked at most once per
//! tenant per TTL.
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use crate::ports::error::StoreError;
use crate::ports::tenants::{SecretStore, TenantConfig, TenantSecrets, TenantStore};

/// How long a warm Lambda remembers that a tenant does not exist: long enough that a flood
/// of calls for a bad tenant id reaches AWS once a second at most, short enough that a
/// tenant created after a first miss is served within seconds.
pub const UNKNOWN_TENANT_TTL: Duration = Duration::from_secs(2);

/// A bounded-time cache in front of the ports: a warm Lambda asks DynamoDB, Secrets
/// Manager and KMS at most once per tenant per `ttl`, and about an unknown tenant at most
/// once per [`UNKNOWN_TENANT_TTL`].
pub struct TenantDirectory {
    store: Arc<dyn TenantStore>,
    secrets: Arc<dyn SecretStore>,
    ttl: Duration,
    configs: Cache<TenantConfig>,
    keys: Cache<TenantSecrets>,
    /// When each tenant's secrets were last re-read for an unknown signature.
    refreshed: Mutex<HashMap<String, Instant>>,
}

impl TenantDirectory {
    pub fn new(store: Arc<dyn TenantStore>, secrets: Arc<dyn SecretStore>, ttl: Duration) -> Self {
        Self {
            store,
            secrets,
            ttl,
            configs: Mutex::new(HashMap::new()),
            keys: Mutex::new(HashMap::new()),
            refreshed: Mutex::new(HashMap::new()),
        }
    }

    pub fn store(&self) -> &dyn TenantStore {
        self.store.as_ref()
    }

    /// Drops what this process remembers of a tenant, so its next call reads afresh.
    pub fn forget(&self, tenant: &str) {
        if let Ok(mut map) = self.configs.lock() {
            map.remove(tenant);
        }
        if let Ok(mut map) = self.keys.lock() {
            map.remove(tenant);
        }
    }

    pub async fn config(&self, tenant: &str) -> Result<Option<Arc<TenantConfig>>, StoreError> {
        if let Some(hit) = cached(&self.configs, tenant, self.ttl) {
            return Ok(hit);
        }
        let fresh = self.store.config(tenant).await?.map(Arc::new);
        remember(&self.configs, tenant, fresh.clone());
        Ok(fresh)
    }

    pub async fn secrets(&self, tenant: &str) -> Result<Option<Arc<TenantSecrets>>, StoreError> {
        if let Some(hit) = cached(&self.keys, tenant, self.ttl) {
            return Ok(hit);
        }
        let fresh = self.secrets.secrets(tenant).await?.map(Arc::new);
        remember(&self.keys, tenant, fresh.clone());
        Ok(fresh)
    }
}

/// A signature that none of the cached secrets verifies may be signed with one rotated in
/// since: the secrets are read again at once, then at most this often per tenant per
/// process, so a flood of bad signatures costs one Secrets Manager read per interval.
pub const SECRET_REFRESH_INTERVAL: Duration = Duration::from_secs(2);

impl TenantDirectory {
    /// Fresh secrets, unless this process re-read them less than
    /// [`SECRET_REFRESH_INTERVAL`] ago (`None`: what is held is as fresh as allowed).
    pub async fn refresh_secrets(
        &self,
        tenant: &str,
    ) -> Result<Option<Arc<TenantSecrets>>, StoreError> {
        {
            let Ok(mut last) = self.refreshed.lock() else {
                return Ok(None);
            };
            if last
                .get(tenant)
                .is_some_and(|at| at.elapsed() < SECRET_REFRESH_INTERVAL)
            {
                return Ok(None);
            }
            if last.len() >= MAX_CACHED_TENANTS {
                last.clear();
            }
            last.insert(tenant.to_string(), Instant::now());
        }
        let fresh = self.secrets.secrets(tenant).await?.map(Arc::new);
        remember(&self.keys, tenant, fresh.clone());
        Ok(fresh)
    }
}

type Cache<T> = Mutex<HashMap<String, (Instant, Option<Arc<T>>)>>;

fn cached<T>(cache: &Cache<T>, tenant: &str, ttl: Duration) -> Option<Option<Arc<T>>> {
    let map = cache.lock().ok()?;
    let (at, value) = map.get(tenant)?;
    let ttl = if value.is_some() {
        ttl
    } else {
        ttl.min(UNKNOWN_TENANT_TTL)
    };
    (at.elapsed() < ttl).then(|| value.clone())
}

/// How many tenants a warm Lambda remembers: a flood of made-up tenant ids must not grow
/// its memory without end.
pub const MAX_CACHED_TENANTS: usize = 1024;

fn remember<T>(cache: &Cache<T>, tenant: &str, value: Option<Arc<T>>) {
    if let Ok(mut map) = cache.lock() {
        if map.len() >= MAX_CACHED_TENANTS && !map.contains_key(tenant) {
            // Misses go first (they are cheap to learn again), then the oldest.
            map.retain(|_, (_, v)| v.is_some());
            while map.len() >= MAX_CACHED_TENANTS {
                let Some(oldest) = map
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                else {
                    break;
                };
                map.remove(&oldest);
            }
        }
        map.insert(tenant.to_string(), (Instant::now(), value));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::adapters::memory::MemoryTenants;
    use crate::secret::Secret;

    #[tokio::test]
    async fn config_is_cached_for_the_ttl_only() {
        let mem = Arc::new(MemoryTenants::default());
        mem.configs
            .lock()
            .unwrap()
            .insert("demo".into(), TenantConfig::new("demo"));
        let dir = TenantDirectory::new(mem.clone(), mem.clone(), Duration::from_millis(50));
        assert!(dir.config("demo").await.unwrap().is_some());
        assert!(dir.config("demo").await.unwrap().is_some());
        assert_eq!(*mem.reads.lock().unwrap(), 1);
        tokio::time::sleep(Duration::from_millis(60)).await;
        dir.config("demo").await.unwrap();
        assert_eq!(*mem.reads.lock().unwrap(), 2);
    }

    #[tokio::test]
    async fn an_unknown_signature_reads_secrets_again_at_most_once_per_interval() {
        let mem = Arc::new(MemoryTenants::default());
        let keys = |s: &str| TenantSecrets {
            stripe_key: Secret::new("sk_test_abcdefghijkl"),
            identity_secrets: vec![Secret::new(s)],
            user_hash_secrets: Vec::new(),
            agent_secrets: Vec::new(),
            panel_keys: Vec::new(),
            webhook_secrets: Vec::new(),
        };
        mem.secrets
            .lock()
            .unwrap()
            .insert("demo".into(), keys("old"));
        let dir = TenantDirectory::new(mem.clone(), mem.clone(), Duration::from_secs(300));
        dir.secrets("demo").await.unwrap();
        mem.secrets
            .lock()
            .unwrap()
            .insert("demo".into(), keys("new"));
        let fresh = dir.refresh_secrets("demo").await.unwrap().unwrap();
        assert_eq!(
            fresh.identity_secrets[0].expose(),
            "new",
            "read again at once"
        );
        let held = dir.secrets("demo").await.unwrap().unwrap();
        assert_eq!(
            held.identity_secrets[0].expose(),
            "new",
            "the cache holds the fresh copy"
        );
        mem.secrets
            .lock()
            .unwrap()
            .insert("demo".into(), keys("newer"));
        assert!(
            dir.refresh_secrets("demo").await.unwrap().is_none(),
            "a second unknown signature within the interval does not read again"
        );
        tokio::time::sleep(SECRET_REFRESH_INTERVAL + Duration::from_millis(20)).await;
        let fresh = dir.refresh_secrets("demo").await.unwrap().unwrap();
        assert_eq!(fresh.identity_secrets[0].expose(), "newer");
    }

    #[tokio::test]
    async fn a_tenant_created_after_a_miss_is_served_within_seconds() {
        let mem = Arc::new(MemoryTenants::default());
        let dir = TenantDirectory::new(mem.clone(), mem.clone(), Duration::from_secs(300));
        assert!(dir.config("late").await.unwrap().is_none());
        assert!(
            dir.config("late").await.unwrap().is_none(),
            "the miss is cached"
        );
        assert_eq!(*mem.reads.lock().unwrap(), 1);
        mem.configs
            .lock()
            .unwrap()
            .insert("late".into(), TenantConfig::new("late"));
        tokio::time::sleep(UNKNOWN_TENANT_TTL + Duration::from_millis(50)).await;
        assert!(dir.config("late").await.unwrap().is_some());
    }
}
