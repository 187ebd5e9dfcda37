//! The pay-now page a failed payment's email links to (`crate::edge::pay` draws it):
//! - `GET /v1/{tenant}/pay/{token}`: the invoice and the saved card (brand, last 4, expiry);
//! - `POST /v1/{tenant}/pay/{token}/confirm`: pays it, once, through `retry_payment`'s own
//!   write (ownership, the policy and its bounds, the idempotency key, the audit);
//! - `GET /v1/{tenant}/pay/{token}/card`: a Billing Portal session to update the card,
//!   made on the click (a session lives minutes; the email's link lives 72 hours).
//!
//! The token is the credential: random, single-use for paying, bound to one invoice of one
//! customer, 72 hours; only its hash is stored. A forged, reused or expired one pays
//! nothing.
use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::endpoints::write::{RetryPayment, RetryPaymentArgs};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject};
use crate::pipeline::notify::pay_link_id;
use crate::pipeline::two_phase::{Plan, WriteTool, at_once};
use crate::ports::notices::PayLink;
use crate::ports::tenants::TenantConfig;
use crate::stripe::api::{self, Need};
use crate::stripe::ids::InvoiceId;
use crate::stripe::writes::{FlowData, PortalFlow, PortalSessionCreate};
use crate::timefmt::now_unix;

/// The token from `/v1/{tenant}/pay/{token}[/...]`.
pub struct Token(String);

fn token_of(req: &Incoming<'_>, audited: &mut Value) -> Result<Token, ApiError> {
    let segments: Vec<&str> = req.path.trim_end_matches('/').split('/').collect();
    let token = segments
        .iter()
        .position(|s| *s == "pay")
        .and_then(|i| segments.get(i + 1))
        .filter(|t| {
            t.starts_with("pl_")
                && t.len() <= 64
                && t[3..]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        })
        .ok_or_else(invalid)?;
    // The token is a credential: the audit keeps that one was given, never it.
    *audited = json!({"token": "[redacted]"});
    Ok(Token(token.to_string()))
}

fn invalid() -> ApiError {
    ApiError::not_found("This payment link is not valid.").with_reason("pay_link_invalid")
}

/// The link a token stands for, whatever its state.
async fn link(call: &Call<'_>, token: &Token) -> Result<PayLink, ApiError> {
    call.app
        .state
        .pay_link(&call.tenant.tenant, &pay_link_id(&token.0))
        .await?
        .ok_or_else(invalid)
}

fn state_only(state: &str, summary: &str) -> Reply {
    Reply::done(Answer {
        data: json!({"state": state}),
        summary: summary.into(),
    })
}

const EXPIRED: &str = "This payment link has expired. Your invoice can still be paid from your account, or ask our support team.";
const USED: &str = "This payment link was used already, so nothing more was charged.";

fn merchant(t: &TenantConfig) -> String {
    t.notify.name.clone().unwrap_or_else(|| t.tenant.clone())
}

/// The call as the link's customer's (the pipeline knew only the tenant).
macro_rules! as_customer {
    ($call:expr, $link:expr, $visitor:ident, $inner:ident) => {
        let $visitor = $call.caller.as_visitor(Some(&$link.customer));
        let $inner = Call {
            visitor: &$visitor,
            customer_id: &$link.customer,
            ..*$call
        };
    };
}

fn args_for(link: &PayLink) -> Result<RetryPaymentArgs, ApiError> {
    let id: InvoiceId = serde_json::from_value(json!(link.invoice)).map_err(|_| invalid())?;
    Ok(RetryPaymentArgs {
        invoice_id: Some(id),
    })
}

/// What the three routes share: the token from the path is the credential, the customer is
/// known only once the link is read (`as_customer!`), and a route is served wherever a link
/// was sent (the tenant emailed it).
macro_rules! link_route {
    ($ty:ident, $name:literal, $method:literal, $route:expr, $needs:expr) => {
        impl Endpoint for $ty {
            const NAME: &'static str = $name;
            const ADMITS: Admits = Admits::LinkHolder;
            const METHOD: &'static str = $method;
            const ROUTE: &'static [&'static str] = $route;
            const SHAPE: Shape = Shape::PlainWithSummary;
            const NEEDS: &'static [Need] = $needs;
            type Input = Token;

            fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Token, ApiError> {
                token_of(req, audited)
            }

            fn subject(_caller: &Caller, _token: &Token) -> Option<Subject> {
                Some(Subject::Tenant)
            }

            fn enabled(_tenant: &TenantConfig) -> bool {
                true
            }

            async fn serve<'a>(
                &'a self,
                call: &'a Call<'a>,
                token: Token,
            ) -> Result<Reply, ApiError> {
                self.run(call, token).await
            }
        }
    };
}

#[derive(Default)]
pub struct PayPage;

link_route!(
    PayPage,
    "pay_page",
    "GET",
    &["pay", "{token}"],
    RetryPayment::NEEDS
);

impl PayPage {
    async fn run(&self, call: &Call<'_>, token: Token) -> Result<Reply, ApiError> {
        let link = link(call, &token).await?;
        if link.used_at.is_some() {
            return Ok(state_only("used", USED));
        }
        if link.expires_at <= now_unix() {
            return Ok(state_only("expired", EXPIRED));
        }
        if link.invoice.is_empty() {
            return Ok(state_only(
                "card_only",
                "Nothing is due now: update the card your subscription renews with.",
            ));
        }
        as_customer!(call, link, visitor, inner);
        let args = args_for(&link)?;
        match RetryPayment.plan(&inner, &args, None).await? {
            Plan::Instead(answer) => Ok(state_only("nothing_to_pay", &answer.summary)),
            Plan::Change {
                preview, summary, ..
            } => Ok(Reply::done(Answer {
                data: json!({
                    "state": "payable", "merchant": merchant(call.tenant),
                    "invoice": preview.invoice, "amount": preview.amount, "card": preview.card,
                }),
                summary,
            })),
        }
    }
}

#[derive(Default)]
pub struct PayNow;

link_route!(
    PayNow,
    "pay_now",
    "POST",
    &["pay", "{token}", "confirm"],
    RetryPayment::NEEDS
);

impl PayNow {
    async fn run(&self, call: &Call<'_>, token: Token) -> Result<Reply, ApiError> {
        let link = link(call, &token).await?;
        if link.invoice.is_empty() {
            return Err(invalid());
        }
        if link.expires_at <= now_unix() && link.used_at.is_none() {
            return Ok(state_only("expired", EXPIRED));
        }
        // Spent before Stripe is asked: of two clicks (or two tabs) exactly one pays.
        if !call
            .app
            .state
            .spend_pay_link(&call.tenant.tenant, &link.id, now_unix())
            .await?
        {
            return Ok(state_only("used", USED));
        }
        as_customer!(call, link, visitor, inner);
        let reply = match at_once(&RetryPayment, &inner, args_for(&link)?).await {
            Ok(r) => r,
            Err(e) => {
                // Stripe or AWS failed, before Stripe was asked or with its answer lost: the
                // link is given back for another click. Safe even when Stripe did pay: the
                // next click reads the invoice first (a paid one is "nothing to pay"), and
                // Stripe refuses to pay a paid invoice; the bounds count every attempt.
                if e.status >= 500
                    && let Err(u) = call
                        .app
                        .state
                        .unspend_pay_link(&call.tenant.tenant, &link.id)
                        .await
                {
                    tracing::error!(error = %u, "pay link not given back");
                }
                return Err(e);
            }
        };
        let data = &reply.answer.data;
        let state = if reply.status == "pending_approval" {
            "pending_approval"
        } else if data["paid"] == true {
            "paid"
        } else if data["declined"].is_string() || data["requires_action"] == true {
            "declined"
        } else {
            "nothing_to_pay"
        };
        Ok(Reply::done(Answer {
            data: json!({"state": state, "merchant": merchant(call.tenant),
                         "amount": data["amount"]}),
            summary: reply.answer.summary,
        }))
    }
}

#[derive(Default)]
pub struct PayCard;

link_route!(
    PayCard,
    "pay_card",
    "GET",
    &["pay", "{token}", "card"],
    &[Need::Customer, Need::PortalSession]
);

impl PayCard {
    /// Works while the link lives, used or not: a declined click still needs a new card.
    async fn run(&self, call: &Call<'_>, token: Token) -> Result<Reply, ApiError> {
        let link = link(call, &token).await?;
        if link.expires_at <= now_unix() {
            return Ok(state_only("expired", EXPIRED));
        }
        let return_url = call.tenant.return_url.clone();
        let params = api::portal_session(
            &link.customer,
            &PortalSessionCreate {
                flow_data: Some(FlowData::new(
                    PortalFlow::PaymentMethodUpdate,
                    return_url.as_deref(),
                    None,
                )),
                return_url,
            },
        );
        let session = call
            .stripe
            .post(&params, &format!("{}:pay-card", call.request_id))
            .await?;
        Ok(Reply::done(Answer {
            data: json!({"state": "portal", "url": session.url}),
            summary: "Opening your billing portal to update your card.".into(),
        }))
    }
}
