//! `GET /v1/{tenant}/agent/insight?customer_id=|email=|user_id=`: what a support agent needs
//! at a glance, gathered with independent requests in parallel, said to the agent about
//! the customer. Only agent tokens (signed with the tenant's agent secret, `role: "agent"`)
//! are accepted.
use crate::billing::approvals::agent_view;
use crate::ports::state::ApprovalStatus;
use std::collections::HashMap;

use serde_json::{Value, json};

use crate::auth::caller::{Admits, Caller};
use crate::auth::identity::Visitor;
use crate::billing::money::Money;
use crate::billing::subscription::relevant;
use crate::billing::views::{self, charge_failure, invoice, saved_card};
use crate::billing::{Dates, card_phrase, charge_card_phrase, invoice_name, money, open_phrase};
use crate::endpoints::read::common::{
    failed_payment, fetch_customer, missing_customer, open_recoveries,
};
use crate::error::ApiError;
use crate::pipeline::endpoint::{Answer, Call, Endpoint, Incoming, Reply, Shape, Subject};
use crate::ports::tenants::TenantConfig;
use crate::stripe::api;
use crate::stripe::api::Need;
use crate::stripe::ids;
use crate::stripe::types::{
    Charge, ChargeStatus, Customer, Invoice, Subscription, SubscriptionStatus,
};
use crate::timefmt::rfc3339;

const RECENT_ACTIONS: usize = 10;
/// The payments an agent sees at a glance.
const RECENT_PAYMENTS: usize = 3;

/// The agent insight endpoint.
pub struct Insight;

/// Who the agent asks about: exactly one of the three.
pub struct Lookup(Visitor);

impl Endpoint for Insight {
    const NAME: &'static str = "agent_insight";
    const ADMITS: Admits = Admits::AgentsOrPanel;
    type Input = Lookup;

    const ROUTE: &'static [&'static str] = &["agent", "insight"];
    const METHOD: &'static str = "GET";
    const SHAPE: Shape = Shape::PlainWithSummary;
    const NEEDS: &'static [Need] = &[
        Need::Customer,
        Need::Subscriptions,
        Need::Invoices,
        Need::Charges,
    ];

    fn input(req: &Incoming<'_>, audited: &mut Value) -> Result<Lookup, ApiError> {
        let (customer_id, email, user_id) = (
            req.query.first("customer_id"),
            req.query.first("email"),
            req.query.first("user_id"),
        );
        *audited = crate::ports::audit::redact(
            &json!({"customer_id": customer_id, "email": email, "user_id": user_id}),
        );
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
        if let Some(problem) = customer_id.and_then(|id| ids::problem(id, ids::CustomerId::PREFIX))
        {
            return Err(ApiError::invalid_request(format!(
                "Invalid field `customer_id`: {problem}."
            ))
            .with_reason("invalid_field"));
        }
        // The agent names the customer the way a visitor's token would; an email an agent
        // types is theirs to vouch for.
        Ok(Lookup(Visitor {
            user_id: user_id.unwrap_or_default().to_string(),
            email: email.map(str::to_string),
            stripe_customer_id: customer_id.map(str::to_string),
        }))
    }

    fn subject(_caller: &Caller, input: &Lookup) -> Option<Subject> {
        Some(Subject::Visitor(input.0.clone()))
    }

    /// Agent insight is always on: it is the merchant's own staff asking.
    fn enabled(_tenant: &TenantConfig) -> bool {
        true
    }

    async fn serve<'a>(&'a self, call: &'a Call<'a>, _input: Lookup) -> Result<Reply, ApiError> {
        gather(call).await.map(Reply::done)
    }
}

async fn gather(call: &Call<'_>) -> Result<Answer, ApiError> {
    let (app, config, stripe, customer_id) = (call.app, call.tenant, call.stripe, call.customer_id);
    let subs = api::subscriptions(customer_id)
        .set("status", "all")
        .limit(10)
        .expand("data.latest_invoice");
    let recent = api::invoices(customer_id).limit(5);
    let open = api::invoices(customer_id).set("status", "open").limit(10);
    let charges = api::charges(customer_id).limit(RECENT_PAYMENTS);
    let actions = async {
        let (writes, all) = futures::join!(
            app.audit
                .recent_writes(&config.tenant, customer_id, RECENT_ACTIONS),
            app.audit
                .recent(&config.tenant, customer_id, RECENT_ACTIONS),
        );
        Ok::<_, crate::ports::error::StoreError>(writes_first(writes?, all?))
    };
    let (customer, subs, invoices, open, charges, actions, recovering, approvals) = futures::join!(
        fetch_customer(stripe, customer_id),
        stripe.get(&subs),
        stripe.get(&recent),
        stripe.get(&open),
        stripe.get(&charges),
        actions,
        open_recoveries(call),
        app.state.approvals(&config.tenant, Some(customer_id)),
    );
    let now = crate::timefmt::now_unix();
    let pending: Vec<Value> = approvals
        .unwrap_or_else(|e| {
            tracing::warn!(error = %e, "approvals unavailable for insight");
            Vec::new()
        })
        .iter()
        .filter(|a| a.status_at(now) == ApprovalStatus::Pending)
        .map(|a| agent_view(a, now))
        .collect();
    let customer = customer?;
    let subs = subs.map_err(missing_customer)?.data;
    let invoices = invoices.map_err(missing_customer)?.data;
    let open = open.map_err(missing_customer)?.data;
    let payments = charges.map_err(missing_customer)?.data;
    let last_charge = payments.first().cloned();
    let actions = actions.unwrap_or_else(|e| {
        tracing::warn!(error = %e, "audit log unavailable for insight");
        Vec::new()
    });
    let names: HashMap<String, String> = app
        .catalog
        .of_subscriptions(&config.tenant, stripe, &subs)
        .await?;
    let shown = relevant(&subs);
    let facts = Facts {
        customer: &customer,
        subs: &shown,
        names: &names,
        open: &open,
        last_charge: last_charge.as_ref(),
        dates: call.dates,
    };
    let card = customer.default_card();
    let next_billing = shown.iter().filter_map(|s| s.next_payment()).min();
    let currency = balance_currency(&customer, &subs);
    Ok(Answer {
        data: json!({
            "customer": {"id": customer.id, "name": customer.name, "email": customer.email},
            "subscriptions": shown.iter().map(|s| views::subscription(s, &names)).collect::<Vec<_>>(),
            "invoices": invoices.iter().map(invoice).collect::<Vec<_>>(),
            "open_invoices": open.iter().map(invoice).collect::<Vec<_>>(),
            "payment_method": card.map(saved_card),
            "next_billing_date": next_billing.and_then(rfc3339),
            "credit": Money::new(customer.balance.min(0).abs(), &currency),
            "owed_on_balance": Money::new(customer.balance.max(0), &currency),
            "last_payment_failure": last_charge.as_ref().filter(|c| c.status == ChargeStatus::Failed).map(|c| json!({
                "charge": c.id, "amount": Money::new(c.amount, &c.currency),
                "created": rfc3339(c.created), "reason": charge_failure(c),
            })),
            "recent_payments": payments.iter().map(payment).collect::<Vec<_>>(),
            "open_recoveries": recovering,
            "pending_approvals": pending,
            "recent_actions": actions.iter().map(|a| json!({
                "time": a.time, "tool": a.tool, "actor": a.actor,
                "decision": a.decision, "outcome": a.outcome, "reason": a.reason,
                "write": a.sends.is_some(),
            })).collect::<Vec<_>>(),
        }),
        summary: {
            let mut summary = facts.summary();
            if let Some(r) = recovering.first() {
                summary.push_str(&format!(
                    " {} and is in the recovery queue since {}: the visitor can retry it (retry_payment) or update the card (get_billing_portal_link).",
                    failed_payment(r),
                    r.opened_at.as_deref().unwrap_or("recently")
                ));
            }
            summary
        },
    })
}

/// The bot's writes (newest first), then its other recent records: however many reads a
/// visitor makes, a refund stays in sight.
fn writes_first(
    writes: Vec<crate::ports::audit::AuditRecord>,
    all: Vec<crate::ports::audit::AuditRecord>,
) -> Vec<crate::ports::audit::AuditRecord> {
    let mut seen: std::collections::HashSet<String> = writes.iter().map(|w| w.sk.clone()).collect();
    let mut out = writes;
    for r in all {
        if out.len() >= RECENT_ACTIONS {
            break;
        }
        if seen.insert(r.sk.clone()) {
            out.push(r);
        }
    }
    out
}

/// A payment as the agent sees it: amount, status, date, card, what was refunded.
fn payment(c: &Charge) -> Value {
    json!({
        "id": c.id, "amount": Money::new(c.amount, &c.currency), "status": c.status,
        "created": rfc3339(c.created), "card": charge_card_phrase(c),
        "refunded": Money::new(c.amount_refunded, &c.currency),
        "failure": (c.status == ChargeStatus::Failed).then(|| charge_failure(c)),
        "receipt_url": c.receipt_url,
    })
}

fn balance_currency(customer: &Customer, subs: &[Subscription]) -> String {
    customer
        .currency
        .clone()
        .or_else(|| subs.first().map(|s| s.currency.clone()))
        .unwrap_or_else(|| "usd".into())
}

/// What an agent must know first, in the order they would act on it.
struct Facts<'a> {
    customer: &'a Customer,
    subs: &'a [&'a Subscription],
    names: &'a HashMap<String, String>,
    open: &'a [Invoice],
    last_charge: Option<&'a Charge>,
    dates: &'a Dates,
}

impl Facts<'_> {
    fn summary(&self) -> String {
        let c = self.customer;
        let who = c
            .name
            .clone()
            .or(c.email.clone())
            .unwrap_or_else(|| c.id.clone());
        let mut out = vec![match self.subs {
            [] => format!("{who}: no subscription."),
            [s] => format!("{who}: {}.", self.subscription(s)),
            many => format!(
                "{who}: {} subscriptions: {}.",
                many.len(),
                many.iter()
                    .map(|s| self.subscription(s))
                    .collect::<Vec<_>>()
                    .join("; ")
            ),
        }];
        if let Some(c) = self
            .last_charge
            .filter(|c| c.status == ChargeStatus::Failed)
        {
            let card = charge_card_phrase(c)
                .map(|p| format!(" ({p})"))
                .unwrap_or_default();
            out.push(format!(
                "Last payment of {} on {} failed: {}{card}.",
                money(c.amount, &c.currency),
                self.dates.date(c.created),
                charge_failure(c)
            ));
        }
        match self.open {
            [] => {}
            [one] => out.push(format!(
                "{} is {}.",
                invoice_name(one),
                open_phrase(one, self.dates)
            )),
            many => {
                let total: i64 = many.iter().map(|i| i.amount_remaining).sum();
                out.push(format!(
                    "{} open invoices, {} due in total.",
                    many.len(),
                    money(total, &many[0].currency)
                ));
            }
        }
        let currency = balance_currency(c, &[]);
        match c.balance {
            0 => {}
            b if b < 0 => out.push(format!("Account credit: {}.", money(-b, &currency))),
            b => out.push(format!(
                "Owes {} on the account balance.",
                money(b, &currency)
            )),
        }
        match c.default_card() {
            Some(k) => out.push(format!("Card: {}.", card_phrase(&k.brand, &k.last4))),
            None => out.push("No card on file.".into()),
        }
        out.join(" ")
    }

    /// "Growth ($49.00/month), active, next billing ...", with what changes that.
    fn subscription(&self, s: &Subscription) -> String {
        let mut text = format!(
            "{} ({}), {}",
            s.plan_name(self.names),
            s.price_phrase(),
            s.status_words()
        );
        if let Some(end) = s.scheduled_cancel() {
            let requested = s
                .canceled_at
                .map(|t| format!(" (requested {})", self.dates.date(t)))
                .unwrap_or_default();
            text.push_str(&format!(
                ", set to cancel on {}{requested}",
                self.dates.date(end)
            ));
        } else if s.status == SubscriptionStatus::Canceled {
            text.push_str(&format!(
                ", ended {}",
                self.dates.maybe(s.ended_at.or(s.canceled_at))
            ));
        }
        if let Some(p) = &s.pause_collection {
            text.push_str(&match p.resumes_at {
                Some(t) => format!(", payments paused until {}", self.dates.date(t)),
                None => ", payments paused".into(),
            });
        }
        if s.status == SubscriptionStatus::Trialing
            && let Some(t) = s.trial_end
        {
            text.push_str(&format!(", trial ends {}", self.dates.date(t)));
        }
        if s.status == SubscriptionStatus::PastDue
            && let Some(i) = s.latest_invoice.as_ref().and_then(|i| i.object())
            && i.amount_remaining > 0
        {
            text.push_str(&format!(
                ", {} owed",
                money(i.amount_remaining, &i.currency)
            ));
        }
        if let Some(t) = s.next_payment() {
            text.push_str(&format!(", next billing {}", self.dates.date(t)));
        }
        text
    }
}
