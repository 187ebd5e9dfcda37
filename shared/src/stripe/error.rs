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

    pub fn code(&self) -> Option<&str> {
        match self {
            StripeError::Api { code, .. } => code.as_deref(),
            _ => None,
        }
    }

    /// The contract's answer when Stripe is the reason a call failed. A 404 or a card
    /// error means something to a tool; callers check those before falling back here.
    pub fn to_api_error(&self) -> crate::ApiError {
        use crate::ApiError;
        match self {
            StripeError::Timeout => ApiError::billing_unavailable(503, "stripe_timeout"),
            StripeError::Transport(_) => ApiError::billing_unavailable(503, "stripe_unreachable"),
            StripeError::Decode(_) => ApiError::billing_unavailable(502, "stripe_bad_response"),
            StripeError::Api { status, .. } => match *status {
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
