//! New subscriptions through Stripe Checkout, for a free or lapsed user:
//! - `start_subscription` (the visitor's tool): a Checkout Session (`mode=subscription`) for a
//!   price the tenant allows, optionally with a promotion code the tenant allows;
//! - `POST /v1/{tenant}/agent/checkout` (an agent, "send a subscription"): the same link for
//!   a customer the agent names, by id or email.
//!
//! Nothing is charged here: the customer pays on Stripe's page. A visitor who is not a
//! Stripe customer yet goes with their verified email and `client_reference_id` = their
//! user id; the `checkout.session.completed` webhook maps that user to the new customer
//! (`crate::endpoints::stripe_webhook`), so their next call finds it.
use std::collections::BTreeMap;

use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::auth::identity::Visitor;
use crate::billing::money::Money;
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject, Tool};
use crate::ports::tenants::TenantConfig;
use crate::stripe::api::{self, Need};
use crate::stripe::ids::{CustomerId, PriceId};
use crate::stripe::types::{Price, SubscriptionStatus};
use crate::stripe::writes::{
    CheckoutDiscount, CheckoutLine, CheckoutSessionCreate, CheckoutSubscriptionData,
};
use crate::timefmt::rfc3339;

/// The metadata key a session we made carries its user id under: the webhook maps only
/// sessions that carry it, so another checkout of the merchant's cannot map a user.
pub const USER_KEY: &str = "billing_tools_user";

const NEEDS: &[Need] = &[
    Need::Customer,
    Need::Subscriptions,
    Need::Prices,
    Need::PromotionCodes,
    Need::CheckoutSession,
];

#[derive(Default)]
pub struct StartSubscription;

#[derive(Debug, Deserialize, Serialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct StartSubscriptionArgs {
    /// The plan to start: a `price_id` from `get_available_plans`.
    pub price_id: PriceId,
    /// A promotion code the visitor has (e.g. `WELCOME10`).
    #[serde(default)]
    pub code: Option<String>,
}

fn check_code(code: &Option<String>) -> Result<(), ApiError> {
    match code {
        Some(c) if c.trim().is_empty() || c.len() > 64 => Err(ApiError::invalid_request(
            "Invalid field `code`: a promotion code is 1 to 64 characters.",
        )
        .with_reason("invalid_field")),
        _ => Ok(()),
    }
}

impl Tool for StartSubscription {
    const NAME: &'static str = "start_subscription";
    const DESCRIPTION: &'static str = "For a visitor with no live subscription (a free or lapsed user): a secure Stripe Checkout link to start a plan (price_id from get_available_plans), optionally with a promotion code. Nothing is charged until they pay on Stripe's page.";
    const NEEDS: &'static [Need] = NEEDS;
    const READ_ONLY: bool = false;
    /// A visitor who is not a Stripe customer yet is who this tool is for.
    const NEW_CUSTOMERS: bool = true;
    type Args = StartSubscriptionArgs;

    fn validate(args: &Self::Args) -> Result<(), ApiError> {
        check_code(&args.code)
    }

    async fn run<'a>(&'a self, call: &'a Call<'a>, args: Self::Args) -> Result<Answer, ApiError> {
        let mut metadata = BTreeMap::new();
        metadata.insert(USER_KEY.to_string(), call.visitor.user_id.clone());
        link(
            call,
            &args.price_id,
            args.code.as_deref(),
            call.visitor,
            metadata,
        )
        .await
    }
}

/// The agent's "send a subscription".
#[derive(Default)]
pub struct AgentCheckout;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgentCheckoutArgs {
    #[serde(default)]
    pub customer_id: Option<CustomerId>,
    #[serde(default)]
    pub email: Option<String>,
    pub price_id: PriceId,
    #[serde(default)]
    pub code: Option<String>,
}

impl Endpoint for AgentCheckout {
    const NAME: &'static str = "agent_checkout";
    const ADMITS: Admits = Admits::Agents;
    const ROUTE: &'static [&'static str] = &["agent", "checkout"];
    const SHAPE: Shape = Shape::PlainWithSummary;
    const NEEDS: &'static [Need] = NEEDS;
    const NEW_CUSTOMERS: bool = true;
    type Input = AgentCheckoutArgs;

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<AgentCheckoutArgs, ApiError> {
        let parsed: AgentCheckoutArgs = serde_json::from_slice(req.body).map_err(|e| {
            ApiError::invalid_request(format!(
                "The body must be {{\"customer_id\" or \"email\", \"price_id\", \"code\"?}}: {e}"
            ))
            .with_reason("invalid_field")
        })?;
        match (&parsed.customer_id, &parsed.email) {
            (Some(_), Some(_)) | (None, None) => {
                return Err(ApiError::invalid_request(
                    "Name the customer by `customer_id` or by `email`, one of the two.",
                )
                .with_reason("invalid_field"));
            }
            (None, Some(e)) if !crate::ports::tenants::plain_email(e) => {
                return Err(ApiError::invalid_request(
                    "Invalid field `email`: an email address such as ana@example.com.",
                )
                .with_reason("invalid_field"));
            }
            _ => {}
        }
        check_code(&parsed.code)?;
        *audited = json!({"customer_id": parsed.customer_id, "price_id": parsed.price_id,
                          "email": parsed.email.as_deref().map(crate::ports::audit::mask_email),
                          "code": parsed.code.is_some()});
        Ok(parsed)
    }

    fn subject(caller: &Caller, input: &AgentCheckoutArgs) -> Option<Subject> {
        Some(match (&input.customer_id, &input.email) {
            (Some(id), _) => Subject::Customer(id.to_string()),
            // Found by email as a visitor is (one match, or a new customer on Stripe's page).
            (None, email) => Subject::Visitor(Visitor {
                user_id: caller.actor(),
                email: email.clone(),
                stripe_customer_id: None,
            }),
        })
    }

    /// The merchant's own staff asking; the tenant's prices and codes still bound it.
    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(
        &'a self,
        call: &'a Call<'a>,
        input: AgentCheckoutArgs,
    ) -> Result<Reply, ApiError> {
        let mut metadata = BTreeMap::new();
        metadata.insert("sent_by".to_string(), call.caller.actor());
        let visitor = Visitor {
            user_id: call.caller.actor(),
            email: input.email.clone(),
            stripe_customer_id: None,
        };
        link(
            call,
            &input.price_id,
            input.code.as_deref(),
            &visitor,
            metadata,
        )
        .await
        .map(Reply::done)
    }
}

/// Whether a subscription in this status is still the customer's (a new one would be a
/// second).
fn live(status: &SubscriptionStatus) -> bool {
    !matches!(
        status,
        SubscriptionStatus::Canceled | SubscriptionStatus::IncompleteExpired
    )
}

/// "$49.00/month".
fn price_phrase(p: &Price) -> String {
    let money = Money::new(p.unit_amount.unwrap_or(0), &p.currency).formatted;
    match &p.recurring {
        Some(r) if r.interval_count == 1 => format!("{money}/{}", r.interval),
        Some(r) => format!("{money} every {} {}s", r.interval_count, r.interval),
        None => money,
    }
}

/// The Checkout link: the tenant's bounds (an allowed recurring price, an allowed code, no
/// live subscription), then one session.
async fn link(
    call: &Call<'_>,
    price_id: &PriceId,
    code: Option<&str>,
    visitor: &Visitor,
    metadata: BTreeMap<String, String>,
) -> Result<Answer, ApiError> {
    let tenant = call.tenant;
    if tenant.allowed_prices.is_empty() {
        return Err(ApiError::policy_denied(
            "no_prices_allowed",
            "Plans can't be started here; a person from our support team can help.",
        ));
    }
    if !tenant.allowed_prices.iter().any(|p| **price_id == *p) {
        return Err(ApiError::policy_denied(
            "price_not_allowed",
            "That plan isn't one offered here; get_available_plans lists the ones that are.",
        ));
    }
    let Some(success_url) = tenant.return_url.clone() else {
        return Err(ApiError::policy_denied(
            "no_return_url",
            "Checkout isn't set up for this account yet (it needs a return URL); a person from our support team can help.",
        ));
    };
    let code = code.map(str::trim);
    if let Some(c) = code {
        let allowed = &tenant.policy.allowed_codes;
        if !allowed.is_empty() && !allowed.iter().any(|a| a.eq_ignore_ascii_case(c)) {
            return Err(ApiError::policy_denied(
                "code_not_allowed",
                "That code can't be used here; a person from support can help.",
            ));
        }
    }
    let customer = Some(call.customer_id).filter(|c| !c.is_empty());
    let subs = async {
        match customer {
            Some(c) => call.stripe.get(&api::subscriptions(c)).await.map(Some),
            None => Ok(None),
        }
    };
    let promo = async {
        match code {
            Some(c) => call
                .stripe
                .get(
                    &api::promotion_codes()
                        .set("code", c)
                        .set("active", "true")
                        .limit(1),
                )
                .await
                .map(Some),
            None => Ok(None),
        }
    };
    // The person's links still open: a new one expires them, so at most one can be paid
    // (two open links would make two subscriptions).
    let earlier = async {
        let list = api::list_checkout_sessions()
            .set("status", "open")
            .limit(10);
        let list = match (customer, &visitor.email) {
            (Some(c), _) => list.set("customer", c),
            (None, Some(e)) => list.set("customer_details[email]", e),
            (None, None) => return Ok(None),
        };
        call.stripe.get(&list).await.map(Some)
    };
    let price_req = api::price(price_id);
    let (price, subs, promo, earlier) =
        futures::join!(call.stripe.get(&price_req), subs, promo, earlier);
    let price = price.map_err(ApiError::from)?;
    if !price.active || price.recurring.is_none() {
        return Err(ApiError::invalid_request(
            "That price can't be subscribed to (it is inactive or not recurring).",
        )
        .with_reason("price_unavailable"));
    }
    if let Some(subs) = subs.map_err(ApiError::from)?
        && subs.data.iter().any(|s| live(&s.status))
    {
        return Err(ApiError::policy_denied(
            "already_subscribed",
            "You already have a subscription; I can change its plan instead (change_plan).",
        ));
    }
    let discounts = match promo.map_err(ApiError::from)? {
        None => Vec::new(),
        Some(list) => match list.data.into_iter().next() {
            Some(p) if p.customer.as_deref().is_none_or(|c| Some(c) == customer) => {
                vec![CheckoutDiscount {
                    promotion_code: p.id,
                }]
            }
            _ => {
                return Err(ApiError::invalid_request(
                    "That promotion code doesn't exist or can't be used any more; please check how it is written.",
                )
                .with_reason("code_unknown"));
            }
        },
    };
    let earlier: Vec<String> = earlier
        .map_err(ApiError::from)?
        .map(|l| {
            l.data
                .into_iter()
                .filter(|s| s.mode == "subscription")
                .map(|s| s.id)
                .collect()
        })
        .unwrap_or_default();
    for id in &earlier {
        match call
            .stripe
            .post(
                &api::expire_checkout_session(id),
                &format!("{}:expire:{id}", call.request_id),
            )
            .await
        {
            Ok(_) => {}
            // Completed or expired meanwhile: nothing left to expire.
            Err(e) if e.status() == Some(400) => {}
            Err(e) => return Err(e.into()),
        }
    }
    let fields = CheckoutSessionCreate {
        mode: "subscription",
        line_items: vec![CheckoutLine {
            price: price_id.to_string(),
            quantity: 1,
        }],
        customer: customer.map(str::to_string),
        // Not a customer yet: Stripe makes one from the verified email (or asks for one).
        customer_email: match customer {
            Some(_) => None,
            None => visitor.email.clone(),
        },
        client_reference_id: match customer {
            Some(_) => None,
            None => Some(visitor.user_id.clone()).filter(|u| u.len() <= 200),
        },
        success_url: success_url.clone(),
        cancel_url: Some(success_url),
        discounts,
        subscription_data: Some(CheckoutSubscriptionData {
            metadata: metadata.clone(),
        }),
        expires_at: None,
    };
    let mut params = api::create_checkout_session(&fields);
    for (k, v) in &metadata {
        params = params.set(format!("metadata[{k}]"), v);
    }
    let session = call
        .stripe
        .post(&params, &format!("{}:checkout", call.request_id))
        .await
        .map_err(ApiError::from)?;
    let url = session.url.unwrap_or_default();
    let plan = price_phrase(&price);
    Ok(Answer {
        data: json!({
            "url": url, "expires_at": rfc3339(session.expires_at),
            "session_id": session.id, "price_id": price_id, "price": plan,
            "code": code, "new_customer": customer.is_none(), "expired_earlier": earlier.len(),
        }),
        summary: format!(
            "Here's a secure Stripe Checkout link to start the plan at {plan}{}: {url}. Nothing is charged until you pay there; the link works until {}.",
            if code.is_some() {
                " with your code"
            } else {
                ""
            },
            call.dates.time(session.expires_at)
        ),
    })
}
