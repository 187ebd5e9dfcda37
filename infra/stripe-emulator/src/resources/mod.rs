//! `/v1` resources: routing by method and path segments, one module per resource.
//!
//! Resources turn a request into a change. Billing arithmetic (invoices, payment,
//! prorations, discounts) lives in `billing`, which subscriptions, previews, invoices and
//! the clock (`lifecycle`) call and which calls none of them back.

pub mod balance;
pub mod billing;
pub mod checkout;
pub mod coupons;
pub mod customers;
pub mod invoice_items;
pub mod invoices;
pub mod lifecycle;
pub mod payment_methods;
pub mod payments;
pub mod portal;
pub mod preview;
pub mod prices;
pub mod products;
pub mod refunds;
pub mod subscription_update;
pub mod subscriptions;
mod unmodeled;
pub mod webhooks;

use serde_json::Value;

use crate::errors::{ApiError, ApiResult};
use crate::params::Params;
use crate::render::render;
use crate::store::Ctx;

pub fn dispatch(ctx: &mut Ctx, method: &str, segs: &[&str], p: &Params) -> ApiResult<Value> {
    if let Some(name) = unmodeled::find(method, segs, p) {
        return Err(ApiError::not_modeled(name));
    }
    match (method, segs) {
        ("POST", ["customers"]) => customers::create(ctx, p),
        ("GET", ["customers"]) => customers::list(ctx, p),
        ("GET", ["customers", "search"]) => customers::search(ctx, p),
        ("GET", ["customers", id]) => customers::retrieve(ctx, id, p),
        ("POST", ["customers", id]) => customers::update(ctx, id, p),
        ("DELETE", ["customers", id]) => customers::delete(ctx, id, p),
        ("GET", ["customers", id, "payment_methods"]) => payment_methods::list_for(ctx, id, p),
        ("POST", ["customers", id, "balance_transactions"]) => balance::create(ctx, id, p),
        ("GET", ["customers", id, "balance_transactions"]) => balance::list(ctx, id, p),
        ("GET", ["customers", id, "balance_transactions", txn]) => {
            balance::retrieve(ctx, id, txn, p)
        }

        ("POST", ["products"]) => products::create(ctx, p),
        ("GET", ["products"]) => products::list(ctx, p),
        ("GET", ["products", id]) => products::retrieve(ctx, id, p),
        ("POST", ["products", id]) => products::update(ctx, id, p),

        ("POST", ["prices"]) => prices::create(ctx, p),
        ("GET", ["prices"]) => prices::list(ctx, p),
        ("GET", ["prices", id]) => prices::retrieve(ctx, id, p),
        ("POST", ["prices", id]) => prices::update(ctx, id, p),

        ("GET", ["payment_methods"]) => payment_methods::list(ctx, p),
        ("GET", ["payment_methods", id]) => payment_methods::retrieve(ctx, id, p),
        ("POST", ["payment_methods", id]) => payment_methods::update(ctx, id, p),
        ("POST", ["payment_methods", id, "attach"]) => payment_methods::attach(ctx, id, p),
        ("POST", ["payment_methods", id, "detach"]) => payment_methods::detach(ctx, id, p),

        ("POST", ["subscriptions"]) => subscriptions::create(ctx, p),
        ("GET", ["subscriptions"]) => subscriptions::list(ctx, p),
        ("GET", ["subscriptions", id]) => subscriptions::retrieve(ctx, id, p),
        ("POST", ["subscriptions", id]) => subscription_update::update(ctx, id, p),
        ("DELETE", ["subscriptions", id]) => subscriptions::cancel(ctx, id, p),

        ("POST", ["coupons"]) => coupons::create_coupon(ctx, p),
        ("GET", ["coupons"]) => coupons::list_coupons(ctx, p),
        ("GET", ["coupons", id]) => coupons::retrieve_coupon(ctx, id, p),
        ("POST", ["coupons", id]) => coupons::update_coupon(ctx, id, p),
        ("POST", ["promotion_codes"]) => coupons::create_promotion_code(ctx, p),
        ("GET", ["promotion_codes"]) => coupons::list_promotion_codes(ctx, p),
        ("GET", ["promotion_codes", id]) => coupons::retrieve_promotion_code(ctx, id, p),
        ("POST", ["promotion_codes", id]) => coupons::update_promotion_code(ctx, id, p),

        ("GET", ["invoiceitems"]) => invoice_items::list(ctx, p),
        ("GET", ["invoiceitems", id]) => invoice_items::retrieve(ctx, id, p),

        ("GET", ["invoices"]) => invoices::list(ctx, p),
        ("POST", ["invoices", "create_preview"]) => preview::create(ctx, p),
        ("GET", ["invoices", id]) => invoices::retrieve(ctx, id, p),
        ("GET", ["invoices", id, "lines"]) => invoices::lines(ctx, id, p),
        ("POST", ["invoices", id, "pay"]) => invoices::pay(ctx, id, p),
        ("POST", ["invoices", id, "send"]) => invoices::send(ctx, id, p),
        ("POST", ["invoices", id, "void"]) => invoices::void(ctx, id, p),
        ("GET", ["invoice_payments"]) => invoices::list_payments(ctx, p),
        ("GET", ["invoice_payments", id]) => simple_retrieve(ctx, "invoice_payment", id, p),

        ("GET", ["payment_intents"]) => payments::list_intents(ctx, p),
        ("GET", ["payment_intents", id]) => simple_retrieve(ctx, "payment_intent", id, p),
        ("POST", ["webhook_endpoints"]) => webhooks::create(ctx, p),
        ("GET", ["webhook_endpoints"]) => webhooks::list(ctx, p),
        ("GET", ["webhook_endpoints", id]) => webhooks::retrieve(ctx, id, p),
        ("POST", ["webhook_endpoints", id]) => webhooks::update(ctx, id, p),
        ("DELETE", ["webhook_endpoints", id]) => webhooks::delete(ctx, id, p),
        ("GET", ["events"]) => webhooks::list_events(ctx, p),
        ("GET", ["events", id]) => simple_retrieve(ctx, "event", id, p),
        ("POST", ["payment_intents"]) => payments::create(ctx, p),
        ("POST", ["payment_intents", id, "confirm"]) => payments::confirm(ctx, id, p),
        ("POST", ["payment_intents", id, "cancel"]) => payments::cancel(ctx, id, p),
        ("GET", ["charges"]) => payments::list_charges(ctx, p),
        ("POST", ["refunds"]) => refunds::create(ctx, p),
        ("GET", ["refunds"]) => refunds::list(ctx, p),
        ("GET", ["refunds", id]) => simple_retrieve(ctx, "refund", id, p),
        ("GET", ["charges", id]) => simple_retrieve(ctx, "charge", id, p),
        ("POST", ["billing_portal", "sessions"]) => portal::create(ctx, p),
        ("POST", ["billing_portal", "configurations"]) => portal::create_configuration(ctx, p),
        ("GET", ["billing_portal", "configurations"]) => portal::list_configurations(ctx, p),
        ("GET", ["billing_portal", "configurations", id]) => {
            portal::retrieve_configuration(ctx, id, p)
        }
        ("POST", ["billing_portal", "configurations", id]) => {
            portal::update_configuration(ctx, id, p)
        }
        ("POST", ["checkout", "sessions"]) => checkout::create(ctx, p),
        ("GET", ["checkout", "sessions"]) => checkout::list(ctx, p),
        ("GET", ["checkout", "sessions", id]) => checkout::retrieve(ctx, id, p),
        ("POST", ["checkout", "sessions", id, "expire"]) => checkout::expire(ctx, id, p),
        ("GET", ["balance_transactions", id]) => simple_retrieve(ctx, "balance_transaction", id, p),

        _ => Err(ApiError::unrecognized_url(
            method,
            &format!("/v1/{}", segs.join("/")),
        )),
    }
}

fn simple_retrieve(ctx: &mut Ctx, kind: &str, id: &str, p: &Params) -> ApiResult<Value> {
    p.allow(&[])?;
    ctx.acct.fetch(kind, id, "id").map(|v| render(ctx.acct, &v))
}
