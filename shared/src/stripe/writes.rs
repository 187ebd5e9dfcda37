//! The parameters of each write this project sends, typed: a field Stripe does not know
//! cannot be written, and the bracketed form (`items[0][price]=x`) is made in one place
//! (`Params::form`). Names and values are Stripe's (stripe-python 16.1.0's `*Params`).
use schemars::JsonSchema;
use serde::{Deserialize, Serialize, Serializer};

/// A field to set, or to clear: Stripe clears a field sent as the empty string.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Setting<T> {
    Set(T),
    Clear,
}

impl<T: Serialize> Serialize for Setting<T> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        match self {
            Setting::Set(v) => v.serialize(s),
            Setting::Clear => s.serialize_str(""),
        }
    }
}

/// `pause_collection[behavior]`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PauseBehavior {
    #[default]
    Void,
    KeepAsDraft,
    MarkUncollectible,
}

impl PauseBehavior {
    pub fn as_str(self) -> &'static str {
        match self {
            PauseBehavior::Void => "void",
            PauseBehavior::KeepAsDraft => "keep_as_draft",
            PauseBehavior::MarkUncollectible => "mark_uncollectible",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct PauseCollection {
    pub behavior: PauseBehavior,
    pub resumes_at: i64,
}

/// Why the visitor is leaving; recorded in Stripe's `cancellation_details[feedback]`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum CancelFeedback {
    TooExpensive,
    MissingFeatures,
    SwitchedService,
    Unused,
    CustomerService,
    TooComplex,
    LowQuality,
    Other,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CancellationDetails {
    pub feedback: CancelFeedback,
}

/// `proration_behavior`: this project always shows and charges the proration it quotes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ProrationBehavior {
    CreateProrations,
}

/// One item of a subscription, moved to another price.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ItemChange {
    pub id: String,
    pub price: String,
}

/// A discount a subscription keeps (by id) or gains (by promotion code).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum DiscountRef {
    Discount(String),
    PromotionCode(String),
}

/// `POST /v1/subscriptions/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubscriptionUpdate {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_behavior: Option<ProrationBehavior>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_at_period_end: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_at: Option<Setting<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancellation_details: Option<CancellationDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pause_collection: Option<Setting<PauseCollection>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discounts: Option<Vec<DiscountRef>>,
}

/// `subscription_details` of an invoice preview: the change to price as if made.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct SubscriptionDetails {
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub items: Vec<ItemChange>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_date: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub proration_behavior: Option<ProrationBehavior>,
}

/// `POST /v1/invoices/create_preview`, beyond the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvoicePreview {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_details: Option<SubscriptionDetails>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub discounts: Option<Vec<DiscountRef>>,
}

/// `reason` of a refund.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RefundReason {
    RequestedByCustomer,
    Duplicate,
}

impl RefundReason {
    pub fn as_str(self) -> &'static str {
        match self {
            RefundReason::RequestedByCustomer => "requested_by_customer",
            RefundReason::Duplicate => "duplicate",
        }
    }
}

/// `POST /v1/refunds`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RefundCreate {
    pub charge: String,
    pub amount: i64,
    pub reason: RefundReason,
}

/// `address` of a customer; a part sent empty is cleared.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AddressUpdate {
    pub line1: Setting<String>,
    pub line2: Setting<String>,
    pub city: Setting<String>,
    pub state: Setting<String>,
    pub postal_code: Setting<String>,
    pub country: Setting<String>,
}

/// `POST /v1/customers/{id}`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CustomerUpdate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub address: Option<AddressUpdate>,
}

impl CustomerUpdate {
    pub fn is_empty(&self) -> bool {
        self == &Self::default()
    }
}

/// The task a Billing Portal session opens at.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize, JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum PortalFlow {
    PaymentMethodUpdate,
    SubscriptionCancel,
    SubscriptionUpdate,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowSubscription {
    pub subscription: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AfterCompletion {
    #[serde(rename = "type")]
    pub kind: &'static str,
    pub redirect: RedirectTo,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RedirectTo {
    pub return_url: String,
}

/// `flow_data` of a portal session.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FlowData {
    #[serde(rename = "type")]
    pub kind: PortalFlow,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub after_completion: Option<AfterCompletion>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_cancel: Option<FlowSubscription>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_update: Option<FlowSubscription>,
}

impl FlowData {
    /// The flow, coming back to `return_url` when done; about `subscription` if the flow
    /// is one of a subscription's.
    pub fn new(kind: PortalFlow, return_url: Option<&str>, subscription: Option<&str>) -> Self {
        let about = |k| {
            subscription
                .filter(|_| kind == k)
                .map(|s| FlowSubscription {
                    subscription: s.to_string(),
                })
        };
        FlowData {
            kind,
            after_completion: return_url.map(|url| AfterCompletion {
                kind: "redirect",
                redirect: RedirectTo {
                    return_url: url.to_string(),
                },
            }),
            subscription_cancel: about(PortalFlow::SubscriptionCancel),
            subscription_update: about(PortalFlow::SubscriptionUpdate),
        }
    }
}

/// `POST /v1/billing_portal/sessions`, beyond the customer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct PortalSessionCreate {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub return_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub flow_data: Option<FlowData>,
}

/// `POST /v1/checkout/sessions` in `subscription` mode: one price, for a customer or an
/// email Stripe makes the customer from.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CheckoutSessionCreate {
    pub mode: &'static str,
    pub line_items: Vec<CheckoutLine>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_email: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub client_reference_id: Option<String>,
    pub success_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cancel_url: Option<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub discounts: Vec<CheckoutDiscount>,
    /// Kept on the subscription it makes (who asked, for the audit trail).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subscription_data: Option<CheckoutSubscriptionData>,
    /// Unix time it stops working (Stripe: 30 minutes to 24 hours; default 24 hours).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutLine {
    pub price: String,
    pub quantity: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutDiscount {
    pub promotion_code: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CheckoutSubscriptionData {
    pub metadata: std::collections::BTreeMap<String, String>,
}

/// `POST /v1/webhook_endpoints`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct WebhookEndpointCreate {
    pub url: String,
    pub enabled_events: Vec<String>,
    pub description: String,
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::Params;

    #[test]
    fn a_typed_write_is_the_form_stripe_reads() {
        let update = SubscriptionUpdate {
            items: vec![ItemChange {
                id: "si_1".into(),
                price: "price_2".into(),
            }],
            proration_behavior: Some(ProrationBehavior::CreateProrations),
            cancel_at: Some(Setting::Clear),
            pause_collection: Some(Setting::Set(PauseCollection {
                behavior: PauseBehavior::KeepAsDraft,
                resumes_at: 7,
            })),
            discounts: Some(vec![
                DiscountRef::Discount("di_1".into()),
                DiscountRef::PromotionCode("promo_1".into()),
            ]),
            ..Default::default()
        };
        let p = Params::form(&update);
        let mut sent: Vec<String> = p.pairs().iter().map(|(k, v)| format!("{k}={v}")).collect();
        sent.sort();
        let mut want = vec![
            "items[0][id]=si_1",
            "items[0][price]=price_2",
            "proration_behavior=create_prorations",
            "cancel_at=",
            "pause_collection[behavior]=keep_as_draft",
            "pause_collection[resumes_at]=7",
            "discounts[0][discount]=di_1",
            "discounts[1][promotion_code]=promo_1",
        ];
        want.sort();
        assert_eq!(sent, want);
        let cleared = SubscriptionUpdate {
            pause_collection: Some(Setting::Clear),
            cancel_at_period_end: Some(false),
            ..Default::default()
        };
        assert_eq!(
            Params::form(&cleared).pairs(),
            [
                ("cancel_at_period_end".to_string(), "false".to_string()),
                ("pause_collection".to_string(), String::new())
            ]
        );
    }
}
