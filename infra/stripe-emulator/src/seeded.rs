//! What a new account holds before any request: the objects Stripe makes for an account
//! itself (below the store and the resources, which both read them).
use rand::Rng;
use rand::distr::Alphanumeric;
use serde_json::{Value, json};

fn alnum(len: usize) -> String {
    rand::rng()
        .sample_iter(&Alphanumeric)
        .take(len)
        .map(char::from)
        .collect()
}

/// The configuration an account has once its portal settings were saved (every account
/// starts so; `POST /_emulator/portal/unconfigured` takes them away, as on an account that
/// never saved them): invoices, card updates and cancellation on, plan changes off.
pub fn portal_configuration(now: i64) -> Value {
    json!({
        "id": format!("bpc_{}", alnum(24)), "object": "billing_portal.configuration",
        "active": true, "application": null,
        "business_profile": {"headline": null, "privacy_policy_url": null,
                             "terms_of_service_url": null},
        "created": now, "default_return_url": null,
        "features": {
            "customer_update": {"allowed_updates": ["email", "address", "phone"], "enabled": true},
            "invoice_history": {"enabled": true},
            "payment_method_update": {"enabled": true, "payment_method_configuration": null},
            "subscription_cancel": {
                "cancellation_reason": {"enabled": false, "feedback_options": null,
                                        "options": []},
                "enabled": true, "mode": "at_period_end", "proration_behavior": "none",
            },
            "subscription_pause": {
                "duration": {"interval_options": [], "type": "indefinite"}, "enabled": false,
            },
            "subscription_update": {
                "billing_cycle_anchor": null, "default_allowed_updates": [], "enabled": false,
                "products": [], "proration_behavior": "none",
                "schedule_at_period_end": {"conditions": []},
                "trial_update_behavior": "end_trial",
            },
        },
        "is_default": true, "livemode": false,
        "login_page": {"enabled": false, "url": null},
        "metadata": {}, "name": null, "updated": now,
    })
}
