//! The one place that says whether a write may happen, given what already happened to the
//! customer's money and service. Bounds per tool are not enough: a visitor who chains
//! allowed calls (refund, then downgrade for the credit; pause, resume, pause) must not get
//! what the merchant never agreed to give.
//!
//! The write path asks [`judge`] when proposing and again, atomically, when claiming: the
//! customer's [`History`] is read in one consistent read and the claim that adds this write
//! to it is conditional on it being unchanged. Everything here is a pure function of the
//! tenant's policy, the history, the write and the time, so the adversarial property test
//! runs it against thousands of sequences.
pub use crate::ports::history::{Act, Entry, History, PeriodRef};

use crate::billing::{Dates, money};
use crate::error::ApiError;
use crate::ports::tenants::Policy;

const HOUR: i64 = 3_600;
const DAY: i64 = 86_400;
const YEAR: i64 = 365 * DAY;

/// What the policy says about one write.
#[derive(Debug, Clone, PartialEq)]
pub enum Verdict {
    Allow,
    /// A bound holds: `403 policy_denied` with its reason.
    Deny(ApiError),
    /// The same write was done moments ago and still stands: answer its outcome.
    Duplicate(Entry),
}

/// Judges `act`, the write of confirmation `id`, against the customer's `history` at `now`.
pub fn judge(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
    dates: &Dates,
) -> Verdict {
    if let Some(earlier) = duplicate(policy, history, act, id, now) {
        return Verdict::Duplicate(earlier.clone());
    }
    let rule = match act {
        Act::Refund { .. } => refund(policy, history, act, id, now),
        Act::PlanChange { .. } => plan_change(policy, history, act, id, now),
        Act::Pause { .. } => pause(policy, history, act, id, now, dates),
        Act::Resume { .. } => resume(history, act, id),
        Act::Cancel { .. } => Ok(()),
        Act::Code { .. } => code(policy, history, act, id, now),
        Act::Details { .. } => details(policy, history, act, id, now),
        Act::Retry { .. } => retry(policy, history, act, id, now),
    };
    match rule {
        Ok(()) => Verdict::Allow,
        Err(e) => Verdict::Deny(e),
    }
}

/// Whether a person may lift the bound `err` is, where the tenant allows it
/// (`policy.approval_for`): then a confirmed write waits for an agent instead of failing.
pub fn liftable(policy: &Policy, err: &ApiError) -> bool {
    err.code == "policy_denied"
        && err
            .reason
            .as_deref()
            .is_some_and(|r| policy.approval_for.iter().any(|a| a == r))
}

/// The policy an approved write is judged by: the bounds the tenant lets a person lift
/// are lifted (the person saw the write as the visitor did); every other rule stands, and
/// the approver's own cap is counted apart.
pub fn lifted(policy: &Policy) -> Policy {
    let mut p = policy.clone();
    for reason in &policy.approval_for {
        match reason.as_str() {
            "refund_cap_exceeded" => p.refund_max_per_30_days = u64::MAX,
            // Far enough back for any charge, without overflowing the day arithmetic.
            "refund_window_passed" => p.refund_window_days = 1_000_000,
            "customer_refund_rate_exceeded" => p.refunds_per_customer_per_hour = u64::MAX,
            "plan_change_limit" => p.plan_changes_per_month = u64::MAX,
            "pause_limit" => p.pauses_per_year = u64::MAX,
            "pause_days_exceeded" => p.paused_days_per_year = 1_000_000,
            _ => {}
        }
    }
    p
}

/// By how much `act` passes the bound `reason`, in words, for the agent deciding.
pub fn over(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
    reason: &str,
) -> Option<String> {
    let Act::Refund {
        amount,
        currency,
        charged_at,
        ..
    } = act
    else {
        return None;
    };
    match reason {
        "refund_cap_exceeded" => {
            let before: u64 = history
                .others(id)
                .filter(|e| now - e.at < 30 * DAY)
                .filter_map(|e| match &e.act {
                    Act::Refund {
                        amount,
                        currency: c,
                        ..
                    } if c == currency => Some(*amount),
                    _ => None,
                })
                .sum();
            let cap = policy.refund_max_per_30_days;
            let excess = before.saturating_add(*amount).saturating_sub(cap);
            Some(format!(
                "{} over the {} limit in 30 days ({} refunded before)",
                money(excess as i64, currency),
                money(cap as i64, currency),
                money(before as i64, currency)
            ))
        }
        "refund_window_passed" => {
            let days = (now - charged_at) / DAY - policy.refund_window_days;
            Some(format!(
                "{days} days past the {}-day refund window",
                policy.refund_window_days
            ))
        }
        _ => None,
    }
}

/// An identical write, done within the window, whose effect still stands.
fn duplicate<'a>(
    policy: &Policy,
    history: &'a History,
    act: &Act,
    id: &'a str,
    now: i64,
) -> Option<&'a Entry> {
    let fingerprint = act.fingerprint()?;
    history
        .others(id)
        .filter(|e| now - e.at < policy.duplicate_window_secs)
        .filter(|e| e.act.fingerprint().as_deref() == Some(fingerprint.as_str()))
        .filter(|e| history.stands(e))
        .max_by_key(|e| e.at)
}

fn refund(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
) -> Result<(), ApiError> {
    let Act::Refund {
        amount,
        currency,
        paid,
        refunded_before,
        period,
        charged_at,
        ..
    } = act
    else {
        return Ok(());
    };
    let window = policy.refund_window_days;
    if *charged_at > 0 && *charged_at < now - window * DAY {
        return Err(ApiError::policy_denied(
            "refund_window_passed",
            format!(
                "Payments can be refunded here within {window} days; this one is older, so a person from our support team will look at it with you."
            ),
        ));
    }
    let refunds = || {
        history.others(id).filter_map(|e| match &e.act {
            Act::Refund {
                amount, currency, ..
            } => Some((e.at, *amount, currency.as_str())),
            _ => None,
        })
    };
    // The customer's own count first, so one customer's refunds never use up the tenant's.
    let cap = policy.refunds_per_customer_per_hour;
    if refunds().filter(|(at, _, _)| now - at < HOUR).count() as u64 >= cap {
        return Err(ApiError::policy_denied(
            "customer_refund_rate_exceeded",
            format!(
                "We can make at most {cap} refunds for you in an hour automatically, so a person from our support team will take this one over."
            ),
        ));
    }
    let cap = policy.refund_max_per_30_days;
    let total: u64 = refunds()
        .filter(|(at, _, c)| now - at < 30 * DAY && c == currency)
        .map(|(_, a, _)| a)
        .sum();
    if total.saturating_add(*amount) > cap {
        return Err(ApiError::policy_denied(
            "refund_cap_exceeded",
            format!(
                "Refunds here are limited to {} in any 30 days, so a person from our support team will look at this one with you.",
                money(cap as i64, currency)
            ),
        ));
    }
    // Cash back plus credit already granted for the same period (a downgrade's proration)
    // is never more than was paid for it.
    if let Some(period) = period {
        let credited: u64 = history
            .others(id)
            .filter_map(|e| match &e.act {
                Act::PlanChange {
                    period: p, credit, ..
                } if p == period => Some(*credit),
                _ => None,
            })
            .sum();
        let most = paid.saturating_sub(*refunded_before + credited);
        if credited > 0 && *amount > most {
            return Err(ApiError::policy_denied(
                "period_credited",
                format!(
                    "Part of this payment was already credited to you when your plan changed, so at most {} of it can be refunded here; a person from our support team can help with the rest.",
                    money(most as i64, currency)
                ),
            ));
        }
    }
    Ok(())
}

fn plan_change(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
) -> Result<(), ApiError> {
    let Act::PlanChange { period, .. } = act else {
        return Ok(());
    };
    // No proration credit for time whose payment was refunded.
    let refunded = history
        .others(id)
        .any(|e| matches!(&e.act, Act::Refund { period: Some(p), .. } if p == period));
    if refunded {
        return Err(ApiError::policy_denied(
            "period_refunded",
            "This period's payment was refunded, so the plan can't be changed before the next period starts; a person from our support team can help.",
        ));
    }
    let cap = policy.plan_changes_per_month;
    let month = month_of(now);
    let done = history
        .others(id)
        .filter(|e| matches!(e.act, Act::PlanChange { .. }) && month_of(e.at) == month)
        .count() as u64;
    if done >= cap {
        return Err(ApiError::policy_denied(
            "plan_change_limit",
            format!(
                "Plans can be changed at most {cap} times a month here; a person from support can help with another change."
            ),
        ));
    }
    Ok(())
}

/// The calendar month (UTC) of `t`, as `(year, month)`.
fn month_of(t: i64) -> (i32, u8) {
    let d =
        time::OffsetDateTime::from_unix_timestamp(t).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    (d.year(), u8::from(d.month()))
}

/// The pauses in the history, each with the time it really ended: its `until`, or the
/// resume that ended it early.
fn pauses<'a>(history: &'a History, id: &'a str) -> impl Iterator<Item = (i64, i64)> + 'a {
    history.others(id).filter_map(move |e| {
        let Act::Pause {
            subscription,
            until,
            ..
        } = &e.act
        else {
            return None;
        };
        let resumed = history
            .others(id)
            .filter(|r| r.at >= e.at)
            .filter_map(|r| match &r.act {
                Act::Resume {
                    subscription: s,
                    pause_until: Some(_),
                    ..
                } if s == subscription => Some(r.at),
                _ => None,
            })
            .min();
        Some((e.at, resumed.map_or(*until, |r| r.min(*until))))
    })
}

/// Days from `from` to `to`, a part day counted whole, and a pause that happened at all at
/// least one.
fn days(from: i64, to: i64) -> i64 {
    let secs = (to - from).max(0);
    (secs.div_euclid(DAY) + i64::from(secs.rem_euclid(DAY) > 0)).max(1)
}

fn pause(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
    dates: &Dates,
) -> Result<(), ApiError> {
    let Act::Pause { until, renewal, .. } = act else {
        return Ok(());
    };
    if let Some(renewal) = renewal
        && *until > *renewal
    {
        return Err(ApiError::policy_denied(
            "pause_spans_renewal",
            format!(
                "Payments can't be paused past your plan's yearly renewal on {}; a person from our support team can help.",
                dates.date(*renewal)
            ),
        ));
    }
    let year: Vec<(i64, i64)> = pauses(history, id)
        .filter(|(from, _)| now - from < YEAR)
        .collect();
    let cap = policy.pauses_per_year;
    if year.len() as u64 >= cap {
        return Err(ApiError::policy_denied(
            "pause_limit",
            format!(
                "Payments can be paused {} in any 12 months here; a person from our support team can help with another pause.",
                times(cap)
            ),
        ));
    }
    let used: i64 = year.iter().map(|(from, to)| days(*from, *to)).sum();
    let cap = policy.paused_days_per_year;
    if used + days(now, *until) > cap {
        return Err(ApiError::policy_denied(
            "pause_days_exceeded",
            format!(
                "Payments can be paused for at most {cap} days in any 12 months here, and {used} are used; a person from our support team can help."
            ),
        ));
    }
    Ok(())
}

fn times(n: u64) -> String {
    match n {
        0 => "no times".into(),
        1 => "once".into(),
        2 => "twice".into(),
        n => format!("{n} times"),
    }
}

/// An entry of the history and where it stands in it (time, then the order taken).
#[derive(Clone, Copy)]
struct Latest<'a> {
    at: (i64, usize),
    entry: &'a Entry,
}

/// `resume_subscription` undoes only what the bot did: a scheduled end or a pause is the
/// bot's when its latest cancel or pause of the subscription set exactly that, and nothing
/// the bot did since undid it.
fn resume(history: &History, act: &Act, id: &str) -> Result<(), ApiError> {
    let Act::Resume {
        subscription,
        cancel_at,
        pause_until,
    } = act
    else {
        return Ok(());
    };
    // The latest by time, then by the order the history took them in: a pause and its undo
    // can fall in the same second.
    let latest = |want: fn(&Act) -> bool| {
        history
            .others(id)
            .enumerate()
            .filter(|(_, e)| e.act.object() == Some(subscription.as_str()) && want(&e.act))
            .max_by_key(|(n, e)| (e.at, *n))
            .map(|(n, e)| Latest {
                at: (e.at, n),
                entry: e,
            })
    };
    let set_by_bot_cancel = cancel_at.is_none_or(|end| {
        let cancel = latest(|a| matches!(a, Act::Cancel { .. }));
        let undone = latest(|a| {
            matches!(
                a,
                Act::Resume {
                    cancel_at: Some(_),
                    ..
                }
            )
        });
        matches!(cancel.map(|c| c.entry), Some(Entry { act: Act::Cancel { at: Some(at), .. }, .. }) if *at == end)
            && cancel.map(|c| c.at) > undone.map(|u| u.at)
    });
    let set_by_bot_pause = pause_until.is_none_or(|end| {
        let pause = latest(|a| matches!(a, Act::Pause { .. }));
        let undone = latest(|a| {
            matches!(
                a,
                Act::Resume {
                    pause_until: Some(_),
                    ..
                }
            )
        });
        matches!(pause.map(|p| p.entry), Some(Entry { act: Act::Pause { until, .. }, .. }) if *until == end)
            && pause.map(|p| p.at) > undone.map(|u| u.at)
    });
    if set_by_bot_cancel && set_by_bot_pause {
        return Ok(());
    }
    Err(ApiError::policy_denied(
        "set_by_merchant",
        "That end date or pause was set by our team, not here, so it can't be undone here; a person from our support team can help.",
    ))
}

fn code(policy: &Policy, history: &History, act: &Act, id: &str, now: i64) -> Result<(), ApiError> {
    let Act::Code {
        subscription,
        existing,
        retention,
        ..
    } = act
    else {
        return Ok(());
    };
    // A retention discount is a save, not a price: once per customer in any 12 months.
    if *retention
        && let Some(earlier) = history.others(id).find(|e| {
            matches!(
                e.act,
                Act::Code {
                    retention: true,
                    ..
                }
            ) && now - e.at < YEAR
                && history.stands(e)
        })
    {
        return Err(ApiError::policy_denied(
            "offer_used",
            format!(
                "That offer can be used once a year, and it was applied to your account on {}; a person from our support team can help.",
                crate::timefmt::rfc3339(earlier.at)
                    .map(|t| t[..10].to_string())
                    .unwrap_or_default()
            ),
        ));
    }
    if policy.stack_codes {
        return Ok(());
    }
    // Stripe's list is the truth; the history covers a code being applied right now by a
    // concurrent confirmation that Stripe does not show yet.
    let racing = history.others(id).any(|e| {
        matches!(&e.act, Act::Code { subscription: s, .. } if s == subscription)
            && now - e.at < policy.duplicate_window_secs.max(600)
            && history.stands(e)
    });
    if *existing > 0 || racing {
        return Err(ApiError::policy_denied(
            "code_not_combinable",
            "Your subscription already has a discount, and codes can't be combined here; a person from our support team can help.",
        ));
    }
    Ok(())
}

fn details(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
) -> Result<(), ApiError> {
    let Act::Details {
        email, email_taken, ..
    } = act
    else {
        return Ok(());
    };
    if email.is_none() {
        return Ok(());
    }
    if !policy.email_changes {
        return Err(ApiError::policy_denied(
            "email_changes_off",
            "The billing email can't be changed here; a person from our support team can help.",
        ));
    }
    if *email_taken {
        return Err(ApiError::policy_denied(
            "email_in_use",
            "That email can't be used for your account here; a person from our support team can help.",
        ));
    }
    let recent = history
        .others(id)
        .any(|e| matches!(&e.act, Act::Details { email: Some(_), .. }) && now - e.at < 30 * DAY);
    if recent {
        return Err(ApiError::policy_denied(
            "email_change_limit",
            "The billing email can be changed once in 30 days here, and it was changed recently; a person from our support team can help.",
        ));
    }
    Ok(())
}

fn retry(
    policy: &Policy,
    history: &History,
    act: &Act,
    id: &str,
    now: i64,
) -> Result<(), ApiError> {
    let Act::Retry { invoice } = act else {
        return Ok(());
    };
    let cap = policy.retries_per_invoice_per_day;
    let tried = history
        .others(id)
        .filter(|e| matches!(&e.act, Act::Retry { invoice: i } if i == invoice))
        .filter(|e| now - e.at < DAY)
        .count() as u64;
    if tried >= cap {
        return Err(ApiError::policy_denied(
            "retry_limit",
            format!(
                "This invoice has been tried {cap} times in the last day; to protect your card, please try again tomorrow or update the card in the billing portal."
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
#[path = "policy_tests.rs"]
mod tests;
