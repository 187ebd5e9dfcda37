use std::sync::Mutex;
use std::time::{Duration, Instant};

use rand::Rng;
use reqwest::{Method, StatusCode};
use serde::de::DeserializeOwned;

use super::error::ErrorBody;
use super::{Params, StripeError, api};
use crate::config::{STRIPE_VERSION, StripeSettings};
use crate::secret::Secret;

/// Built once per cold start: its connection pool is reused by every call the warm
/// Lambda serves.
#[derive(Debug, Clone)]
pub struct StripeClient {
    http: reqwest::Client,
    settings: StripeSettings,
}

impl StripeClient {
    pub fn new(settings: StripeSettings) -> Result<Self, reqwest::Error> {
        let mut builder = reqwest::Client::builder()
            .connect_timeout(settings.connect_timeout)
            .pool_idle_timeout(Duration::from_secs(60))
            .tcp_keepalive(Duration::from_secs(30))
            .user_agent(concat!("stripe-billing-bot/", env!("CARGO_PKG_VERSION")));
        if let Some(tls) = compiled_in_roots() {
            builder = builder.tls_backend_preconfigured(tls);
        }
        let http = builder.build()?;
        Ok(Self { http, settings })
    }

    pub fn settings(&self) -> &StripeSettings {
        &self.settings
    }

    /// One tenant's view of Stripe for one tool call; it remembers the `Request-Id`s for
    /// the audit record.
    pub fn session(&self, key: Secret) -> StripeSession<'_> {
        StripeSession {
            client: self,
            key,
            request_ids: Mutex::new(Vec::new()),
            requests: Mutex::new(0),
        }
    }
}

/// TLS that trusts the roots compiled into the binary (webpki-roots): nothing is read from
/// disk at a cold start. `None` only if the crypto provider offered no safe protocol
/// version, and then reqwest's own verifier is used.
fn compiled_in_roots() -> Option<rustls::ClientConfig> {
    let roots = rustls::RootCertStore {
        roots: webpki_roots::TLS_SERVER_ROOTS.to_vec(),
    };
    let provider = std::sync::Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .ok()?
        .with_root_certificates(roots)
        .with_no_client_auth();
    Some(config)
}

pub struct StripeSession<'a> {
    client: &'a StripeClient,
    key: Secret,
    request_ids: Mutex<Vec<String>>,
    requests: Mutex<u32>,
}

impl StripeSession<'_> {
    /// Whether the key is a live one (`sk_live_`, `rk_live_`): its events say
    /// `livemode: true`.
    pub fn live(&self) -> bool {
        let k = self.key.expose();
        k.starts_with("sk_live_") || k.starts_with("rk_live_")
    }

    /// Whether the key is a restricted one (`rk_`), limited to the permissions it was given.
    pub fn restricted(&self) -> bool {
        self.key.expose().starts_with("rk_")
    }

    /// A read (or a preview that changes nothing, which Stripe serves as a POST).
    pub async fn get<T: DeserializeOwned>(&self, req: &api::Request<T>) -> Result<T, StripeError> {
        self.send(req, None).await
    }

    /// Every POST carries an idempotency key, so a retry can never apply twice.
    pub async fn post<T: DeserializeOwned>(
        &self,
        req: &api::Request<T>,
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        self.send(req, Some(idempotency_key)).await
    }

    /// A stored write as it was planned: a POST under `idempotency_key`; a DELETE, which
    /// Stripe makes idempotent by definition and takes no key for, without.
    pub async fn write<T: DeserializeOwned>(
        &self,
        req: &api::Request<T>,
        idempotency_key: &str,
    ) -> Result<T, StripeError> {
        let key = (req.method == api::Method::Post).then_some(idempotency_key);
        self.send(req, key).await
    }

    pub fn request_ids(&self) -> Vec<String> {
        self.request_ids
            .lock()
            .map(|v| v.clone())
            .unwrap_or_default()
    }

    /// Attempts made, retries included.
    pub fn request_count(&self) -> u32 {
        self.requests.lock().map(|n| *n).unwrap_or_default()
    }

    async fn send<T: DeserializeOwned>(
        &self,
        req: &api::Request<T>,
        idempotency_key: Option<&str>,
    ) -> Result<T, StripeError> {
        let method = match req.method {
            api::Method::Get => Method::GET,
            api::Method::Post => Method::POST,
            api::Method::Delete => Method::DELETE,
        };
        let (path, params) = (req.path.as_str(), &req.params);
        let settings = &self.client.settings;
        let deadline = Instant::now() + settings.deadline;
        // GETs and DELETEs are safe to repeat; a POST only with its idempotency key.
        let safe = method != Method::POST || idempotency_key.is_some();
        let mut attempt = 0;
        loop {
            let remaining = deadline.saturating_duration_since(Instant::now());
            if remaining.is_zero() {
                return Err(StripeError::Timeout);
            }
            let timeout = settings.request_timeout.min(remaining);
            let (result, should_retry) = self
                .attempt(&method, path, params, idempotency_key, timeout)
                .await;
            let err = match result {
                Ok(value) => return Ok(value),
                Err(err) => err,
            };
            let retryable = safe
                && attempt < settings.max_retries
                && should_retry.unwrap_or_else(|| is_transient(&err));
            if !retryable {
                return Err(err);
            }
            let pause = backoff(attempt);
            if Instant::now() + pause >= deadline {
                return Err(err);
            }
            tracing::warn!(path, attempt, error = %err, "retrying stripe request");
            tokio::time::sleep(pause).await;
            attempt += 1;
        }
    }

    async fn attempt<T: DeserializeOwned>(
        &self,
        method: &Method,
        path: &str,
        params: &Params,
        idempotency_key: Option<&str>,
        timeout: Duration,
    ) -> (Result<T, StripeError>, Option<bool>) {
        if let Ok(mut n) = self.requests.lock() {
            *n += 1;
        }
        let url = format!("{}{}", self.client.settings.api_base, path);
        let mut req = self
            .client
            .http
            .request(method.clone(), url)
            .bearer_auth(self.key.expose())
            .header("Stripe-Version", STRIPE_VERSION)
            .timeout(timeout);
        req = if *method != Method::POST {
            let query = params.encode();
            if query.is_empty() {
                req
            } else {
                req.query(params.pairs())
            }
        } else {
            req.header("Content-Type", "application/x-www-form-urlencoded")
                .body(params.encode())
        };
        if let Some(key) = idempotency_key {
            req = req.header("Idempotency-Key", key);
        }
        let resp = match req.send().await {
            Ok(resp) => resp,
            Err(e) => return (Err(transport(e)), None),
        };
        let status = resp.status();
        let request_id = header(&resp, "request-id");
        let should_retry = header(&resp, "stripe-should-retry").map(|v| v == "true");
        if let (Some(id), Ok(mut ids)) = (&request_id, self.request_ids.lock()) {
            ids.push(id.clone());
        }
        let body = match resp.bytes().await {
            Ok(b) => b,
            Err(e) => return (Err(transport(e)), None),
        };
        if status.is_success() {
            let parsed = serde_json::from_slice(&body)
                .map_err(|e| StripeError::Decode(format!("{path}: {e}")));
            return (parsed, None);
        }
        (Err(api_error(status, &body, request_id)), should_retry)
    }
}

fn header(resp: &reqwest::Response, name: &str) -> Option<String> {
    resp.headers()
        .get(name)
        .and_then(|v| v.to_str().ok())
        .map(str::to_string)
}

fn transport(e: reqwest::Error) -> StripeError {
    if e.is_timeout() {
        StripeError::Timeout
    } else {
        // reqwest's message names the URL, never the Authorization header.
        StripeError::Transport(e.without_url().to_string())
    }
}

fn api_error(status: StatusCode, body: &[u8], request_id: Option<String>) -> StripeError {
    match serde_json::from_slice::<ErrorBody>(body) {
        Ok(ErrorBody { error }) => StripeError::Api {
            status: status.as_u16(),
            kind: error.kind,
            code: error.code,
            message: error.message,
            param: error.param,
            decline_code: error.decline_code,
            request_id,
        },
        Err(_) => StripeError::Api {
            status: status.as_u16(),
            kind: "api_error".into(),
            code: None,
            message: format!("HTTP {status}"),
            param: None,
            decline_code: None,
            request_id,
        },
    }
}

fn is_transient(err: &StripeError) -> bool {
    match err {
        StripeError::Timeout | StripeError::Transport(_) => true,
        StripeError::Api { status, .. } => matches!(status, 409 | 429 | 500 | 502 | 503 | 504),
        StripeError::Decode(_) => false,
    }
}

/// Exponential backoff with full jitter: 0..200 ms, 0..400 ms, ...
fn backoff(attempt: u32) -> Duration {
    let cap = 200u64 << attempt.min(4);
    Duration::from_millis(rand::rng().random_range(cap / 4..=cap))
}
