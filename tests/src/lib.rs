//! Test kit: an in-process Stripe emulator, a seeded Stripe account, the pipeline wired to
//! in-memory tenant and audit adapters, and token minting.
use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::{EncodingKey, Header};
use lambda_http::{Body, Request};
use serde_json::{Value, json};
use shared::adapters::memory::MemoryTenants;
use shared::adapters::memory::{MemoryAudit, MemoryOutbox};
use shared::adapters::memory::{MemoryLedger, MemoryState};
use shared::config::StripeSettings;
use shared::pipeline::app::App;
use shared::pipeline::catalog::Catalog;
use shared::pipeline::endpoint::Endpoint;
use shared::pipeline::tenants::TenantDirectory;
use shared::ports::tenants::{TenantConfig, TenantSecrets};
use shared::secret::Secret;
use shared::stripe::StripeClient;

pub const TENANT: &str = "acme";
pub const OTHER_TENANT: &str = "globex";

pub fn random(n: usize) -> String {
    use rand::Rng;
    const CHARS: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    let mut rng = rand::rng();
    (0..n)
        .map(|_| CHARS[rng.random_range(0..CHARS.len())] as char)
        .collect()
}

/// A Stripe account in the in-process emulator.
pub struct StripeAccount {
    pub base: String,
    pub key: String,
    http: reqwest::Client,
}

impl StripeAccount {
    pub fn new(base: &str) -> Self {
        Self {
            base: base.to_string(),
            key: format!("sk_test_{}", random(24)),
            http: reqwest::Client::new(),
        }
    }

    pub async fn post(&self, path: &str, form: &[(&str, &str)]) -> Value {
        let resp = self
            .http
            .post(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .form(form)
            .send()
            .await
            .expect("emulator reachable");
        let status = resp.status();
        let body: Value = resp.json().await.expect("json");
        assert!(status.is_success(), "{path} failed: {body}");
        body
    }

    pub async fn get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
            .send()
            .await
            .expect("emulator reachable")
            .json()
            .await
            .expect("json")
    }

    pub async fn control(&self, path: &str, body: Value) -> Value {
        let resp = self
            .http
            .post(format!("{}/_emulator/{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("emulator reachable");
        assert!(
            resp.status().is_success(),
            "control {path}: {}",
            resp.status()
        );
        resp.json().await.unwrap_or(Value::Null)
    }

    /// Faults only this account sees, so tests can run side by side.
    pub async fn fault(&self, kind: &str, count: u32) {
        self.control(
            "faults",
            json!({"kind": kind, "count": count, "key": self.key, "hang_ms": 5000}),
        )
        .await;
    }

    pub async fn clear_faults(&self) {
        let resp = self
            .http
            .delete(format!("{}/_emulator/faults", self.base))
            .send()
            .await
            .expect("emulator reachable");
        assert!(resp.status().is_success());
    }

    /// The emulator's request log for this account: `count`, `total`, `requests`.
    async fn requests(&self) -> Value {
        let url = format!("{}/_emulator/requests", self.base);
        self.http
            .get(url)
            .query(&[("key", &self.key)])
            .send()
            .await
            .expect("emulator reachable")
            .json()
            .await
            .expect("json")
    }

    /// Stripe requests this account received.
    pub async fn request_count(&self) -> u64 {
        self.requests().await["count"].as_u64().expect("count")
    }

    /// `METHOD /path` of every Stripe request this account made (the emulator's log).
    pub async fn request_log(&self) -> Vec<String> {
        self.requests().await["requests"]
            .as_array()
            .expect("requests")
            .iter()
            .map(|r| {
                format!(
                    "{} {}",
                    r["method"].as_str().unwrap(),
                    r["path"].as_str().unwrap()
                )
            })
            .collect()
    }

    pub async fn price(&self, product: &str, amount: i64, currency: &str) -> String {
        let p = self.post("/v1/products", &[("name", product)]).await;
        let amount = amount.to_string();
        let price = self
            .post(
                "/v1/prices",
                &[
                    ("product", p["id"].as_str().unwrap()),
                    ("unit_amount", &amount),
                    ("currency", currency),
                    ("recurring[interval]", "month"),
                ],
            )
            .await;
        price["id"].as_str().unwrap().to_string()
    }

    pub async fn customer(&self, email: &str, card: Option<&str>) -> String {
        let c = self
            .post(
                "/v1/customers",
                &[("email", email), ("name", "Test Person")],
            )
            .await;
        let id = c["id"].as_str().unwrap().to_string();
        if let Some(card) = card {
            self.set_card(&id, card).await;
        }
        id
    }

    pub async fn set_card(&self, customer: &str, card: &str) -> String {
        let pm = self
            .post(
                &format!("/v1/payment_methods/{card}/attach"),
                &[("customer", customer)],
            )
            .await;
        let pm_id = pm["id"].as_str().unwrap().to_string();
        self.post(
            &format!("/v1/customers/{customer}"),
            &[("invoice_settings[default_payment_method]", &pm_id)],
        )
        .await;
        pm_id
    }

    pub async fn subscribe(&self, customer: &str, price: &str, extra: &[(&str, &str)]) -> Value {
        let mut form = vec![("customer", customer), ("items[0][price]", price)];
        form.extend_from_slice(extra);
        self.post("/v1/subscriptions", &form).await
    }
}

/// The pipeline with in-memory tenant storage, talking to the emulator.
pub struct Harness {
    pub app: App,
    pub tenants: Arc<MemoryTenants>,
    pub audit: Arc<MemoryAudit>,
    /// What the calls published on the bus and emailed.
    pub outbox: Arc<MemoryOutbox>,
    /// What webhooks kept (facts, recoveries, renewals), and its fault switch.
    pub state: Arc<MemoryState>,
    pub stripe: StripeAccount,
    pub other: StripeAccount,
    pub identity_secrets: Vec<String>,
    /// The in-process emulator, stopped with the harness (a run of thousands of harnesses
    /// must not keep thousands of servers).
    emulator: tokio::task::JoinHandle<()>,
}

impl Drop for Harness {
    fn drop(&mut self) {
        self.emulator.abort();
    }
}

impl Harness {
    pub async fn new() -> Self {
        let (addr, emulator) = stripe_emulator::spawn().await.expect("emulator starts");
        let base = format!("http://{addr}");
        let stripe = StripeAccount::new(&base);
        let other = StripeAccount::new(&base);
        let tenants = Arc::new(MemoryTenants::default());
        let identity_secrets = vec![random(32), random(32)];
        for (tenant, account) in [(TENANT, &stripe), (OTHER_TENANT, &other)] {
            tenants.configs.lock().unwrap().insert(tenant.into(), {
                let mut config = TenantConfig::new(tenant);
                // Every tool on, and plans to change to: the tests say what they turn off.
                config.enabled_tools = Some(
                    shared::endpoints::registry::tool_names()
                        .map(String::from)
                        .collect(),
                );
                // Tests call far faster than a visitor would; the limits' own test
                // lowers them.
                config.rate_limits.per_visitor_per_minute = 1_000_000;
                config.rate_limits.per_tenant_per_minute = 1_000_000;
                config
            });
            tenants.secrets.lock().unwrap().insert(
                tenant.into(),
                TenantSecrets {
                    stripe_key: Secret::new(account.key.clone()),
                    identity_secrets: identity_secrets
                        .iter()
                        .map(|s| Secret::new(format!("{tenant}-{s}")))
                        .collect(),
                    user_hash_secrets: vec![Secret::new(user_hash_secret(tenant))],
                    agent_secrets: vec![Secret::new(agent_secret(tenant))],
                    panel_keys: vec![Secret::new(panel_key(tenant))],
                    webhook_secrets: vec![Secret::new(format!("whsec_{}", random(32)))],
                },
            );
        }
        let audit = Arc::new(MemoryAudit::default());
        let outbox = Arc::new(MemoryOutbox::default());
        let state = Arc::new(MemoryState::default());
        let settings = StripeSettings {
            api_base: base,
            connect_timeout: Duration::from_millis(500),
            request_timeout: Duration::from_millis(700),
            deadline: Duration::from_millis(2500),
            max_retries: 2,
        };
        let ttl = Duration::from_secs(60);
        let app = App {
            stripe: StripeClient::new(settings).expect("Stripe client builds"),
            tenants: TenantDirectory::new(tenants.clone(), tenants.clone(), ttl),
            audit: audit.clone(),
            ledger: Arc::new(MemoryLedger::default()),
            state: state.clone(),
            catalog: Catalog::new(ttl),
            audit_retention_days: 400,
            outbox: outbox.clone(),
            public_url: Some("https://api.example.test".into()),
        };
        Self {
            app,
            tenants,
            audit,
            outbox,
            state,
            stripe,
            other,
            identity_secrets,
            emulator,
        }
    }

    /// The same harness with production's Stripe time budget (5 s per attempt) instead of
    /// the short one the fault tests rely on: for tests about many calls at once, whose
    /// emulator answers slowly on a loaded machine, so a timeout would test the machine.
    pub fn patient(mut self) -> Self {
        let settings = StripeSettings {
            api_base: self.stripe.base.clone(),
            ..StripeSettings::default()
        };
        self.app.stripe = StripeClient::new(settings).expect("Stripe client builds");
        self
    }

    /// The identity secret of `tenant` in slot `i` (two are active, for rotation).
    pub fn identity_secret(&self, tenant: &str, i: usize) -> String {
        format!("{tenant}-{}", self.identity_secrets[i])
    }

    pub fn token(&self, claims: Value) -> String {
        mint(&self.identity_secret(TENANT, 0), &claims)
    }

    /// Stops serving `tool` (takes it out of `enabled_tools`).
    pub fn disable(&self, tool: &str) {
        self.configure(|c| {
            if let Some(list) = c.enabled_tools.as_mut() {
                list.retain(|t| t != tool);
            }
        });
    }

    pub fn configure(&self, f: impl FnOnce(&mut TenantConfig)) {
        let mut configs = self.tenants.configs.lock().unwrap();
        f(configs.get_mut(TENANT).unwrap());
        // As after the cache's TTL in a deployment.
        self.app.tenants.forget(TENANT);
    }

    pub fn map_contact(&self, user: &str, customer: &str) {
        self.tenants
            .contacts
            .lock()
            .unwrap()
            .insert((TENANT.into(), user.into()), customer.into());
    }

    pub async fn call<T: Endpoint>(
        &self,
        tool: &T,
        token: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        self.call_at(tool, TENANT, token, body).await
    }

    pub async fn call_at<T: Endpoint>(
        &self,
        tool: &T,
        tenant: &str,
        token: Option<&str>,
        body: &str,
    ) -> (u16, Value) {
        let mut req = lambda_http::http::Request::builder()
            .method("POST")
            .uri(format!("/v1/{tenant}/tools/{}", T::NAME))
            .header("content-type", "application/json");
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let req: Request = req.body(Body::Text(body.to_string())).unwrap();
        parse(shared::edge::handle(&self.app, tool, req).await)
    }
}

/// The legacy user-hash secret of `tenant`'s harness, distinct from every other secret.
pub fn user_hash_secret(tenant: &str) -> String {
    format!("{tenant}-user-hash-secret-0123456789abcdef")
}

/// Deterministic per tenant and distinct from every identity secret.
pub fn agent_secret(tenant: &str) -> String {
    format!("{tenant}-agent-secret-0123456789abcdef")
}

/// The agent panel's key of `tenant`'s harness.
pub fn panel_key(tenant: &str) -> String {
    format!("bbp_{tenant}-panel-key-0123456789abcdef")
}

/// An agent token for `tenant`'s dashboard.
pub fn agent_token(tenant: &str, extra: Value) -> String {
    let mut claims =
        json!({"sub": "agent_1", "aud": tenant, "iat": now(), "exp": now() + 600, "role": "agent"});
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    mint(&agent_secret(tenant), &claims)
}

pub fn now() -> i64 {
    shared::timefmt::now_unix()
}

fn parse(resp: lambda_http::Response<Body>) -> (u16, Value) {
    let status = resp.status().as_u16();
    let body = match resp.body() {
        Body::Text(t) => serde_json::from_str(t).expect("json body"),
        other => panic!("unexpected body {other:?}"),
    };
    (status, body)
}

impl Harness {
    /// Any endpoint at `/v1/{tenant}/{route}` with the given method, headers, query and
    /// body.
    pub async fn request<T: Endpoint>(
        &self,
        endpoint: &T,
        tenant: &str,
        method: &str,
        headers: &[(&str, &str)],
        query: &[(&str, &str)],
        body: &[u8],
    ) -> (u16, Value) {
        let mut req = lambda_http::http::Request::builder()
            .method(method)
            .uri(format!("/v1/{tenant}/{}", T::ROUTE.join("/")));
        for (k, v) in headers {
            req = req.header(*k, *v);
        }
        let params: std::collections::HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let req = lambda_http::RequestExt::with_query_string_parameters(
            req.body(Body::Binary(body.to_vec())).unwrap(),
            params,
        );
        parse(shared::edge::handle(&self.app, endpoint, req).await)
    }

    /// The tenant's webhook secrets (the first is the active one in tests).
    pub fn webhook_secrets(&self, tenant: &str) -> Vec<String> {
        self.tenants.secrets.lock().unwrap()[tenant]
            .webhook_secrets
            .iter()
            .map(|s| s.expose().to_string())
            .collect()
    }

    /// Replaces the tenant's webhook secrets (rotation).
    pub fn set_webhook_secrets(&self, tenant: &str, secrets: &[&str]) {
        self.tenants
            .secrets
            .lock()
            .unwrap()
            .get_mut(tenant)
            .expect("a harness tenant")
            .webhook_secrets = secrets.iter().map(|x| Secret::new(*x)).collect();
        self.app.tenants.forget(tenant);
    }

    /// `GET /v1/{TENANT}/agent/insight?{query}` with `token`.
    pub async fn insight(&self, token: Option<&str>, query: &[(&str, &str)]) -> (u16, Value) {
        let mut req = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("/v1/{TENANT}/agent/insight"));
        if let Some(token) = token {
            req = req.header("authorization", format!("Bearer {token}"));
        }
        let params: std::collections::HashMap<String, String> = query
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        let req = lambda_http::RequestExt::with_query_string_parameters(
            req.body(Body::Empty).unwrap(),
            params,
        );
        parse(
            shared::edge::handle(&self.app, &shared::endpoints::agent_insight::Insight, req).await,
        )
    }

    /// `GET /v1/{tenant}/tools`.
    pub async fn tool_list(&self, tenant: &str) -> (u16, Value) {
        self.tool_list_as(tenant, None).await
    }

    /// `GET /v1/{tenant}/tools?format={format}`.
    pub async fn tool_list_as(&self, tenant: &str, format: Option<&str>) -> (u16, Value) {
        let req = lambda_http::http::Request::builder()
            .method("GET")
            .uri(format!("/v1/{tenant}/tools"))
            .body(Body::Empty)
            .unwrap();
        let params: std::collections::HashMap<String, String> = format
            .map(|f| ("format".to_string(), f.to_string()))
            .into_iter()
            .collect();
        let req = lambda_http::RequestExt::with_query_string_parameters(req, params);
        parse(shared::edge::tool_list::handle(&self.app, req).await)
    }
}

/// A visitor token for `aud` = the harness tenant, valid for an hour, plus `claims`.
pub fn visitor_claims(sub: &str, extra: Value) -> Value {
    let mut claims = json!({"sub": sub, "aud": TENANT, "iat": now(), "exp": now() + 3600});
    if let (Some(base), Some(extra)) = (claims.as_object_mut(), extra.as_object()) {
        base.extend(extra.clone());
    }
    claims
}

pub fn mint(secret: &str, claims: &Value) -> String {
    jsonwebtoken::encode(
        &Header::default(),
        claims,
        &EncodingKey::from_secret(secret.as_bytes()),
    )
    .expect("token")
}
