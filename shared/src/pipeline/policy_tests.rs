//! The rules as pure functions: what each one refuses, and that it looks at the customer's
//! history only as long as it should.
use super::*;

const NOW: i64 = 1_800_000_000;

fn entry(id: &str, at: i64, act: Act) -> Entry {
    Entry {
        id: id.into(),
        at,
        act,
    }
}

fn refund(amount: u64, period: Option<PeriodRef>) -> Act {
    Act::Refund {
        charge: format!("ch_{amount}"),
        amount,
        currency: "usd".into(),
        paid: 9900,
        refunded_before: 0,
        period,
        ends_service: false,
        charged_at: NOW - DAY,
    }
}

fn period() -> PeriodRef {
    PeriodRef {
        subscription: "sub_1".into(),
        end: NOW + 20 * DAY,
    }
}

fn plan_change(credit: u64) -> Act {
    Act::PlanChange {
        subscription: "sub_1".into(),
        price: "price_starter".into(),
        period: period(),
        credit,
    }
}

fn judged(history: &[Entry], act: &Act) -> Verdict {
    let h = History {
        version: 1,
        entries: history.to_vec(),
    };
    judge(&Policy::default(), &h, act, "me", NOW, &Dates::utc())
}

fn refused(v: Verdict) -> String {
    match v {
        Verdict::Deny(e) => {
            assert_eq!(e.code, "policy_denied");
            assert!(e.escalate);
            e.reason.unwrap()
        }
        other => panic!("not refused: {other:?}"),
    }
}

#[test]
fn a_refunded_period_cannot_be_credited_again() {
    let refunded = entry("a", NOW - 60, refund(9900, Some(period())));
    assert_eq!(
        refused(judged(&[refunded], &plan_change(8000))),
        "period_refunded"
    );
    // Another period's refund does not hold the change.
    let older = PeriodRef {
        subscription: "sub_1".into(),
        end: NOW - 10 * DAY,
    };
    let other = entry("a", NOW - 60, refund(9900, Some(older)));
    assert_eq!(judged(&[other], &plan_change(8000)), Verdict::Allow);
}

#[test]
fn a_credited_period_is_refunded_at_most_what_is_left() {
    let changed = entry("a", NOW - 60, plan_change(8000));
    assert_eq!(
        refused(judged(
            std::slice::from_ref(&changed),
            &refund(9900, Some(period()))
        )),
        "period_credited"
    );
    assert_eq!(
        judged(&[changed], &refund(1900, Some(period()))),
        Verdict::Allow
    );
}

#[test]
fn the_customers_refunds_are_counted_per_hour_and_per_30_days() {
    let three: Vec<Entry> = (0..3)
        .map(|i| entry(&format!("r{i}"), NOW - 600, refund(100 + i, None)))
        .collect();
    assert_eq!(
        refused(judged(&three, &refund(1, None))),
        "customer_refund_rate_exceeded"
    );
    let old: Vec<Entry> = (0..3)
        .map(|i| entry(&format!("r{i}"), NOW - 2 * HOUR, refund(100 + i, None)))
        .collect();
    assert_eq!(judged(&old, &refund(1, None)), Verdict::Allow);
    let big = entry("big", NOW - 10 * DAY, refund(49_000, None));
    assert_eq!(
        refused(judged(std::slice::from_ref(&big), &refund(1_001, None))),
        "refund_cap_exceeded"
    );
    assert_eq!(judged(&[big], &refund(1_000, None)), Verdict::Allow);
    let gone = entry("big", NOW - 31 * DAY, refund(49_000, None));
    assert_eq!(judged(&[gone], &refund(50_000, None)), Verdict::Allow);
}

#[test]
fn plan_changes_count_per_calendar_month() {
    let changes: Vec<Entry> = (0..3)
        .map(|i| {
            entry(
                &format!("c{i}"),
                NOW - i as i64,
                Act::PlanChange {
                    subscription: "sub_1".into(),
                    price: format!("price_{i}"),
                    period: period(),
                    credit: 0,
                },
            )
        })
        .collect();
    assert_eq!(
        refused(judged(&changes, &plan_change(0))),
        "plan_change_limit"
    );
}

fn pause(until: i64, renewal: Option<i64>) -> Act {
    Act::Pause {
        subscription: "sub_1".into(),
        until,
        renewal,
    }
}

#[test]
fn pauses_once_a_year_within_90_days_and_never_over_a_yearly_renewal() {
    let earlier = entry("p", NOW - 200 * DAY, pause(NOW - 170 * DAY, None));
    assert_eq!(
        refused(judged(&[earlier], &pause(NOW + DAY, None))),
        "pause_limit"
    );
    let long_ago = entry("p", NOW - 400 * DAY, pause(NOW - 370 * DAY, None));
    assert_eq!(
        judged(&[long_ago], &pause(NOW + 90 * DAY, None)),
        Verdict::Allow
    );
    assert_eq!(
        refused(judged(&[], &pause(NOW + 40 * DAY, Some(NOW + 30 * DAY)))),
        "pause_spans_renewal"
    );
    assert_eq!(
        refused(judged(&[], &pause(NOW + 91 * DAY, None))),
        "pause_days_exceeded"
    );
}

#[test]
fn resume_undoes_only_the_bots_end_date_or_pause() {
    let end = NOW + 10 * DAY;
    let resume = |cancel_at, pause_until| Act::Resume {
        subscription: "sub_1".into(),
        cancel_at,
        pause_until,
    };
    assert_eq!(
        refused(judged(&[], &resume(Some(end), None))),
        "set_by_merchant"
    );
    let bot_cancel = entry(
        "c",
        NOW - 800,
        Act::Cancel {
            subscription: "sub_1".into(),
            at: Some(end),
        },
    );
    assert_eq!(
        judged(std::slice::from_ref(&bot_cancel), &resume(Some(end), None)),
        Verdict::Allow
    );
    // The merchant moved the date the bot set.
    assert_eq!(
        refused(judged(
            std::slice::from_ref(&bot_cancel),
            &resume(Some(end + DAY), None)
        )),
        "set_by_merchant"
    );
    // The bot's cancel was undone already (longer ago than a duplicate's window); the end
    // date now is someone else's.
    let undone = entry("r", NOW - 700, resume(Some(end), None));
    assert_eq!(
        refused(judged(&[bot_cancel, undone], &resume(Some(end), None))),
        "set_by_merchant"
    );
    let bot_pause = entry("p", NOW - 60, pause(NOW + 5 * DAY, None));
    assert_eq!(
        judged(&[bot_pause], &resume(None, Some(NOW + 5 * DAY))),
        Verdict::Allow
    );
    assert_eq!(
        refused(judged(&[], &resume(None, Some(0)))),
        "set_by_merchant"
    );
    // Paused, resumed and paused again within one second: the later pause is the bot's
    // by its place in the history (the bench did this and was refused).
    let until = NOW + 5 * DAY;
    let again = [
        entry("p1", NOW, pause(until, None)),
        entry("r1", NOW, resume(None, Some(until))),
        entry("p2", NOW, pause(until, None)),
    ];
    assert_eq!(judged(&again, &resume(None, Some(until))), Verdict::Allow);
}

#[test]
fn one_code_per_subscription_unless_the_tenant_stacks() {
    let code = |existing| Act::Code {
        subscription: "sub_1".into(),
        code: "promo_2".into(),
        existing,
        retention: false,
    };
    assert_eq!(refused(judged(&[], &code(1))), "code_not_combinable");
    let racing = entry(
        "x",
        NOW - 1,
        Act::Code {
            subscription: "sub_1".into(),
            code: "promo_1".into(),
            existing: 0,
            retention: false,
        },
    );
    assert_eq!(refused(judged(&[racing], &code(0))), "code_not_combinable");
    let stacking = Policy {
        stack_codes: true,
        ..Policy::default()
    };
    let h = History::default();
    assert_eq!(
        judge(&stacking, &h, &code(1), "me", NOW, &Dates::utc()),
        Verdict::Allow
    );
}

#[test]
fn the_same_write_within_the_window_is_a_duplicate_while_it_stands() {
    let first = entry("a", NOW - 60, refund(500, None));
    assert_eq!(
        judged(std::slice::from_ref(&first), &refund(500, None)),
        Verdict::Duplicate(first.clone())
    );
    let old = entry("a", NOW - 601, refund(500, None));
    assert_eq!(judged(&[old], &refund(500, None)), Verdict::Allow);
    // A cancel that was resumed since no longer stands: cancelling again is a new write.
    let cancel = Act::Cancel {
        subscription: "sub_1".into(),
        at: Some(NOW + DAY),
    };
    let c = entry("c", NOW - 60, cancel.clone());
    let r = entry(
        "r",
        NOW - 30,
        Act::Resume {
            subscription: "sub_1".into(),
            cancel_at: Some(NOW + DAY),
            pause_until: None,
        },
    );
    assert_eq!(
        judged(std::slice::from_ref(&c), &cancel),
        Verdict::Duplicate(c.clone())
    );
    assert_eq!(judged(&[c, r], &cancel), Verdict::Allow);
    // A payment retry is never a duplicate (its own plan reads the invoice's state).
    let retry = Act::Retry {
        invoice: "in_1".into(),
    };
    assert_eq!(
        judged(&[entry("t", NOW - 5, retry.clone())], &retry),
        Verdict::Allow
    );
}

#[test]
fn email_changes_are_bounded() {
    let details = |email: Option<&str>, taken| Act::Details {
        changes: format!("{email:?}"),
        email: email.map(str::to_string),
        email_taken: taken,
    };
    assert_eq!(
        refused(judged(&[], &details(Some("x@y.z"), true))),
        "email_in_use"
    );
    let changed = entry("e", NOW - 5 * DAY, details(Some("a@b.c"), false));
    assert_eq!(
        refused(judged(
            std::slice::from_ref(&changed),
            &details(Some("x@y.z"), false)
        )),
        "email_change_limit"
    );
    assert_eq!(judged(&[changed], &details(None, false)), Verdict::Allow);
    let off = Policy {
        email_changes: false,
        ..Policy::default()
    };
    let h = History::default();
    let v = judge(
        &off,
        &h,
        &details(Some("x@y.z"), false),
        "me",
        NOW,
        &Dates::utc(),
    );
    assert_eq!(refused(v), "email_changes_off");
}

#[test]
fn retries_are_counted_per_invoice_per_day() {
    let retry = |i: &str| Act::Retry { invoice: i.into() };
    let tries: Vec<Entry> = (0..3)
        .map(|n| entry(&format!("t{n}"), NOW - 3600, retry("in_1")))
        .collect();
    assert_eq!(refused(judged(&tries, &retry("in_1"))), "retry_limit");
    assert_eq!(judged(&tries, &retry("in_2")), Verdict::Allow);
}

#[test]
fn the_history_forgets_what_no_rule_looks_at() {
    let h = History {
        version: 3,
        entries: vec![
            entry(
                "retry",
                NOW - 3 * DAY,
                Act::Retry {
                    invoice: "in_1".into(),
                },
            ),
            entry("refund", NOW - 20 * DAY, refund(100, None)),
            entry("pause", NOW - 300 * DAY, pause(NOW - 250 * DAY, None)),
        ],
    };
    let kept: Vec<String> = h.pruned(NOW).entries.into_iter().map(|e| e.id).collect();
    assert_eq!(kept, ["refund", "pause"]);
    let next = h.with(entry("new", NOW, refund(1, None)), NOW);
    assert_eq!(next.entries.len(), 3);
    assert_eq!(next.without("new").entries.len(), 2);
    assert!(next.expires_at() > NOW + 60 * DAY);
}

#[test]
fn a_retention_discount_once_a_year() {
    let offer = |sub: &str| Act::Code {
        subscription: sub.into(),
        code: "promo_stay".into(),
        existing: 0,
        retention: true,
    };
    assert_eq!(judged(&[], &offer("sub_1")), Verdict::Allow);
    let last_spring = entry("x", NOW - 200 * DAY, offer("sub_1"));
    assert_eq!(
        refused(judged(&[last_spring], &offer("sub_2"))),
        "offer_used"
    );
    let long_ago = entry("x", NOW - 400 * DAY, offer("sub_1"));
    assert_eq!(judged(&[long_ago], &offer("sub_2")), Verdict::Allow);
    // A plain code does not use the offer up, and the offer does not block plain codes.
    let plain = |existing| Act::Code {
        subscription: "sub_2".into(),
        code: "promo_spring".into(),
        existing,
        retention: false,
    };
    let offered = entry("x", NOW - 200 * DAY, offer("sub_1"));
    assert_eq!(judged(&[offered], &plain(0)), Verdict::Allow);
}
