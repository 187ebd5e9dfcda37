//! The adversarial property test: random sequences of one visitor's calls under the default
//! policy, mixed with clock advances across renewals, against the emulator. After every
//! step, Stripe's own state (the emulator's objects and request log) and the audit log must
//! show that:
//! 1. for each paid period, cash refunded plus credit granted is at most what was paid;
//! 2. unpaid service days are within the pause allowance (in whole billing periods, as
//!    Stripe voids a period's invoice whole);
//! 3. a subscription carries at most one code's discount;
//! 4. no cap is exceeded, per customer or per tenant; a refund past the customer's 30-day
//!    cap is one an agent approved, and those stay within the agent's own cap;
//! 5. every change Stripe made has a `done` audit record, and every `done` record its
//!    change.
//!
//! An agent deciding (approving or denying) the approvals the visitor's refunds asked for
//! is one of the moves.
//!
//! `ADVERSARY_SEQUENCES` (default 200, `make adversary` 10,000) sequences from
//! `ADVERSARY_SEED` (default: a fixed one; `random` for a fresh one). A violation prints
//! the seed and the sequence, shrunk to the moves that still break it.
use std::collections::{BTreeMap, HashMap};

use integration::{Harness, visitor_claims};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use shared::endpoints::approvals::ApprovalDecision;
use shared::endpoints::write::{
    ApplyCoupon, CancelSubscription, ChangePlan, PauseSubscription, RequestRefund,
    ResumeSubscription, RetryPayment, UpdateBillingDetails,
};
use shared::pipeline::two_phase::Write;
use shared::timefmt;

const DAY: i64 = 86_400;
const HOUR: i64 = 3_600;
/// The default policy's bounds the invariants hold the system to.
const REFUNDS_PER_CUSTOMER_PER_HOUR: usize = 3;
const REFUNDS_PER_TENANT_PER_HOUR: usize = 20;
const REFUND_MAX_PER_30_DAYS: i64 = 50_000;
const AGENT_REFUND_MAX_PER_30_DAYS: i64 = 100_000;
const PLAN_CHANGES_PER_MONTH: usize = 3;
const PAUSES_PER_YEAR: usize = 1;
const PAUSED_DAYS_PER_YEAR: i64 = 90;
const RETRIES_PER_INVOICE_PER_DAY: usize = 3;

#[derive(Debug, Clone)]
enum Amount {
    Cents(i64),
    Rest,
}

#[derive(Debug, Clone)]
enum Move {
    Refund {
        charge: usize,
        amount: Amount,
        confirm: bool,
    },
    ChangePlan {
        price: usize,
        confirm: bool,
    },
    Pause {
        days: Option<i64>,
        confirm: bool,
    },
    Resume {
        confirm: bool,
    },
    Cancel {
        confirm: bool,
    },
    Coupon {
        code: usize,
        confirm: bool,
    },
    Email {
        which: usize,
        confirm: bool,
    },
    Retry {
        confirm: bool,
    },
    /// Confirms an earlier preview's token again: a replay, a stale or an expired one.
    Reconfirm {
        pick: usize,
    },
    /// Proposes an earlier proposal's arguments again and confirms (a model that lost
    /// track).
    Repropose {
        pick: usize,
    },
    /// Moves Stripe's clock and ours: renewals, charges, trials.
    Advance {
        hours: i64,
    },
    /// The saved card declines from now on, or works again.
    Card {
        declines: bool,
    },
    /// An agent decides one of the tenant's approvals (pending, or decided before: again).
    Decide {
        pick: usize,
        deny: bool,
    },
}

fn random_move(rng: &mut StdRng) -> Move {
    let confirm = rng.random_bool(0.8);
    match rng.random_range(0..100) {
        0..=17 => Move::Refund {
            charge: rng.random_range(0..4),
            amount: match rng.random_range(0..4) {
                0 => Amount::Rest,
                1 => Amount::Cents(rng.random_range(1..=100)),
                2 => Amount::Cents(500),
                _ => Amount::Cents(rng.random_range(1..=12_000)),
            },
            confirm,
        },
        18..=29 => Move::ChangePlan {
            price: rng.random_range(0..4),
            confirm,
        },
        30..=38 => Move::Pause {
            days: match rng.random_range(0..3) {
                0 => None,
                _ => Some(rng.random_range(1..=120)),
            },
            confirm,
        },
        39..=45 => Move::Resume { confirm },
        46..=50 => Move::Cancel { confirm },
        51..=59 => Move::Coupon {
            code: rng.random_range(0..4),
            confirm,
        },
        60..=65 => Move::Email {
            which: rng.random_range(0..3),
            confirm,
        },
        66..=71 => Move::Retry { confirm },
        72..=78 => Move::Reconfirm {
            pick: rng.random_range(0..64),
        },
        79..=84 => Move::Repropose {
            pick: rng.random_range(0..64),
        },
        85..=89 => Move::Decide {
            pick: rng.random_range(0..8),
            deny: rng.random_bool(0.3),
        },
        90..=95 => Move::Advance {
            hours: match rng.random_range(0..3) {
                0 => rng.random_range(1..=12),
                1 => rng.random_range(1..=10) * 24,
                _ => rng.random_range(25..=40) * 24,
            },
        },
        _ => Move::Card {
            declines: rng.random_bool(0.5),
        },
    }
}

/// One sequence's world: a tenant with the default policy and three plans, a subscriber,
/// another customer whose email is worth stealing, three codes (two public, one another
/// customer's).
struct World {
    h: Harness,
    me: String,
    prices: Vec<String>,
    victim_email: String,
    codes: Vec<String>,
    /// Every preview a visitor got: the tool, its arguments and its token.
    proposals: Vec<(&'static str, Value, String)>,
    offset: i64,
}

async fn world(rng: &mut StdRng) -> World {
    timefmt::set_offset(0);
    let h = Harness::new().await;
    let starter = h.stripe.price("Starter", 1900, "usd").await;
    let growth = h.stripe.price("Growth", 4900, "usd").await;
    let scale = h.stripe.price("Scale", 9900, "usd").await;
    // Active in the account but not offered: never reachable by a visitor.
    let internal = h.stripe.price("Internal", 0, "usd").await;
    let offered = vec![starter.clone(), growth.clone(), scale.clone()];
    h.configure(|c| c.allowed_prices = offered);
    let me = h
        .stripe
        .customer("me@example.com", Some("pm_card_visa"))
        .await;
    let first = [&starter, &growth, &scale][rng.random_range(0..3)];
    h.stripe.subscribe(&me, first, &[]).await;
    h.stripe.customer("victim@example.com", None).await;
    let other = h.stripe.customer("other@example.com", None).await;
    let mut codes = Vec::new();
    for (code, pct, only) in [
        ("HALF", "50", None),
        ("TEN", "10", None),
        ("VIP", "90", Some(&other)),
    ] {
        let c = h
            .stripe
            .post(
                "/v1/coupons",
                &[("percent_off", pct), ("duration", "forever")],
            )
            .await;
        let coupon = c["id"].as_str().unwrap();
        let mut form = vec![
            ("promotion[type]", "coupon"),
            ("promotion[coupon]", coupon),
            ("code", code),
        ];
        if let Some(o) = only {
            form.push(("customer", o));
        }
        h.stripe.post("/v1/promotion_codes", &form).await;
        codes.push(code.to_string());
    }
    codes.push("NOSUCH".into());
    World {
        h,
        me,
        prices: vec![starter, growth, scale, internal],
        victim_email: "victim@example.com".into(),
        codes,
        proposals: Vec::new(),
        offset: 0,
    }
}

impl World {
    async fn call(&self, tool: &str, body: &Value) -> (u16, Value) {
        let token = self.h.token(visitor_claims(
            "visitor",
            json!({"stripe_customer_id": self.me}),
        ));
        let (h, t, b) = (&self.h, Some(token.as_str()), body.to_string());
        match tool {
            "request_refund" => h.call(&Write(RequestRefund), t, &b).await,
            "change_plan" => h.call(&Write(ChangePlan), t, &b).await,
            "pause_subscription" => h.call(&Write(PauseSubscription), t, &b).await,
            "resume_subscription" => h.call(&Write(ResumeSubscription), t, &b).await,
            "cancel_subscription" => h.call(&Write(CancelSubscription), t, &b).await,
            "apply_coupon" => h.call(&Write(ApplyCoupon), t, &b).await,
            "update_billing_details" => h.call(&Write(UpdateBillingDetails), t, &b).await,
            "retry_payment" => h.call(&Write(RetryPayment), t, &b).await,
            other => panic!("no tool {other}"),
        }
    }

    /// Proposes; confirms what was proposed when `confirm`.
    async fn write(&mut self, tool: &'static str, args: Value, confirm: bool) -> String {
        let (status, body) = self.call(tool, &args).await;
        let said = |s: u16, b: &Value| {
            format!(
                "{s} {}",
                b["error"]["reason"]
                    .as_str()
                    .or(b["status"].as_str())
                    .unwrap_or("")
            )
        };
        let mut out = said(status, &body);
        if let Some(token) = body["confirmation"]["token"].as_str() {
            self.proposals.push((tool, args, token.to_string()));
            if confirm {
                let (s, b) = self.call(tool, &json!({"confirm": token})).await;
                out = format!("{out}, confirmed: {}", said(s, &b));
            }
        }
        out
    }

    async fn charges(&self) -> Vec<Value> {
        self.h
            .stripe
            .get(&format!("/v1/charges?customer={}&limit=100", self.me))
            .await["data"]
            .as_array()
            .cloned()
            .unwrap_or_default()
    }

    async fn play(&mut self, m: &Move) -> String {
        match m {
            Move::Refund {
                charge,
                amount,
                confirm,
            } => {
                let charges = self.charges().await;
                if charges.is_empty() {
                    return "no charge".into();
                }
                let c = &charges[charge % charges.len()];
                let mut args = json!({"payment_id": c["id"]});
                if let Amount::Cents(n) = amount {
                    args["amount"] = json!(n);
                }
                self.write("request_refund", args, *confirm).await
            }
            Move::ChangePlan { price, confirm } => {
                let args = json!({"price_id": self.prices[price % self.prices.len()]});
                self.write("change_plan", args, *confirm).await
            }
            Move::Pause { days, confirm } => {
                let args = match days {
                    None => json!({}),
                    Some(d) => {
                        json!({"resumes_at": timefmt::rfc3339(timefmt::now_unix() + d * DAY)})
                    }
                };
                self.write("pause_subscription", args, *confirm).await
            }
            Move::Resume { confirm } => {
                self.write("resume_subscription", json!({}), *confirm).await
            }
            Move::Cancel { confirm } => {
                self.write(
                    "cancel_subscription",
                    json!({"reason": "too_expensive"}),
                    *confirm,
                )
                .await
            }
            Move::Coupon { code, confirm } => {
                let args = json!({"code": self.codes[code % self.codes.len()]});
                self.write("apply_coupon", args, *confirm).await
            }
            Move::Email { which, confirm } => {
                let email = match which {
                    0 => self.victim_email.clone(),
                    1 => format!("me+{}@example.com", self.proposals.len()),
                    _ => "me@example.com".into(),
                };
                self.write("update_billing_details", json!({"email": email}), *confirm)
                    .await
            }
            Move::Retry { confirm } => self.write("retry_payment", json!({}), *confirm).await,
            Move::Reconfirm { pick } => {
                if self.proposals.is_empty() {
                    return "nothing to confirm".into();
                }
                let (tool, _, token) = self.proposals[pick % self.proposals.len()].clone();
                let (s, b) = self.call(tool, &json!({"confirm": token})).await;
                format!(
                    "{s} {}",
                    b["error"]["reason"]
                        .as_str()
                        .or(b["error"]["code"].as_str())
                        .or(b["status"].as_str())
                        .unwrap_or("")
                )
            }
            Move::Repropose { pick } => {
                if self.proposals.is_empty() {
                    return "nothing to repropose".into();
                }
                let (tool, args, _) = self.proposals[pick % self.proposals.len()].clone();
                self.write(tool, args, true).await
            }
            Move::Advance { hours } => {
                let secs = hours * HOUR;
                self.h
                    .stripe
                    .control("clock/advance", json!({"seconds": secs}))
                    .await;
                self.offset += secs;
                timefmt::set_offset(self.offset);
                format!("clock +{hours} h")
            }
            Move::Decide { pick, deny } => {
                let all = self
                    .h
                    .app
                    .state
                    .approvals(integration::TENANT, None)
                    .await
                    .unwrap();
                if all.is_empty() {
                    return "nothing to decide".into();
                }
                let id = all[pick % all.len()].id.clone();
                let decision = if *deny { "deny" } else { "approve" };
                let req = lambda_http::http::Request::builder()
                    .method("POST")
                    .uri(format!("/v1/{}/agent/approvals/{id}", integration::TENANT))
                    .header(
                        "authorization",
                        format!(
                            "Bearer {}",
                            integration::agent_token(
                                integration::TENANT,
                                json!({"sub": "agent_adv"})
                            )
                        ),
                    )
                    .header("content-type", "application/json")
                    .body(lambda_http::Body::Text(
                        json!({"decision": decision}).to_string(),
                    ))
                    .unwrap();
                let endpoint = ApprovalDecision {
                    approvers: shared::endpoints::registry::approvers,
                };
                let resp = shared::edge::handle(&self.h.app, &endpoint, req).await;
                let status = resp.status().as_u16();
                let body: Value = match resp.body() {
                    lambda_http::Body::Text(t) => serde_json::from_str(t).unwrap_or(Value::Null),
                    _ => Value::Null,
                };
                format!(
                    "{decision}: {status} {}",
                    body["error"]["reason"].as_str().unwrap_or("")
                )
            }
            Move::Card { declines } => {
                let card = if *declines {
                    "pm_card_chargeCustomerFail"
                } else {
                    "pm_card_visa"
                };
                self.h.stripe.set_card(&self.me, card).await;
                card.into()
            }
        }
    }
}

fn list(v: &Value) -> Vec<Value> {
    v["data"].as_array().cloned().unwrap_or_default()
}

/// A non-proration subscription line's period and the subscription.
fn billed_period(inv: &Value) -> Option<(String, i64, i64)> {
    billed_line(inv).map(|(sub, start, end, _)| (sub, start, end))
}

/// The same, with the share of the line's price the customer paid after its discounts
/// (Stripe discounts a period's proration lines as it discounted the period).
fn billed_line(inv: &Value) -> Option<(String, i64, i64, f64)> {
    let sub = inv["parent"]["subscription_details"]["subscription"].as_str()?;
    inv["lines"]["data"].as_array()?.iter().find_map(|l| {
        let proration = l["parent"]["subscription_item_details"]["proration"] == true
            || l["parent"]["invoice_item_details"]["proration"] == true;
        if proration {
            return None;
        }
        let amount = l["amount"].as_i64()?;
        let off: i64 = l["discount_amounts"]
            .as_array()
            .map(|d| d.iter().filter_map(|x| x["amount"].as_i64()).sum())
            .unwrap_or(0);
        let share = if amount > 0 {
            (amount - off) as f64 / amount as f64
        } else {
            1.0
        };
        Some((
            sub.to_string(),
            l["period"]["start"].as_i64()?,
            l["period"]["end"].as_i64()?,
            share,
        ))
    })
}

/// Credit an invoice drew from earlier prorations: its negative proration lines, net of
/// their discounts.
fn credit_used(inv: &Value) -> i64 {
    let lines = inv["lines"]["data"].as_array().cloned().unwrap_or_default();
    lines
        .iter()
        .filter(|l| {
            l["parent"]["subscription_item_details"]["proration"] == true
                || l["parent"]["invoice_item_details"]["proration"] == true
        })
        .filter_map(|l| {
            let off: i64 = l["discount_amounts"]
                .as_array()
                .map(|d| d.iter().filter_map(|x| x["amount"].as_i64()).sum())
                .unwrap_or(0);
            Some(l["amount"].as_i64()? - off)
        })
        .filter(|net| *net < 0)
        .map(|net| -net)
        .sum()
}

/// Most entries of `times` within any window of `width` seconds.
fn busiest(times: &[i64], width: i64) -> usize {
    times
        .iter()
        .map(|t| {
            times
                .iter()
                .filter(|u| **u <= *t && **u > t - width)
                .count()
        })
        .max()
        .unwrap_or(0)
}

async fn check(w: &World) -> Result<(), String> {
    let stripe = &w.h.stripe;
    let invoices = list(
        &stripe
            .get(&format!("/v1/invoices?customer={}&limit=100", w.me))
            .await,
    );
    let charges = w.charges().await;
    let refunds = list(&stripe.get("/v1/refunds?limit=100").await);
    let items = list(
        &stripe
            .get(&format!("/v1/invoiceitems?customer={}&limit=100", w.me))
            .await,
    );

    // 1. Each charge that paid a period: cash back plus credit for the period at most paid.
    let credit = |sub: &str, end: i64| -> i64 {
        let net: i64 = items
            .iter()
            .filter(|i| i["proration"] == true)
            .filter(|i| i["parent"]["subscription_details"]["subscription"] == sub)
            .filter(|i| i["period"]["end"].as_i64() == Some(end))
            .filter_map(|i| i["amount"].as_i64())
            .sum();
        (-net).max(0)
    };
    for inv in invoices.iter().filter(|i| i["status"] == "paid") {
        let Some((sub, _, end, share)) = billed_line(inv) else {
            continue;
        };
        let id = inv["id"].as_str().unwrap();
        let payments = list(
            &stripe
                .get(&format!("/v1/invoice_payments?invoice={id}"))
                .await,
        );
        for p in payments {
            let pi = &p["payment"]["payment_intent"];
            for c in charges
                .iter()
                .filter(|c| c["payment_intent"] == *pi && c["status"] == "succeeded")
            {
                // What paid for the period: the charge, and credit from an earlier
                // period's proration that this invoice used up (itself paid for before).
                let paid = c["amount"].as_i64().unwrap_or(0) + credit_used(inv);
                let back = c["amount_refunded"].as_i64().unwrap_or(0);
                // The credit as it reaches the customer: discounted as the period was.
                let given = (credit(&sub, end) as f64 * share).round() as i64;
                if back + given > paid + 1 {
                    return Err(format!(
                        "period ending {end} of {sub}: {back} refunded + {given} credited > {paid} paid (charge {})",
                        c["id"]
                    ));
                }
            }
        }
    }

    // 2. Unpaid service: the periods whose invoices a pause voided.
    let now = timefmt::now_unix();
    let mut voided: Vec<(i64, i64)> = invoices
        .iter()
        .filter(|i| i["status"] == "void")
        .filter_map(billed_period)
        .map(|(_, s, e)| (s, e))
        .filter(|(s, _)| now - s < 365 * DAY)
        .collect();
    voided.sort();
    voided.dedup();
    let unpaid: i64 = voided.iter().map(|(s, e)| (e - s) / DAY).sum();
    // Stripe voids a period's invoice whole: a pause of the allowance may void up to one
    // more period than it covers.
    if unpaid > PAUSED_DAYS_PER_YEAR + 31 {
        return Err(format!(
            "{unpaid} unpaid service days in 12 months: {voided:?}"
        ));
    }

    // 3. At most one code's discount per subscription.
    let subs = list(
        &stripe
            .get(&format!(
                "/v1/subscriptions?customer={}&status=all&limit=100",
                w.me
            ))
            .await,
    );
    for s in &subs {
        let n = s["discounts"].as_array().map_or(0, Vec::len);
        if n > 1 {
            return Err(format!("{} carries {n} discounts", s["id"]));
        }
    }

    // 4. Caps: refunds per customer and tenant (Stripe's refund objects), the rest from the
    // audit log's done writes.
    let times: Vec<i64> = refunds
        .iter()
        .filter_map(|r| r["created"].as_i64())
        .collect();
    if busiest(&times, HOUR) > REFUNDS_PER_CUSTOMER_PER_HOUR.min(REFUNDS_PER_TENANT_PER_HOUR) {
        return Err(format!("{} refunds in one hour", busiest(&times, HOUR)));
    }
    // A refund an agent approved is tagged with the confirmation of an approved approval.
    let approved: Vec<String> =
        w.h.app
            .state
            .approvals(integration::TENANT, None)
            .await
            .unwrap()
            .into_iter()
            .filter(|a| a.status == shared::ports::state::ApprovalStatus::Approved)
            .map(|a| a.confirmation)
            .collect();
    let by_agent = |x: &Value| {
        x["metadata"]["billing_bot_confirmation"]
            .as_str()
            .is_some_and(|c| approved.iter().any(|a| a == c))
    };
    for r in &refunds {
        let t = r["created"].as_i64().unwrap_or(0);
        let within = |x: &&Value| {
            x["created"]
                .as_i64()
                .is_some_and(|u| u <= t && u > t - 30 * DAY)
        };
        let sum = |agent: bool| -> i64 {
            refunds
                .iter()
                .filter(within)
                .filter(|x| by_agent(x) == agent)
                .filter_map(|x| x["amount"].as_i64())
                .sum()
        };
        if sum(false) > REFUND_MAX_PER_30_DAYS {
            return Err(format!(
                "{} refunded in 30 days without approval",
                sum(false)
            ));
        }
        if sum(true) > AGENT_REFUND_MAX_PER_30_DAYS {
            return Err(format!(
                "{} refunded in 30 days by one agent's approvals",
                sum(true)
            ));
        }
    }
    let records = w.h.audit.records.lock().unwrap().clone();
    // One record per key, the last written (the write-ahead record is completed under it).
    let mut latest: BTreeMap<String, shared::ports::audit::AuditRecord> = BTreeMap::new();
    for r in records {
        latest.insert(r.sk.clone(), r);
    }
    let done: Vec<&shared::ports::audit::AuditRecord> = latest
        .values()
        .filter(|r| r.sends.is_some() && r.outcome == "ok")
        .collect();
    let when = |r: &shared::ports::audit::AuditRecord| timefmt::parse(&r.time).unwrap_or(0);
    let of = |tool: &str| {
        done.iter()
            .filter(|r| r.tool == tool)
            .map(|r| when(r))
            .collect::<Vec<i64>>()
    };
    let mut months: HashMap<String, usize> = HashMap::new();
    for t in of("change_plan") {
        *months
            .entry(timefmt::rfc3339(t).unwrap()[..7].to_string())
            .or_default() += 1;
    }
    if let Some((m, n)) = months.iter().find(|(_, n)| **n > PLAN_CHANGES_PER_MONTH) {
        return Err(format!("{n} plan changes in {m}"));
    }
    if busiest(&of("pause_subscription"), 365 * DAY) > PAUSES_PER_YEAR {
        return Err("more than one pause in 12 months".into());
    }
    let mut retries: HashMap<String, Vec<i64>> = HashMap::new();
    for r in done.iter().filter(|r| r.tool == "retry_payment") {
        let path = r.sends.as_ref().unwrap()["path"]
            .as_str()
            .unwrap_or("")
            .to_string();
        retries.entry(path).or_default().push(when(r));
    }
    if let Some((path, _)) = retries
        .iter()
        .find(|(_, t)| busiest(t, DAY) > RETRIES_PER_INVOICE_PER_DAY)
    {
        return Err(format!(
            "more than {RETRIES_PER_INVOICE_PER_DAY} retries of {path} in a day"
        ));
    }
    let emails: Vec<i64> = done
        .iter()
        .filter(|r| r.tool == "update_billing_details")
        .filter(|r| !r.sends.as_ref().unwrap()["params"]["email"].is_null())
        .map(|r| when(r))
        .collect();
    if busiest(&emails, 30 * DAY) > 1 {
        return Err("more than one email change in 30 days".into());
    }

    // 5. Changes Stripe made (confirm-keyed POSTs, DELETEs) and done records, per path.
    let log = stripe_log(w).await;
    let mut made: HashMap<String, (usize, usize)> = HashMap::new();
    let mut seen = std::collections::HashSet::new();
    for e in &log {
        let method = e["method"].as_str().unwrap_or("");
        let path = e["path"].as_str().unwrap_or("").to_string();
        let key = e["idempotency_key"].as_str().unwrap_or("");
        let ours = (method == "POST" && key.starts_with("confirm-")) || method == "DELETE";
        if !ours {
            continue;
        }
        let ok = (200..300).contains(&e["status"].as_u64().unwrap_or(0));
        let entry = made.entry(path.clone()).or_default();
        // A POST is one change per key (retries reuse it); a DELETE one per request.
        if method == "DELETE" || seen.insert((path, key.to_string(), ok)) {
            if ok {
                entry.0 += 1;
            }
            entry.1 += 1;
        }
    }
    let mut recorded: HashMap<String, usize> = HashMap::new();
    for r in &done {
        let sends = r.sends.as_ref().unwrap();
        let steps: Vec<&Value> = match sends {
            Value::Array(all) => all.iter().collect(),
            one => vec![one],
        };
        for s in steps {
            *recorded
                .entry(s["path"].as_str().unwrap_or("").to_string())
                .or_default() += 1;
        }
    }
    let paths: std::collections::BTreeSet<&String> = made.keys().chain(recorded.keys()).collect();
    for path in paths {
        let (ok, any) = made.get(path).copied().unwrap_or((0, 0));
        let rec = recorded.get(path).copied().unwrap_or(0);
        if !(ok <= rec && rec <= any) {
            return Err(format!(
                "{path}: Stripe made {ok} changes (of {any} asked), the audit log has {rec} done"
            ));
        }
    }
    Ok(())
}

async fn stripe_log(w: &World) -> Vec<Value> {
    let url = format!("{}/_emulator/requests", w.h.stripe.base);
    let log: Value = reqwest::Client::new()
        .get(url)
        .query(&[("key", &w.h.stripe.key)])
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    log["requests"].as_array().cloned().unwrap_or_default()
}

/// Plays `moves` in a fresh world; the first violation and the step it followed.
async fn run(seed: u64, moves: &[Move]) -> Result<(), (usize, String, Vec<String>)> {
    let mut rng = StdRng::seed_from_u64(seed);
    let mut w = world(&mut rng).await;
    let mut said = Vec::new();
    for (n, m) in moves.iter().enumerate() {
        said.push(format!("{m:?} -> {}", w.play(m).await));
        if let Err(e) = check(&w).await {
            return Err((n, e, said));
        }
    }
    Ok(())
}

/// The moves that still break an invariant when the others are left out.
async fn shrink(seed: u64, mut moves: Vec<Move>) -> Vec<Move> {
    let mut i = 0;
    while i < moves.len() {
        let mut fewer = moves.clone();
        fewer.remove(i);
        if run(seed, &fewer).await.is_err() {
            moves = fewer;
        } else {
            i += 1;
        }
    }
    moves
}

#[tokio::test]
async fn no_sequence_of_calls_gets_what_the_policy_withholds() {
    let count: usize = std::env::var("ADVERSARY_SEQUENCES")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    let base: u64 = match std::env::var("ADVERSARY_SEED").ok().as_deref() {
        Some("random") => rand::rng().random(),
        Some(s) => s.parse().expect("ADVERSARY_SEED is a number or `random`"),
        None => 20_261_206,
    };
    let started = std::time::Instant::now();
    let mut steps = 0;
    for i in 0..count as u64 {
        let seed = base.wrapping_add(i);
        let mut rng = StdRng::seed_from_u64(seed ^ 0x5eed);
        let len = rng.random_range(6..=18);
        let moves: Vec<Move> = (0..len).map(|_| random_move(&mut rng)).collect();
        steps += moves.len();
        if let Err((n, violation, said)) = run(seed, &moves).await {
            let shrunk = shrink(seed, moves[..=n].to_vec()).await;
            panic!(
                "violation after step {n} of sequence seed {seed}: {violation}\n\
                 played:\n  {}\n\
                 shrunk to {} moves (replay with ADVERSARY_SEED={seed} ADVERSARY_SEQUENCES=1):\n  {}",
                said.join("\n  "),
                shrunk.len(),
                shrunk
                    .iter()
                    .map(|m| format!("{m:?}"))
                    .collect::<Vec<_>>()
                    .join("\n  ")
            );
        }
    }
    timefmt::set_offset(0);
    println!(
        "adversary: {count} sequences, {steps} steps, 0 violations, in {:.1} s (seeds {base}..)",
        started.elapsed().as_secs_f64()
    );
}
