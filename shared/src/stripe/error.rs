use serde::Deserialize;

/// What went wrong talking to Stripe. Stripe's own error body and `Request-Id` are kept
/// so the audit record can point at the exact request.
#[derive(Debug, Clone, thiserror::Error)]
pub enum StripeError {
    #[error("stripe answered {status} ({kind}/{code:?}): {message}")]
    Api {
        status: u16,
        kind: String,
        code: Option<String>,
        message: String,
        param: Option<String>,
        decline_code: Option<String>,
        request_id: Option<String>,
    },
    #[error("stripe did not answer in time")]
    Timeout,
    #[error("could not reach stripe: {0}")]
    Transport(String),
    #[error("unexpected response from stripe: {0}")]
    Decode(String),
}

#[derive(Deserialize)]
pub(crate) struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Deserialize)]
pub(crate) struct ErrorDetail {
    #[serde(rename = "type", default)]
    pub kind: String,
    pub code: Option<String>,
    #[serde(default)]
    pub message: String,
    pub param: Option<String>,
    pub decline_code: Option<String>,
}

impl StripeError {
    pub fn status(&self) -> Option<u16> {
        match self {
            StripeError::Api { status, .. } => Some(*status),
            _ => None,
        }
    }

    pub fn is_missing(&self) -> bool {
        matches!(self, StripeError::Api { status: 404, .. })
    }

    /// Stripe found no object for the id in `param` (a list filtered by a customer that
    /// is gone answers 400 `resource_missing` naming `customer`, not 404).
    pub fn names_missing(&self, param: &str) -> bool {
        matches!(self, StripeError::Api { code: Some(c), param: Some(p), .. }
            if c == "resource_missing" && p == param)
    }

    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }
}
