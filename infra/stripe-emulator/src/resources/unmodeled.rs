//! Parameters Stripe documents for the endpoints the product uses (stripe-python 16.1.0's
//! typed params) that the emulator does not model: taxes, shipping, Connect, billing
//! schedules, tiers. A request with one is refused with a plain message naming it, never
//! taken and silently ignored (a test would pass against behaviour Stripe does not have)
//! and never called unknown (Stripe knows it). `tests/e2e/test_stripe_params.py` checks
//! that no documented parameter is refused as unknown.
use crate::params::Params;

/// The first unmodeled parameter `p` carries for `method` on `segs`, if any.
pub fn find(method: &str, segs: &[&str], p: &Params) -> Option<&'static str> {
    let names: &[&str] = match (method, segs) {
        ("POST", ["customers"]) => &[
            "cash_balance",
            "next_invoice_sequence",
            "shipping",
            "source",
            "tax",
            "tax_id_data",
            "test_clock",
            "validate",
        ],
        ("POST", ["customers", _]) => &[
            "cash_balance",
            "default_source",
            "invoice_prefix",
            "next_invoice_sequence",
            "shipping",
            "source",
            "tax",
            "validate",
        ],
        ("POST", ["subscriptions"]) => &[
            "add_invoice_items",
            "application_fee_percent",
            "automatic_tax",
            "backdate_start_date",
            "billing_cycle_anchor",
            "billing_cycle_anchor_config",
            "billing_mode",
            "billing_schedules",
            "billing_thresholds",
            "cancel_at",
            "currency",
            "customer_account",
            "default_source",
            "default_tax_rates",
            "invoice_settings",
            "on_behalf_of",
            "pending_invoice_item_interval",
            "transfer_data",
            "trial_from_plan",
            "trial_settings",
        ],
        ("POST", ["subscriptions", _]) => &[
            "add_invoice_items",
            "application_fee_percent",
            "automatic_tax",
            "billing_cycle_anchor",
            "billing_schedules",
            "billing_thresholds",
            "collection_method",
            "default_source",
            "default_tax_rates",
            "invoice_settings",
            "on_behalf_of",
            "payment_settings",
            "pending_invoice_item_interval",
            "transfer_data",
            "trial_from_plan",
            "trial_settings",
        ],
        ("GET", ["subscriptions"]) => &[
            "automatic_tax",
            "current_period_end",
            "current_period_start",
            "customer_account",
            "plan",
        ],
        ("GET", ["invoices"]) => &["customer_account"],
        ("POST", ["invoices", "create_preview"]) => {
            &["customer_account", "schedule", "schedule_details"]
        }
        ("GET", ["invoice_payments"]) => &["created"],
        ("GET", ["payment_intents"]) => &["customer_account"],
        ("GET", ["payment_intents", _]) => &["client_secret"],
        ("POST", ["refunds"]) => &["currency", "customer"],
        ("POST", ["billing_portal", "sessions"]) => &["after_expiration", "customer_account"],
        ("POST", ["prices"]) => &[
            "currency_options",
            "custom_unit_amount",
            "tiers",
            "tiers_mode",
            "transform_quantity",
        ],
        ("POST", ["products"]) => &[
            "default_price_data",
            "images",
            "marketing_features",
            "package_dimensions",
            "shippable",
            "statement_descriptor",
            "tax_code",
            "tax_details",
            "type",
        ],
        ("GET", ["products"]) => &["type"],
        _ => &[],
    };
    names.iter().copied().find(|n| p.has(n))
}
