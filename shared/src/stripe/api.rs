//! Every Stripe request this project makes, as data: method, path, parameters and the type
//! of the answer. Tools build a request here and hand it to a session; a write's request is
//! stored in its confirmation exactly as it will be sent.
use std::fmt;
use std::marker::PhantomData;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::Params;
use super::types::{
    BalanceTransaction, Charge, CheckoutSession, Customer, Invoice, InvoicePayment, List,
    PaymentIntent, PortalConfiguration, PortalSession, Price, Product, PromotionCode, Subscription,
    WebhookEndpoint,
};
use super::writes::{
    CheckoutSessionCreate, CustomerUpdate, InvoicePreview, PortalSessionCreate, RefundCreate,
    SubscriptionUpdate, WebhookEndpointCreate,
};

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Method {
    Get,
    Post,
    Delete,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Get => "GET",
            Method::Post => "POST",
            Method::Delete => "DELETE",
        }
    }
}

/// One request and, in its type, what Stripe answers it with.
#[derive(Serialize, Deserialize)]
#[serde(bound = "")]
pub struct Request<T> {
    pub method: Method,
    pub path: String,
    pub params: Params,
    #[serde(skip)]
    answer: PhantomData<fn() -> T>,
}

// By hand: deriving would demand the same of `T`, which is only the answer's type.
impl<T> Clone for Request<T> {
    fn clone(&self) -> Self {
        Self::new(self.method, self.path.clone(), self.params.clone())
    }
}

impl<T> PartialEq for Request<T> {
    fn eq(&self, other: &Self) -> bool {
        (self.method, &self.path, &self.params) == (other.method, &other.path, &other.params)
    }
}

impl<T> fmt::Debug for Request<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.method.as_str(), self.path)
    }
}

impl<T> Request<T> {
    fn new(method: Method, path: String, params: Params) -> Self {
        Self {
            method,
            path,
            params,
            answer: PhantomData,
        }
    }

    fn get(path: impl Into<String>) -> Self {
        Self::new(Method::Get, path.into(), Params::new())
    }

    fn post(path: impl Into<String>) -> Self {
        Self::new(Method::Post, path.into(), Params::new())
    }

    pub fn set(mut self, key: impl Into<String>, value: impl ToString) -> Self {
        self.params = self.params.set(key, value);
        self
    }

    /// At most `n` objects of a list (Stripe allows 1 to 100).
    pub fn limit(self, n: impl TryInto<u64>) -> Self {
        self.set("limit", n.try_into().unwrap_or(100).clamp(1, 100))
    }

    /// These parameters added after the ones set.
    pub fn with(mut self, params: Params) -> Self {
        for (k, v) in params.pairs() {
            self.params = self.params.set(k.clone(), v);
        }
        self
    }

    pub fn expand(self, path: &str) -> Self {
        self.set("expand[]", path)
    }

    pub fn expand_all(self, paths: &[&str]) -> Self {
        paths.iter().fold(self, |r, p| r.expand(p))
    }

    /// The same request with its answer kept as JSON (how a stored write is sent).
    pub fn untyped(self) -> Request<Value> {
        Request::new(self.method, self.path, self.params)
    }
}

/// What an endpoint may ask Stripe for with the tenant's key: one capability each, which a
/// restricted key may lack. `tenantctl connect-key` probes each without changing anything.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Need {
    Customer,
    CustomerUpdate,
    BalanceTransactions,
    Subscriptions,
    SubscriptionUpdate,
    Prices,
    Products,
    Invoices,
    InvoicePreview,
    InvoicePay,
    InvoiceSend,
    Charges,
    Charge,
    PaymentIntent,
    RefundCreate,
    PortalSession,
    PromotionCodes,
    CheckoutSession,
}

/// A write as a confirmation stores it.
pub type Change = Request<Value>;

/// The `metadata` key a write carries its confirmation id in, so its effect can be found in
/// Stripe when its outcome is unknown.
pub const CONFIRMATION_KEY: &str = "billing_bot_confirmation";

impl Change {
    /// The change carrying confirmation `id` in its object's metadata, where Stripe keeps
    /// metadata for it (a refund, a subscription or customer update).
    pub fn tagged(self, id: &str) -> Self {
        if self.takes_metadata() {
            self.set(format!("metadata[{CONFIRMATION_KEY}]"), id)
        } else {
            self
        }
    }

    fn takes_metadata(&self) -> bool {
        let segments: Vec<&str> = self.path.trim_start_matches('/').split('/').collect();
        self.method == Method::Post
            && matches!(
                segments.as_slice(),
                ["v1", "refunds"] | ["v1", "subscriptions", _] | ["v1", "customers", _]
            )
    }
}

/// How to find in Stripe whether a change already happened.
pub enum Trace {
    /// The object carries the confirmation id in its metadata.
    Tagged(Request<Value>),
    /// One of the listed objects carries it.
    Listed(Request<Value>),
    /// The object's `status` is the one the change leads to (requests that keep no
    /// metadata: paying an invoice, ending a subscription).
    Status(Request<Value>, &'static str),
}

/// Where `change`'s effect would show, for the changes this project makes.
pub fn trace_of(change: &Change) -> Option<Trace> {
    let segments: Vec<&str> = change.path.trim_start_matches('/').split('/').collect();
    Some(match (change.method, segments.as_slice()) {
        (Method::Post, ["v1", "refunds"]) => {
            let charge = change.params.get("charge")?;
            Trace::Listed(Request::get("/v1/refunds").set("charge", charge).limit(100))
        }
        (Method::Post, ["v1", "subscriptions", id]) => {
            Trace::Tagged(Request::get(format!("/v1/subscriptions/{id}")))
        }
        (Method::Post, ["v1", "customers", id]) => {
            Trace::Tagged(Request::get(format!("/v1/customers/{id}")))
        }
        (Method::Post, ["v1", "invoices", id, "pay"]) => {
            Trace::Status(Request::get(format!("/v1/invoices/{id}")), "paid")
        }
        (Method::Delete, ["v1", "subscriptions", id]) => {
            Trace::Status(Request::get(format!("/v1/subscriptions/{id}")), "canceled")
        }
        _ => return None,
    })
}

impl Trace {
    /// The object that shows the change of confirmation `id`, in what Stripe answered.
    pub fn matches(&self, found: Value, id: &str) -> Option<Value> {
        let tagged = |v: &Value| v["metadata"][CONFIRMATION_KEY] == id;
        match self {
            Trace::Tagged(_) => tagged(&found).then_some(found),
            Trace::Listed(_) => found["data"]
                .as_array()?
                .iter()
                .find(|v| tagged(v))
                .cloned(),
            Trace::Status(_, status) => (found["status"] == *status).then_some(found),
        }
    }
}

pub fn customer(id: &str) -> Request<Customer> {
    Request::get(format!("/v1/customers/{id}"))
}

/// Customers whose email is exactly `email` (current, unlike search).
pub fn customers_by_email(email: &str) -> Request<List<Customer>> {
    Request::get("/v1/customers").set("email", email)
}

pub fn search_customers(query: &str) -> Request<List<Customer>> {
    Request::get("/v1/customers/search").set("query", query)
}

pub fn balance_transactions(customer: &str) -> Request<List<BalanceTransaction>> {
    Request::get(format!("/v1/customers/{customer}/balance_transactions"))
}

pub fn update_customer(id: &str, fields: &CustomerUpdate) -> Request<Customer> {
    Request::post(format!("/v1/customers/{id}")).with(Params::form(fields))
}

pub fn subscription(id: &str) -> Request<Subscription> {
    Request::get(format!("/v1/subscriptions/{id}"))
}

pub fn subscriptions(customer: &str) -> Request<List<Subscription>> {
    Request::get("/v1/subscriptions").set("customer", customer)
}

pub fn update_subscription(id: &str, fields: &SubscriptionUpdate) -> Request<Subscription> {
    Request::post(format!("/v1/subscriptions/{id}")).with(Params::form(fields))
}

/// Ends a subscription at once (not undoable). Stripe's defaults, said out loud: no
/// proration credit for unused time and no final invoice.
pub fn cancel_subscription_now(id: &str) -> Request<Subscription> {
    Request::new(
        Method::Delete,
        format!("/v1/subscriptions/{id}"),
        Params::new(),
    )
    .set("prorate", "false")
    .set("invoice_now", "false")
}

pub fn price(id: &str) -> Request<Price> {
    Request::get(format!("/v1/prices/{id}"))
}

pub fn prices() -> Request<List<Price>> {
    Request::get("/v1/prices")
}

pub fn products() -> Request<List<Product>> {
    Request::get("/v1/products")
}

pub fn invoice(id: &str) -> Request<Invoice> {
    Request::get(format!("/v1/invoices/{id}"))
}

pub fn invoices(customer: &str) -> Request<List<Invoice>> {
    Request::get("/v1/invoices").set("customer", customer)
}

/// Pays an open invoice with the customer's saved default payment method.
pub fn pay_invoice(id: &str) -> Request<Invoice> {
    Request::post(format!("/v1/invoices/{id}/pay"))
}

pub fn send_invoice(id: &str) -> Request<Invoice> {
    Request::post(format!("/v1/invoices/{id}/send"))
}

/// The invoice Stripe would create next (changes nothing).
pub fn preview_invoice(customer: &str, fields: &InvoicePreview) -> Request<Invoice> {
    Request::post("/v1/invoices/create_preview")
        .set("customer", customer)
        .with(Params::form(fields))
}

/// The invoice payments made with a payment intent (how an invoice is found from what paid
/// it, since basil).
pub fn invoice_payments_of(intent: &str) -> Request<List<InvoicePayment>> {
    Request::get("/v1/invoice_payments")
        .set("payment[type]", "payment_intent")
        .set("payment[payment_intent]", intent)
}

pub fn charges(customer: &str) -> Request<List<Charge>> {
    Request::get("/v1/charges").set("customer", customer)
}

pub fn charge(id: &str) -> Request<Charge> {
    Request::get(format!("/v1/charges/{id}"))
}

pub fn payment_intent(id: &str) -> Request<PaymentIntent> {
    Request::get(format!("/v1/payment_intents/{id}"))
}

pub fn create_refund(fields: &RefundCreate) -> Request<Value> {
    Request::post("/v1/refunds").with(Params::form(fields))
}

/// A refund naming no charge: Stripe checks that the key may create refunds, then refuses
/// it for its parameters. How a key is probed without refunding anything.
pub fn create_refund_of_nothing() -> Request<Value> {
    Request::post("/v1/refunds")
}

pub fn portal_session(customer: &str, fields: &PortalSessionCreate) -> Request<PortalSession> {
    Request::post("/v1/billing_portal/sessions")
        .set("customer", customer)
        .with(Params::form(fields))
}

pub fn promotion_codes() -> Request<List<PromotionCode>> {
    Request::get("/v1/promotion_codes")
}

/// `POST /v1/checkout/sessions` with nothing set (the key probe's; a real one is
/// [`create_checkout_session`]).
pub fn checkout_sessions() -> Request<CheckoutSession> {
    Request::post("/v1/checkout/sessions")
}

pub fn create_checkout_session(fields: &CheckoutSessionCreate) -> Request<CheckoutSession> {
    checkout_sessions().with(Params::form(fields))
}

pub fn list_checkout_sessions() -> Request<List<CheckoutSession>> {
    Request::get("/v1/checkout/sessions")
}

pub fn expire_checkout_session(id: &str) -> Request<CheckoutSession> {
    Request::post(format!("/v1/checkout/sessions/{id}/expire"))
}

pub fn portal_configurations() -> Request<List<PortalConfiguration>> {
    Request::get("/v1/billing_portal/configurations")
}

pub fn webhook_endpoints() -> Request<List<WebhookEndpoint>> {
    Request::get("/v1/webhook_endpoints")
}

pub fn create_webhook_endpoint(fields: &WebhookEndpointCreate) -> Request<WebhookEndpoint> {
    Request::post("/v1/webhook_endpoints").with(Params::form(fields))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::stripe::writes::ItemChange;

    #[test]
    fn a_stored_change_round_trips_as_sent() {
        let change = update_subscription(
            "sub_1",
            &SubscriptionUpdate {
                items: vec![ItemChange {
                    id: "si_1".into(),
                    price: "price_2".into(),
                }],
                ..Default::default()
            },
        )
        .untyped();
        let stored = serde_json::to_value(&change).unwrap();
        assert_eq!(stored["method"], "POST");
        assert_eq!(stored["path"], "/v1/subscriptions/sub_1");
        let back: Change = serde_json::from_value(stored).unwrap();
        assert_eq!(back, change);
    }
}
