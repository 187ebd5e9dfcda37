//! Stripe-shaped API errors: `{"error": {"type", "code", "message", "param", "doc_url",
//! "request_log_url"}}`, each only when it has a value, as Stripe sends them.

use serde_json::{Map, Value, json};

#[derive(Debug, Clone)]
pub struct ApiError {
    pub status: u16,
    pub kind: &'static str,
    pub code: Option<&'static str>,
    pub message: String,
    pub param: Option<String>,
    /// Fields Stripe adds for some error types (`decline_code`, `charge`, `payment_intent`).
    pub extra: Map<String, Value>,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    fn new(status: u16, kind: &'static str, code: Option<&'static str>, message: String) -> Self {
        Self {
            status,
            kind,
            code,
            message,
            param: None,
            extra: Map::new(),
        }
    }

    pub fn with_param(mut self, param: impl Into<String>) -> Self {
        self.param = Some(param.into());
        self
    }

    pub fn with_extra(mut self, key: &str, value: Value) -> Self {
        self.extra.insert(key.to_string(), value);
        self
    }

    /// A 400 with one of Stripe's error codes (`charge_already_refunded`, ...).
    pub fn coded(code: &'static str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", Some(code), message.into())
    }

    pub fn invalid(message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", None, message.into())
    }

    /// A value Stripe refuses for its parameter ("Invalid proration_behavior: must be one
    /// of ..."): Stripe names the parameter and sends no `code` (none of its error codes
    /// is "parameter_invalid").
    pub fn invalid_param(param: &str, message: impl Into<String>) -> Self {
        Self::new(400, "invalid_request_error", None, message.into()).with_param(param)
    }

    pub fn invalid_integer(param: &str, raw: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_invalid_integer"),
            format!("Invalid integer: {raw}"),
        )
        .with_param(param)
    }

    /// A parameter Stripe documents for the endpoint that the emulator does not model
    /// (`resources/unmodeled.rs`): refused plainly, never taken and ignored, and never
    /// called unknown.
    pub fn not_modeled(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            None,
            format!(
                "The Stripe emulator does not model the parameter `{param}` of this endpoint (docs/EMULATOR.md)."
            ),
        )
        .with_param(param)
    }

    pub fn missing(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_missing"),
            format!("Missing required param: {param}."),
        )
        .with_param(param)
    }

    pub fn unknown(param: &str) -> Self {
        Self::new(
            400,
            "invalid_request_error",
            Some("parameter_unknown"),
            format!("Received unknown parameter: {param}"),
        )
        .with_param(param)
    }

    /// `label` is Stripe's wording for the resource, e.g. `customer` or `PaymentMethod`.
    /// The object of the URL (`param` "id") is a 404; an id given in a parameter (a
    /// subscription's `customer`, a list's `customer` filter) is a 400 naming it, as Stripe
    /// answers: the request, not the URL, is what is wrong.
    pub fn no_such(label: &str, id: &str, param: &str) -> Self {
        Self::new(
            if param == "id" { 404 } else { 400 },
            "invalid_request_error",
            Some("resource_missing"),
            format!("No such {label}: '{id}'"),
        )
        .with_param(param)
    }

    pub fn unrecognized_url(method: &str, path: &str) -> Self {
        Self::new(
            404,
            "invalid_request_error",
            None,
            format!(
                "Unrecognized request URL ({method}: {path}). Please see https://stripe.com/docs or we can help at https://support.stripe.com/."
            ),
        )
    }

    pub fn card_declined() -> Self {
        Self::declined("generic_decline")
    }

    /// A card decline with Stripe's `decline_code`; an off-session payment the bank wants
    /// authenticated is its own `code`, as Stripe answers it.
    pub fn declined(decline_code: &str) -> Self {
        let (code, message) = match decline_code {
            "authentication_required" => (
                "authentication_required",
                "Your card was declined. This transaction requires authentication.",
            ),
            "insufficient_funds" => ("card_declined", "Your card has insufficient funds."),
            _ => ("card_declined", "Your card was declined."),
        };
        Self::new(402, "card_error", Some(code), message.into())
            .with_extra("decline_code", json!(decline_code))
    }

    /// Paying an invoice off-session with a card whose bank wants 3-D Secure.
    pub fn invoice_requires_action() -> Self {
        Self::new(
            402,
            "card_error",
            Some("invoice_payment_intent_requires_action"),
            "This payment requires additional user action before it can be completed successfully. Payment can be completed using the PaymentIntent associated with the invoice.".into(),
        )
    }

    pub fn auth(message: String) -> Self {
        Self::new(401, "invalid_request_error", None, message)
    }

    /// A restricted key without the permission a request needs.
    pub fn permission(message: String) -> Self {
        Self::new(403, "invalid_request_error", None, message)
    }

    pub fn rate_limit() -> Self {
        Self::new(
            429,
            "invalid_request_error",
            Some("rate_limit"),
            "Request rate limit exceeded. Learn more about rate limits here https://stripe.com/docs/rate-limits.".into(),
        )
    }

    pub fn server_error() -> Self {
        Self::new(
            500,
            "api_error",
            None,
            "An unknown error occurred while processing your request.".into(),
        )
    }

    pub fn idempotency(message: String) -> Self {
        Self::new(400, "idempotency_error", None, message)
    }

    /// A request reusing the idempotency key of one still in progress.
    pub fn idempotency_in_use(key: &str) -> Self {
        Self::new(
            409,
            "idempotency_error",
            Some("idempotency_key_in_use"),
            format!(
                "There is currently another in-progress request using this Stripe-Idempotency-Key (that probably means you submitted twice, and the other request is still going through): {key}. Please try again later."
            ),
        )
    }

    /// The body as Stripe sends it: fields without a value are left out (Stripe's error
    /// object has no nulls), and the request is named by its dashboard log URL, as Stripe
    /// names it (the id itself is the `Request-Id` header).
    pub fn body(&self, request_id: &str) -> Value {
        let mut err = Map::new();
        err.insert("type".into(), json!(self.kind));
        if let Some(code) = self.code {
            err.insert("code".into(), json!(code));
            err.insert(
                "doc_url".into(),
                json!(format!(
                    "https://stripe.com/docs/error-codes/{}",
                    code.replace('_', "-")
                )),
            );
        }
        err.insert("message".into(), json!(self.message));
        if let Some(param) = &self.param {
            err.insert("param".into(), json!(param));
        }
        err.insert(
            "request_log_url".into(),
            json!(format!(
                "https://dashboard.stripe.com/test/logs/{request_id}"
            )),
        );
        for (k, v) in &self.extra {
            err.insert(k.clone(), v.clone());
        }
        json!({ "error": Value::Object(err) })
    }
}
