//! `GET /v1/{tenant}/agent/insight?customer_id=|email=|user_id=`: what a support agent needs
//! at a glance, gathered with independent requests in parallel. Only agent tokens (signed
//! with the tenant's agent secret, `role: "agent"`) are accepted.
use std::collections::HashMap;
use std::time::Instant;

use lambda_http::{Body, Request, RequestExt, Response};
use serde_json::{Value, json};

use crate::customer;
use crate::error::ApiError;
use crate::identity::{self, Visitor};
use crate::pipeline::{App, Trail, record, request_id, tenant, tenant_route};
use crate::response;
use crate::stripe::Params;
use crate::stripe::types::{Invoice, List, Subscription};
use crate::timefmt::{human_date, now_unix, rfc3339};
use crate::tools::common::{card_phrase, invoice, missing_customer, saved_card};
use crate::tools::fetch_customer;
use crate::tools::subscription_status::{
    next_payment, plan_name, price_phrase, product_names, relevant, view,
};

pub const NAME: &str = "agent_insight";
const RECENT_ACTIONS: usize = 10;

pub async fn handle(app: &App, req: Request) -> Response<Body> {
    let started = Instant::now();
    let request_id = request_id(&req);
    let mut trail = Trail::default();
    let result = run(app, &req, &mut trail).await;
    record(app, NAME, trail, &result, &request_id, started).await;
    match result {
        Ok(body) => response::ok(body, &request_id),
        Err(e) => response::failure(&e, &request_id),
    }
}

async fn run(app: &App, req: &Request, trail: &mut Trail) -> Result<Value, ApiError> {
    let tenant_id = tenant_route(req.uri().path(), &["agent", "insight"])?;
    let (config, secrets) = tenant(app, tenant_id).await?;
    trail.tenant = Some(config.tenant.clone());
    let token = req
        .headers()
        .get("authorization")
        .ok_or_else(ApiError::identity_required)?
        .to_str()
        .ok()
        .and_then(|v| v.strip_prefix("Bearer "))
        .ok_or_else(|| ApiError::identity_invalid("malformed_authorization"))?;
    let claims = identity::verify_jwt(
        token.trim(),
        &config.tenant,
        &secrets.agent_secrets,
        config.max_token_lifetime_secs,
        now_unix(),
    )?;
    if claims.role.as_deref() != Some("agent") {
        return Err(ApiError::identity_invalid("not_an_agent"));
    }
    let agent = claims.sub.unwrap_or_default();
    trail.actor = Some(format!("agent:{agent}"));

    let query = req.query_string_parameters();
    let (customer_id, email, user_id) = (
        query.first("customer_id"),
        query.first("email"),
        query.first("user_id"),
    );
    trail.args = json!({"customer_id": customer_id, "email": email, "user_id": user_id});
    let given = [customer_id, email, user_id]
        .iter()
        .filter(|v| v.is_some())
        .count();
    if given != 1 {
        return Err(ApiError::invalid_request(
            "Give exactly one of `customer_id`, `email` or `user_id`.",
        )
        .with_reason("invalid_field"));
    }
    let stripe = app.stripe.session(secrets.stripe_key.clone());
    // The agent names the customer the way a visitor's token would.
    let lookup = Visitor {
        user_id: user_id.unwrap_or_default().to_string(),
        email: email.map(str::to_string),
        stripe_customer_id: customer_id.map(str::to_string),
    };
    if let Some(id) = customer_id {
        crate::tools::check_id("customer_id", id, "cus_")?;
    }
    let outcome = async {
        let customer_id = customer::resolve(&stripe, app.tenants.store(), &config, &lookup).await?;
        trail.customer = Some(customer_id.clone());
        trail.reached_tool = true;
        let sub_params = Params::new()
            .set("customer", &customer_id)
            .set("status", "all")
            .set("limit", 10)
            .expand("data.latest_invoice");
        let inv_params = Params::new().set("customer", &customer_id).set("limit", 5);
        let (customer, subs, invoices, actions) = futures::join!(
            fetch_customer(&stripe, &customer_id),
            stripe.get::<List<Subscription>>("/v1/subscriptions", &sub_params),
            stripe.get::<List<Invoice>>("/v1/invoices", &inv_params),
            app.audit
                .recent(&config.tenant, &customer_id, RECENT_ACTIONS),
        );
        let customer = customer?;
        let subs = subs.map_err(missing_customer)?.data;
        let invoices = invoices.map_err(missing_customer)?.data;
        let actions = actions.unwrap_or_else(|e| {
            tracing::warn!(error = %e, "audit log unavailable for insight");
            Vec::new()
        });
        let names: HashMap<String, String> =
            product_names(app, &config.tenant, &stripe, &subs).await?;
        let shown = relevant(&subs);
        let card = customer.default_card();
        let next_billing = shown.iter().filter_map(|s| next_payment(s)).min();
        let who = customer
            .name
            .clone()
            .or(customer.email.clone())
            .unwrap_or_else(|| customer_id.clone());
        // Said to the agent about the customer, not to the customer.
        let plan = match shown.first() {
            Some(s) => format!(
                "{} ({}), {}",
                plan_name(s, &names),
                price_phrase(s),
                s.status.replace('_', " ")
            ),
            None => "no subscription".into(),
        };
        let mut summary = format!("{who}: {plan}.");
        if let Some(t) = next_billing {
            summary.push_str(&format!(" Next billing {}.", human_date(t)));
        }
        if let Some(c) = card {
            summary.push_str(&format!(" Card: {}.", card_phrase(&c.brand, &c.last4)));
        }
        Ok::<_, ApiError>(json!({
            "customer": {"id": customer.id, "name": customer.name, "email": customer.email},
            "subscriptions": shown.iter().map(|s| view(s, &names)).collect::<Vec<_>>(),
            "invoices": invoices.iter().map(invoice).collect::<Vec<_>>(),
            "payment_method": card.map(saved_card),
            "next_billing_date": next_billing.and_then(rfc3339),
            "recent_actions": actions.iter().map(|a| json!({
                "time": a.time, "tool": a.tool, "actor": a.actor,
                "decision": a.decision, "outcome": a.outcome, "reason": a.reason,
            })).collect::<Vec<_>>(),
            "summary": summary,
        }))
    }
    .await;
    trail.stripe_request_ids = stripe.request_ids();
    trail.stripe_requests = stripe.request_count();
    outcome
}
