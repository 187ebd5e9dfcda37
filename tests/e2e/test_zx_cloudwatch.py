"""The saved Logs Insights queries and the alarms' metric filters of template.yaml, run
(by infra/logs_insights.py) against the JSON lines the functions printed during this test
run: every field a query names exists in those lines, and each selects what its name says,
checked against the same lines counted independently."""
from collections import Counter
from pathlib import Path

import pytest
from conftest import ENV

import logs_insights as li
import template as tpl

WRITE_TOOLS = {"change_plan", "cancel_subscription", "resume_subscription", "pause_subscription",
               "update_billing_details", "apply_coupon", "request_refund", "retry_payment"}


@pytest.fixture(scope="module")
def logs() -> list[dict]:
    rows = li.lines(Path(ENV["STACK_LOG_DIR"]))
    assert len(rows) > 100, "the other end-to-end tests ran first and logged"
    return rows


@pytest.fixture(scope="module")
def queries() -> dict[str, str]:
    found = tpl.resources(tpl.load(), "AWS::Logs::QueryDefinition")
    return {logical: res["Properties"]["QueryString"] for logical, res in found.items()}


def audit(rows):
    return [r for r in rows if r.get("message") == "audit"]


def run(text: str, rows: list[dict]) -> tuple[li.Query, list[dict]]:
    q = li.Query(text)
    return q, q.run(rows)


def test_every_field_a_query_names_is_in_the_lines(logs, queries):
    present = set().union(*(r.keys() for r in logs))
    assert len(queries) == 7
    for logical, text in queries.items():
        q, _ = run(text, logs)
        missing = q.names - present
        assert not missing, f"{logical} names fields no line has: {missing}"


def test_bot_actions_for_one_customer(logs, queries):
    customer = ENV["DEMO_ACTIVE_CUSTOMER"]
    _, rows = run(queries["BotActionsForCustomerQuery"].replace("cus_REPLACE_ME", customer), logs)
    mine = sorted(audit(r for r in logs if r.get("customer") == customer),
                  key=lambda r: r["@timestamp"], reverse=True)[:200]
    assert rows and [r["request_id"] for r in rows] == [r["request_id"] for r in mine]
    assert {r["tool"] for r in rows} >= {"get_subscription_status"}


def test_refusals_by_reason(logs, queries):
    _, rows = run(queries["RefusalsByReasonQuery"], logs)
    expected = Counter()
    for r in logs:
        if r.get("message") == "audit" and r.get("outcome") not in ("ok", "pending", None):
            expected[(r["outcome"], r.get("reason"), r.get("tool"))] += 1
        elif r.get("RefusedBeforeIdentity") == 1:
            expected[(r["code"], r.get("reason"), r.get("tool"))] += 1
    got = Counter({(r["refused_as"], r["reason"], r["tool"]): r["refusals"] for r in rows})
    assert got == expected
    kinds = {k[0] for k in got}
    assert {"identity_invalid", "not_owner", "policy_denied"} <= kinds, kinds
    assert [r["refusals"] for r in rows] == sorted((r["refusals"] for r in rows), reverse=True)


def test_writes_by_tool_and_outcome(logs, queries):
    _, rows = run(queries["WritesByToolQuery"], logs)
    expected = Counter((r["tool"], r["outcome"]) for r in audit(logs)
                       if r.get("write") == "yes" and r["outcome"] != "pending")
    got = Counter({(r["tool"], r["outcome"]): r["writes"] for r in rows})
    assert got == expected and ("change_plan", "ok") in got
    assert {t for t, _ in got} <= WRITE_TOOLS


def test_stripe_failures_and_escalations(logs, queries):
    _, rows = run(queries["StripeFailuresQuery"], logs)
    assert rows and len(rows) <= 200
    assert all(r["outcome"] in ("billing_unavailable", "policy_denied") or r["reason"].startswith("stripe_")
               for r in rows)
    assert any(r["outcome"] == "billing_unavailable" and r["reason"].startswith("stripe_") for r in rows)


def test_webhook_events_applied_or_refused(logs, queries):
    _, rows = run(queries["WebhookEventsQuery"], logs)
    got = {(r["result"], r["reason"]): r["events"] for r in rows}
    applied = sum(1 for r in audit(logs) if r.get("tool") == "stripe_webhook" and r["outcome"] == "ok")
    assert got.get(("ok", "-")) == applied > 0
    refused = sum(v for (result, _), v in got.items() if result == "invalid_request")
    assert refused > 0, got


def test_pending_writes_name_the_one_left_unfinished(logs, queries):
    text = queries["PendingWritesQuery"]
    _, rows = run(text, logs)
    assert rows == [], "every write of this run finished"
    # A crash between Stripe and the closing record: drop one write's closing line.
    closing = next(r for r in audit(logs) if r.get("write") == "yes" and r["outcome"] == "ok")
    crashed = [r for r in logs if r is not closing]
    _, rows = run(text, crashed)
    assert [r["request_id"] for r in rows] == [closing["request_id"]]
    assert rows[0]["tool"] == closing["tool"] and rows[0]["last_outcome"] == "pending"


def test_alarm_metric_filters_count_what_they_say(logs):
    filters = tpl.resources(tpl.load(), "AWS::Logs::MetricFilter")
    counts = {}
    for logical, res in filters.items():
        e = li.metric_filter(res["Properties"]["FilterPattern"])
        counts[res["Properties"]["MetricTransformations"][0]["MetricName"]] = sum(1 for r in logs if e.eval(r))
    a = audit(logs)
    assert counts["Calls"] == len(a)
    assert counts["ServerErrors"] == sum(1 for r in a if r["http_status"] >= 500) > 0
    assert counts["BillingUnavailable"] == sum(1 for r in a if r["outcome"] == "billing_unavailable") > 0
    assert counts["WebhookSignatureFailures"] == sum(
        1 for r in logs if r.get("RefusedBeforeIdentity") == 1 and r.get("tool") == "stripe_webhook") > 0
    assert counts["CapRefusals"] == sum(1 for r in a if r["outcome"] == "policy_denied"
                                        and r["reason"].endswith("_exceeded")) > 0
    assert counts["WritesStarted"] == counts["WritesFinished"] > 0, counts


def test_the_interpreter_sorts_numbers_as_numbers():
    # Logs Insights sorts a count of 120 above one of 6; as text it would come last.
    rows = [{"message": "audit", "outcome": "x", "n": i} for i in range(120)] + \
           [{"message": "audit", "outcome": "y", "n": i} for i in range(6)]
    got = li.Query('filter message = "audit" | stats count(*) as refusals by outcome | sort refusals desc').run(rows)
    assert [r["refusals"] for r in got] == [120, 6]
