//! The contract's error table, in one place, and where the errors of the ports and of Stripe
//! become the contract's (they know nothing of it).
use serde::Serialize;

use crate::ports::error::StoreError;
use crate::stripe::StripeError;

/// Every error code an answer can carry, with its HTTP status. `docs/API.md` lists the
/// same table; a test keeps the two in step.
pub const CODES: &[(&str, u16)] = &[
    ("invalid_request", 400),
    ("identity_required", 401),
    ("identity_invalid", 401),
    ("identity_expired", 401),
    ("tool_disabled", 403),
    ("policy_denied", 403),
    ("not_owner", 403),
    ("customer_not_found", 404),
    ("not_found", 404),
    ("unknown_tenant", 404),
    ("method_not_allowed", 405),
    ("ambiguous_customer", 409),
    ("confirmation_invalid", 409),
    ("confirmation_expired", 409),
    ("approval_closed", 409),
    ("payload_too_large", 413),
    ("rate_limited", 429),
    ("billing_unavailable", 502),
    ("billing_unavailable", 503),
];

/// One of several customers an email matched: shown to an agent so they can pick, never
/// to a visitor (they are other people's accounts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Candidate {
    pub id: String,
    pub name: Option<String>,
    pub created: Option<String>,
}

/// An answer the caller gets instead of data. `status` is the HTTP status the contract
/// fixes for `code`; constructors keep the two from drifting apart.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ApiError {
    #[serde(skip)]
    pub status: u16,
    pub code: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    pub message: String,
    pub escalate: bool,
    /// Filled only where the caller may see them (agents); see [`Candidate`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub candidates: Option<Box<Vec<Candidate>>>,
    /// Matches kept out of the answer until a boundary decides the caller may see them.
    #[serde(skip)]
    pub matched: Option<Box<Vec<Candidate>>>,
    /// Methods the path takes, for the `Allow` header of a 405.
    #[serde(skip)]
    pub allow: Option<&'static str>,
    /// Seconds for the `Retry-After` header, where the error knows them.
    #[serde(skip)]
    pub retry_after: Option<u64>,
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: None,
            message: message.into(),
            escalate: false,
            candidates: None,
            matched: None,
            allow: None,
            retry_after: None,
        }
    }

    pub fn with_reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    pub fn escalated(mut self) -> Self {
        self.escalate = true;
        self
    }

    pub fn invalid_request(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request", message)
    }
    pub fn identity_required() -> Self {
        Self::new(
            401,
            "identity_required",
            "Sign-in is required: send the visitor's identity token.",
        )
    }
    pub fn identity_invalid(reason: &str) -> Self {
        Self::new(401, "identity_invalid", "The identity token is not valid.").with_reason(reason)
    }
    pub fn identity_expired() -> Self {
        Self::new(401, "identity_expired", "The identity token has expired.")
            .with_reason("token_expired")
    }
    pub fn tool_disabled(tool: &str) -> Self {
        Self::new(
            403,
            "tool_disabled",
            format!("The tool {tool} is turned off for this merchant."),
        )
    }
    pub fn policy_denied(reason: &str, message: impl Into<String>) -> Self {
        Self::new(403, "policy_denied", message)
            .with_reason(reason)
            .escalated()
    }
    pub fn not_owner(what: &str) -> Self {
        Self::new(
            403,
            "not_owner",
            format!("That {what} does not belong to your account."),
        )
    }
    pub fn customer_not_found() -> Self {
        Self::new(
            404,
            "customer_not_found",
            "We couldn't find a billing account for you.",
        )
        .escalated()
    }
    pub fn not_found(message: impl Into<String>) -> Self {
        Self::new(404, "not_found", message)
    }
    pub fn unknown_tenant() -> Self {
        Self::new(404, "unknown_tenant", "Unknown tenant.")
    }
    pub fn method_not_allowed(allow: &'static str) -> Self {
        let mut e = Self::new(
            405,
            "method_not_allowed",
            format!("This route takes {allow} only."),
        )
        .with_reason("wrong_method");
        e.allow = Some(allow);
        e
    }
    pub fn ambiguous_customer(matched: Vec<Candidate>) -> Self {
        let mut e = Self::new(
            409,
            "ambiguous_customer",
            "More than one billing account matches your email, so we won't guess; a person will help.",
        )
        .escalated();
        e.matched = Some(Box::new(matched));
        e
    }
    pub fn confirmation_invalid(reason: &str) -> Self {
        Self::new(
            409,
            "confirmation_invalid",
            "That confirmation doesn't match this request; ask again to get a new preview.",
        )
        .with_reason(reason)
    }
    pub fn confirmation_expired() -> Self {
        Self::new(
            409,
            "confirmation_expired",
            "That confirmation has expired, so nothing was done; ask again to get a new preview.",
        )
        .with_reason("confirmation_expired")
    }
    /// An error stored as a write's outcome, answered again to a replay.
    pub fn restored(stored: &serde_json::Value) -> Self {
        let code = stored["code"].as_str().unwrap_or_default();
        let status = stored["status"].as_u64().unwrap_or(503) as u16;
        let code = CODES
            .iter()
            .find(|(c, s)| *c == code && *s == status)
            .map_or("billing_unavailable", |(c, _)| c);
        let mut e = Self::new(status, code, stored["message"].as_str().unwrap_or_default());
        e.reason = stored["reason"].as_str().map(String::from);
        e.escalate = stored["escalate"].as_bool().unwrap_or(false);
        e
    }
    /// An approval decided already, expired, or whose object changed since it was asked.
    pub fn approval_closed(reason: &str, message: impl Into<String>) -> Self {
        Self::new(409, "approval_closed", message).with_reason(reason)
    }
    pub fn payload_too_large() -> Self {
        Self::new(413, "payload_too_large", "The request body is over 64 KiB.")
    }
    pub fn rate_limited(message: impl Into<String>) -> Self {
        Self::new(429, "rate_limited", message)
    }
    /// Stripe or AWS failing or slow. `status` is 502 when the upstream answered wrongly
    /// and 503 when it did not answer in time or asked us to back off.
    pub fn billing_unavailable(status: u16, reason: &str) -> Self {
        Self::new(
            status,
            "billing_unavailable",
            "Billing is temporarily unavailable; please try again shortly or talk to support.",
        )
        .with_reason(reason)
        .escalated()
    }
}

impl ApiError {
    /// The same error said to a support agent about a customer they looked up, instead of
    /// to the visitor: the agent is the person an escalation would reach, and may see the
    /// accounts an email matched.
    pub fn for_agent(mut self) -> Self {
        let message = match self.code {
            "identity_required" => Some(
                "Send an agent token: `Authorization: Bearer <JWT>` signed with the tenant's agent secret, with `role: \"agent\"`.".to_string(),
            ),
            "identity_invalid" => Some("The agent token is not valid for this tenant.".into()),
            "identity_expired" => Some("The agent token has expired; sign in again.".into()),
            "customer_not_found" => {
                Some("No Stripe customer matches that look-up.".to_string())
            }
            "ambiguous_customer" => {
                self.candidates = self.matched.take();
                Some(
                    "Several Stripe customers share that email; look one of the candidates up by `customer_id`.".into(),
                )
            }
            "billing_unavailable" => Some(
                "Stripe or AWS is not answering for this tenant right now; try again shortly.".into(),
            ),
            _ => None,
        };
        if let Some(m) = message {
            self.message = m;
        }
        if matches!(self.code, "customer_not_found" | "ambiguous_customer") {
            self.escalate = false;
        }
        self
    }
}

/// The contract's answer when Stripe is the reason a call failed: `billing_unavailable`. A
/// 404 or a card error means something to a tool; tools check those before falling back
/// here.
impl From<StripeError> for ApiError {
    fn from(e: StripeError) -> Self {
        match e {
            StripeError::Timeout => ApiError::billing_unavailable(503, "stripe_timeout"),
            StripeError::Transport(_) => ApiError::billing_unavailable(503, "stripe_unreachable"),
            StripeError::Decode(_) => ApiError::billing_unavailable(502, "stripe_bad_response"),
            // Stripe refuses every portal session until the merchant saves the portal's
            // settings in the key's mode: said as such, so the operator knows what to fix
            // (`tenantctl doctor` checks it too).
            StripeError::Api {
                status: 400,
                ref message,
                ..
            } if message.contains("customer portal settings") => {
                let mut e = ApiError::billing_unavailable(502, "portal_not_configured");
                e.message = "The billing portal isn't set up for this account yet, so I can't make that link; a person from our support team can help.".into();
                e
            }
            StripeError::Api { status, .. } => match status {
                // Stripe's rate limit outlasted our retries: back off and tell a person.
                429 => ApiError::billing_unavailable(503, "stripe_rate_limited"),
                401 | 403 => ApiError::billing_unavailable(502, "stripe_key_rejected"),
                404 => ApiError::not_found("That billing record was not found."),
                s if s >= 500 => ApiError::billing_unavailable(503, "stripe_error"),
                _ => ApiError::billing_unavailable(502, "stripe_rejected_request"),
            },
        }
    }
}

/// Our own storage failing is `billing_unavailable` too, logged here (the port's error
/// says what failed; the caller gets only the contract's answer).
impl From<StoreError> for ApiError {
    fn from(e: StoreError) -> Self {
        tracing::error!(error = %e, "storage failed");
        ApiError::billing_unavailable(503, "storage_unavailable")
    }
}

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
