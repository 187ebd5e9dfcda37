//! Typed views of Stripe objects: only the fields our tools read, for the pinned version.
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// An enum of Stripe's strings, with `Other` for a value Stripe adds later (read as it is,
/// never an error).
macro_rules! stripe_enum {
    ($(#[$m:meta])* $name:ident { $($variant:ident => $s:literal),* $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, PartialEq, Eq, Hash)]
        pub enum $name {
            $($variant,)*
            /// A value this build does not know.
            Other(String),
        }

        impl $name {
            pub fn as_str(&self) -> &str {
                match self {
                    $(Self::$variant => $s,)*
                    Self::Other(s) => s,
                }
            }
        }

        impl From<&str> for $name {
            fn from(s: &str) -> Self {
                match s {
                    $($s => Self::$variant,)*
                    other => Self::Other(other.to_string()),
                }
            }
        }

        impl<'de> Deserialize<'de> for $name {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                Ok(Self::from(String::deserialize(d)?.as_str()))
            }
        }

        impl Serialize for $name {
            fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl std::fmt::Display for $name {
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

stripe_enum! {
    /// A subscription's `status`.
    SubscriptionStatus {
        Incomplete => "incomplete",
        IncompleteExpired => "incomplete_expired",
        Trialing => "trialing",
        Active => "active",
        PastDue => "past_due",
        Canceled => "canceled",
        Unpaid => "unpaid",
        Paused => "paused",
    }
}

stripe_enum! {
    /// An invoice's `status`.
    InvoiceStatus {
        Draft => "draft",
        Open => "open",
        Paid => "paid",
        Uncollectible => "uncollectible",
        Void => "void",
    }
}

stripe_enum! {
    /// A charge's `status`.
    ChargeStatus {
        Succeeded => "succeeded",
        Pending => "pending",
        Failed => "failed",
    }
}

/// A field that holds an id unless the request asked for it with `expand[]`.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Expandable<T> {
    Id(String),
    Object(Box<T>),
}

impl<T: HasId> Expandable<T> {
    pub fn id(&self) -> &str {
        match self {
            Expandable::Id(id) => id,
            Expandable::Object(o) => o.id(),
        }
    }

    pub fn object(&self) -> Option<&T> {
        match self {
            Expandable::Id(_) => None,
            Expandable::Object(o) => Some(o),
        }
    }
}

pub trait HasId {
    fn id(&self) -> &str;
}

macro_rules! has_id {
    ($($t:ty),*) => { $(impl HasId for $t { fn id(&self) -> &str { &self.id } })* };
}
has_id!(
    Charge,
    PaymentIntent,
    Customer,
    Product,
    Price,
    Invoice,
    Subscription,
    Discount,
    Coupon,
    PaymentMethod
);

#[derive(Debug, Clone, Deserialize)]
pub struct List<T> {
    pub data: Vec<T>,
    #[serde(default)]
    pub has_more: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Customer {
    pub id: String,
    #[serde(default)]
    pub deleted: bool,
    pub created: Option<i64>,
    pub email: Option<String>,
    pub name: Option<String>,
    pub phone: Option<String>,
    pub address: Option<Address>,
    #[serde(default)]
    pub balance: i64,
    pub currency: Option<String>,
    pub invoice_settings: Option<InvoiceSettings>,
}

impl Customer {
    /// The default card, when `invoice_settings.default_payment_method` was expanded.
    pub fn default_card(&self) -> Option<&Card> {
        self.invoice_settings
            .as_ref()?
            .default_payment_method
            .as_ref()?
            .object()?
            .card
            .as_ref()
    }
}

#[derive(Debug, Clone, Deserialize, serde::Serialize, PartialEq, Eq)]
pub struct Address {
    pub line1: Option<String>,
    pub line2: Option<String>,
    pub city: Option<String>,
    pub state: Option<String>,
    pub postal_code: Option<String>,
    pub country: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceSettings {
    pub default_payment_method: Option<Expandable<PaymentMethod>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Product {
    pub id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default = "yes")]
    pub active: bool,
    pub description: Option<String>,
}

fn yes() -> bool {
    true
}

#[derive(Debug, Clone, Deserialize)]
pub struct Recurring {
    pub interval: String,
    #[serde(default = "one")]
    pub interval_count: u32,
}

fn one() -> u32 {
    1
}

#[derive(Debug, Clone, Deserialize)]
pub struct Price {
    pub id: String,
    pub product: Expandable<Product>,
    pub unit_amount: Option<i64>,
    pub currency: String,
    pub recurring: Option<Recurring>,
    pub nickname: Option<String>,
    #[serde(default = "yes")]
    pub active: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct SubscriptionItem {
    pub id: String,
    pub price: Price,
    pub quantity: Option<u64>,
    pub current_period_start: Option<i64>,
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PauseCollection {
    pub behavior: String,
    pub resumes_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Coupon {
    pub id: String,
    pub name: Option<String>,
    pub percent_off: Option<f64>,
    pub amount_off: Option<i64>,
    pub currency: Option<String>,
    pub duration: Option<String>,
    pub duration_in_months: Option<u32>,
    /// Whether it can still be redeemed.
    #[serde(default = "yes")]
    pub valid: bool,
    /// The products it is restricted to (includable: only when expanded).
    pub applies_to: Option<AppliesTo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct AppliesTo {
    #[serde(default)]
    pub products: Vec<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscountSource {
    pub coupon: Option<Expandable<Coupon>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Discount {
    pub id: String,
    pub source: Option<DiscountSource>,
    pub end: Option<i64>,
    pub promotion_code: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Subscription {
    pub id: String,
    pub customer: String,
    pub status: SubscriptionStatus,
    pub currency: String,
    pub items: List<SubscriptionItem>,
    pub latest_invoice: Option<Expandable<Invoice>>,
    #[serde(default)]
    pub cancel_at_period_end: bool,
    pub cancel_at: Option<i64>,
    pub canceled_at: Option<i64>,
    pub ended_at: Option<i64>,
    pub trial_end: Option<i64>,
    pub pause_collection: Option<PauseCollection>,
    #[serde(default)]
    pub discounts: Vec<Expandable<Discount>>,
    pub created: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Invoice {
    pub id: String,
    pub customer: Option<String>,
    pub collection_method: Option<String>,
    #[serde(default)]
    pub subtotal: i64,
    #[serde(default)]
    pub total: i64,
    #[serde(default)]
    pub starting_balance: i64,
    pub period_start: Option<i64>,
    pub period_end: Option<i64>,
    pub status_transitions: Option<StatusTransitions>,
    pub lines: Option<List<InvoiceLine>>,
    #[serde(default)]
    pub total_discount_amounts: Vec<DiscountAmount>,
    pub number: Option<String>,
    pub status: Option<InvoiceStatus>,
    pub currency: String,
    #[serde(default)]
    pub amount_due: i64,
    #[serde(default)]
    pub amount_paid: i64,
    #[serde(default)]
    pub amount_remaining: i64,
    pub hosted_invoice_url: Option<String>,
    pub invoice_pdf: Option<String>,
    pub created: i64,
    pub due_date: Option<i64>,
    pub next_payment_attempt: Option<i64>,
    pub parent: Option<InvoiceParent>,
    /// The payments made for the invoice (includable: only when expanded).
    pub payments: Option<List<InvoicePayment>>,
}

impl Invoice {
    /// The subscription the invoice bills, when a subscription made it.
    pub fn subscription(&self) -> Option<&str> {
        self.parent
            .as_ref()?
            .subscription_details
            .as_ref()?
            .subscription
            .as_deref()
    }

    /// Whether a payment for it was made with this payment intent or charge.
    pub fn paid_by(&self, intent: Option<&str>, charge: &str) -> bool {
        self.payments.as_ref().is_some_and(|list| {
            list.data.iter().any(|p| {
                p.payment.charge.as_ref().is_some_and(|c| c.id() == charge)
                    || intent.is_some_and(|i| {
                        p.payment
                            .payment_intent
                            .as_ref()
                            .is_some_and(|x| x.id() == i)
                    })
            })
        })
    }
}

/// One payment toward an invoice (since basil, how an invoice names what paid it).
#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePayment {
    pub id: String,
    pub invoice: Option<Expandable<Invoice>>,
    pub payment: InvoicePaymentRef,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoicePaymentRef {
    pub charge: Option<Expandable<Charge>>,
    pub payment_intent: Option<Expandable<PaymentIntent>>,
}

/// What made an invoice; a subscription's invoices name it here (since basil).
#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceParent {
    pub subscription_details: Option<InvoiceSubscriptionDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceSubscriptionDetails {
    pub subscription: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Card {
    pub brand: String,
    pub last4: String,
    pub exp_month: u32,
    pub exp_year: u32,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethod {
    pub id: String,
    pub card: Option<Card>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct StatusTransitions {
    pub paid_at: Option<i64>,
    pub finalized_at: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Period {
    pub start: Option<i64>,
    pub end: Option<i64>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct InvoiceLine {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    pub currency: String,
    pub description: Option<String>,
    pub quantity: Option<u64>,
    pub period: Option<Period>,
    /// Where the line comes from; says whether it is a proration.
    pub parent: Option<serde_json::Value>,
}

impl InvoiceLine {
    /// A proration: credit for unused time on the old price, or the rest of the period on
    /// the new one (`parent.*_details.proration` in the current API).
    pub fn is_proration(&self) -> bool {
        self.parent.as_ref().is_some_and(|p| {
            ["subscription_item_details", "invoice_item_details"]
                .iter()
                .any(|k| p[k]["proration"] == true)
        })
    }
}

#[derive(Debug, Clone, Deserialize)]
pub struct DiscountAmount {
    #[serde(default)]
    pub amount: i64,
}

#[derive(Debug, Clone, Deserialize)]
pub struct CardDetails {
    pub brand: Option<String>,
    pub last4: Option<String>,
    pub exp_month: Option<u32>,
    pub exp_year: Option<u32>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentMethodDetails {
    pub card: Option<CardDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct Charge {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    #[serde(default)]
    pub amount_refunded: i64,
    pub currency: String,
    pub status: ChargeStatus,
    pub created: i64,
    pub description: Option<String>,
    pub receipt_url: Option<String>,
    pub failure_code: Option<String>,
    pub failure_message: Option<String>,
    pub outcome: Option<ChargeOutcome>,
    #[serde(default)]
    pub refunded: bool,
    #[serde(default)]
    pub disputed: bool,
    pub customer: Option<String>,
    pub payment_intent: Option<String>,
    pub payment_method_details: Option<PaymentMethodDetails>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PaymentIntent {
    pub id: String,
    pub customer: Option<String>,
    pub latest_charge: Option<Expandable<Charge>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct BalanceTransaction {
    pub id: String,
    #[serde(default)]
    pub amount: i64,
    pub currency: String,
    pub created: i64,
    pub description: Option<String>,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub ending_balance: i64,
    pub invoice: Option<String>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalSession {
    pub id: String,
    pub url: String,
    pub flow: Option<PortalFlowInfo>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalFlowInfo {
    #[serde(rename = "type")]
    pub kind: String,
}

#[derive(Debug, Clone, Deserialize)]
pub struct ChargeOutcome {
    /// The decline reason (`generic_decline`, `insufficient_funds`, ...), when declined.
    pub reason: Option<String>,
}

/// A customer-facing code for a coupon, with the rules Stripe checks when it is redeemed.
#[derive(Debug, Deserialize)]
pub struct PromotionCode {
    pub id: String,
    pub code: String,
    #[serde(default)]
    pub active: bool,
    pub expires_at: Option<i64>,
    pub max_redemptions: Option<i64>,
    #[serde(default)]
    pub times_redeemed: i64,
    pub customer: Option<String>,
    pub promotion: Promotion,
    #[serde(default)]
    pub restrictions: Restrictions,
}

#[derive(Debug, Deserialize)]
pub struct Promotion {
    pub coupon: Option<Expandable<Coupon>>,
}

#[derive(Debug, Default, Deserialize)]
pub struct Restrictions {
    #[serde(default)]
    pub first_time_transaction: bool,
    pub minimum_amount: Option<i64>,
    pub minimum_amount_currency: Option<String>,
}

/// A Checkout Session (`checkout.Session`): the fields the product reads.
#[derive(Debug, Clone, Deserialize)]
pub struct CheckoutSession {
    pub id: String,
    pub url: Option<String>,
    pub expires_at: i64,
    pub status: Option<String>,
    pub mode: String,
    pub customer: Option<String>,
    pub customer_email: Option<String>,
    pub client_reference_id: Option<String>,
    pub subscription: Option<String>,
    pub amount_total: Option<i64>,
    pub currency: Option<String>,
}

/// A Billing Portal configuration (`billing_portal.Configuration`): what `tenantctl doctor`
/// checks.
#[derive(Debug, Clone, Deserialize)]
pub struct PortalConfiguration {
    pub id: String,
    pub active: bool,
    pub is_default: bool,
    pub default_return_url: Option<String>,
    pub features: PortalFeatures,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalFeatures {
    pub payment_method_update: PortalFeature,
    pub subscription_cancel: PortalFeature,
    pub subscription_update: PortalSubscriptionUpdate,
    pub invoice_history: PortalFeature,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalFeature {
    pub enabled: bool,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalSubscriptionUpdate {
    pub enabled: bool,
    #[serde(default)]
    pub products: Option<Vec<PortalProduct>>,
}

#[derive(Debug, Clone, Deserialize)]
pub struct PortalProduct {
    pub product: String,
    #[serde(default)]
    pub prices: Vec<String>,
}

/// A webhook endpoint (`WebhookEndpoint`); `secret` only in the answer to its creation.
#[derive(Debug, Clone, Deserialize)]
pub struct WebhookEndpoint {
    pub id: String,
    pub url: String,
    pub enabled_events: Vec<String>,
    pub status: String,
    pub secret: Option<String>,
}
