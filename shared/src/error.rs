//! The contract's error table, in one place.
use serde::Serialize;

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
}

impl ApiError {
    fn new(status: u16, code: &'static str, message: impl Into<String>) -> Self {
        Self {
            status,
            code,
            reason: None,
            message: message.into(),
            escalate: false,
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
    pub fn ambiguous_customer() -> Self {
        Self::new(
            409,
            "ambiguous_customer",
            "More than one billing account matches your email, so we won't guess; a person will help.",
        )
        .escalated()
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

impl std::fmt::Display for ApiError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.code, self.message)
    }
}

impl std::error::Error for ApiError {}
