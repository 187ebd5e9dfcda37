//! Who is calling: a visitor about their own billing, a support agent about a customer they
//! name, or Stripe delivering an event. Each endpoint says which it admits; the pipeline
//! checks the caller's credentials against that tenant's secrets for that kind (a token,
//! or the signature of the raw body) and refuses the others.
use http::HeaderMap;

use crate::auth::identity::{self, Visitor};
use crate::auth::signature;
use crate::error::ApiError;
use crate::ports::tenants::{TenantConfig, TenantSecrets};

/// How a panel key starts, so it is never taken for a JWT (and a scanner can find one).
pub const PANEL_KEY_PREFIX: &str = "bbp_";

/// Whether `key` is one of the tenant's panel keys. Compared as SHA-256 digests, so the
/// time taken says nothing about how much of a key was right.
fn panel_key_matches(key: &str, keys: &[crate::secret::Secret]) -> bool {
    use sha2::{Digest, Sha256};
    let given = Sha256::digest(key.as_bytes());
    keys.iter()
        .any(|k| Sha256::digest(k.expose().as_bytes()) == given)
}

/// The kinds of caller an endpoint may admit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admits {
    /// The logged-in visitor (JWT with the tenant's visitor secret, or the legacy hash).
    Visitors,
    /// The logged-in visitor by JWT only (MCP clients; the legacy hash headers are the
    /// widget's).
    VisitorTokens,
    /// A support agent (JWT with the tenant's agent secret and `role: "agent"`).
    Agents,
    /// A support agent, or the agent panel with the tenant's panel key (`bbp_...`) as its
    /// bearer: agent insight and the panel's own actions, nothing else.
    AgentsOrPanel,
    /// Stripe (`Stripe-Signature` over the raw body with one of the tenant's webhook
    /// secrets).
    Stripe,
    /// Whoever holds a link an email sent (the pay-now page): the credential is the
    /// link's single-use token in the path, which the endpoint checks against what it
    /// stored.
    LinkHolder,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Caller {
    Visitor(Visitor),
    Agent {
        id: String,
    },
    Stripe,
    /// Someone with an emailed link (the link itself is checked by its endpoint).
    LinkHolder,
}

impl Caller {
    pub fn verify(
        admits: Admits,
        headers: &HeaderMap,
        body: &[u8],
        config: &TenantConfig,
        secrets: &TenantSecrets,
        now: i64,
    ) -> Result<Self, ApiError> {
        match admits {
            Admits::Visitors => identity::verify_visitor(
                headers,
                config,
                &secrets.identity_secrets,
                &secrets.user_hash_secrets,
                now,
            )
            .map(Caller::Visitor),
            Admits::VisitorTokens => {
                identity::bearer(headers)?.ok_or_else(ApiError::identity_required)?;
                identity::verify_visitor(
                    headers,
                    config,
                    &secrets.identity_secrets,
                    &secrets.user_hash_secrets,
                    now,
                )
                .map(Caller::Visitor)
            }
            Admits::AgentsOrPanel
                if identity::bearer(headers)?.is_some_and(|t| t.starts_with(PANEL_KEY_PREFIX)) =>
            {
                let key = identity::bearer(headers)?.unwrap_or_default();
                if panel_key_matches(key, &secrets.panel_keys) {
                    Ok(Caller::Agent { id: "panel".into() })
                } else {
                    Err(ApiError::identity_invalid("bad_panel_key"))
                }
            }
            Admits::Agents | Admits::AgentsOrPanel => {
                let token = identity::bearer(headers)?.ok_or_else(ApiError::identity_required)?;
                let claims = identity::verify_jwt(
                    token,
                    &config.tenant,
                    &secrets.agent_secrets,
                    config.max_token_lifetime_secs,
                    now,
                )?;
                if claims.role.as_deref() != Some("agent") {
                    return Err(ApiError::identity_invalid("not_an_agent"));
                }
                Ok(Caller::Agent {
                    id: claims.sub.unwrap_or_default(),
                })
            }
            Admits::Stripe => {
                let header = headers
                    .get("stripe-signature")
                    .and_then(|v| v.to_str().ok());
                signature::verify(header, body, &secrets.webhook_secrets, now)?;
                Ok(Caller::Stripe)
            }
            Admits::LinkHolder => Ok(Caller::LinkHolder),
        }
    }

    /// How the audit names the caller.
    pub fn actor(&self) -> String {
        match self {
            Caller::Visitor(v) => format!("visitor:{}", v.user_id),
            Caller::Agent { id } => format!("agent:{id}"),
            Caller::Stripe => "stripe".into(),
            Caller::LinkHolder => "pay_link".into(),
        }
    }

    /// A stand-in visitor for a caller who is not one (Stripe, an agent's tenant-wide
    /// call), naming the customer when there is one.
    pub fn as_visitor(&self, customer: Option<&str>) -> Visitor {
        Visitor {
            user_id: self.actor(),
            email: None,
            stripe_customer_id: customer.map(String::from),
        }
    }

    /// The visitor, when the caller is one: whose billing it is, known before any input.
    pub fn visitor(&self) -> Option<&Visitor> {
        match self {
            Caller::Visitor(v) => Some(v),
            Caller::Agent { .. } | Caller::Stripe | Caller::LinkHolder => None,
        }
    }
}
