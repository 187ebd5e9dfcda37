"""Every read tool for every demo state, through the running binaries: the summary a bot
would say agrees with the data beside it (the amounts, the counts, the dates' zone)."""
import re

import pytest
import requests
from conftest import ENV

import stack

STATES = ["active", "trialing", "past_due", "canceling", "credit", "manual", "nothing"]
TOOLS = ["get_subscription_status", "get_invoice_history", "get_payment_history", "get_billing_info",
         "get_upcoming_invoice", "get_available_plans", "get_credit_balance"]
MONTH = r"(January|February|March|April|May|June|July|August|September|October|November|December)"


def token(state: str) -> str:
    # mint_token.py's rule: a demo user's email comes along, verified.
    return stack.mint(ENV["IDENTITY_SECRET"], ENV[f"DEMO_{state.upper()}_USER"],
                      email=ENV[f"DEMO_{state.upper()}_EMAIL"], email_verified=True)


def call(tool: str, state: str, body=None, scheme="Bearer"):
    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/{tool}", json=body or {}, timeout=30,
                      headers={"Authorization": f"{scheme} {token(state)}"})
    assert r.status_code == 200, f"{tool} for {state}: {r.text[:300]}"
    return r.json()


def agrees(tool: str, data: dict, summary: str) -> None:
    if tool == "get_subscription_status" and data["subscriptions"]:
        sub = data["subscriptions"][0]
        assert sub["amount"]["formatted"] in summary
        if sub["cancels_at"]:
            assert "cancel" in summary and sub["canceled_at"] is None
    if tool == "get_invoice_history" and data["invoices"]:
        latest = data["invoices"][0]
        assert latest["total"]["formatted"] in summary
        assert ("you have more" in summary) == data["has_more"]
        if latest["status"] == "open":
            assert ("due by" in summary or "due now" in summary) and summary.count(latest["number"]) == 1
    if tool == "get_payment_history" and data["payments"]:
        last = data["payments"][0]
        assert last["amount"]["formatted"] in summary
        if last["status"] == "failed":
            assert last["failure_reason"] in summary
    if tool == "get_upcoming_invoice" and data["upcoming_invoice"]:
        up = data["upcoming_invoice"]
        assert up["amount_due"]["formatted"] in summary
        if up["applied_balance"]["amount"] < 0:
            assert "after" in summary and "includes" not in summary
    if tool == "get_credit_balance":
        if data["kind"] == "credit":
            assert data["credit"]["formatted"] in summary
        if data["open_invoices"]:
            assert "nothing is owed" not in summary and "open" in summary
    # Dates are said with their zone: the demo tenant has none, so UTC.
    for _ in re.finditer(MONTH + r" \d{1,2}, \d{4}", summary):
        assert "(UTC)" in summary, summary


@pytest.mark.parametrize("state", STATES)
def test_every_summary_agrees_with_its_data(state):
    for tool in TOOLS:
        body = call(tool, state)
        summary = body["summary"]
        assert summary and not re.search(r"\bNone\b|\bnull\b|\{|\}", summary), summary
        agrees(tool, body["data"], summary)


def test_the_bearer_scheme_is_case_insensitive():
    body = call("get_billing_info", "active", scheme="bearer")
    assert body["ok"] is True


def test_agent_insight_for_every_state_names_what_matters():
    agent = stack.mint(ENV["AGENT_SECRET"], "agent_1", role="agent")
    url = f"{ENV['API_URL']}/v1/{ENV['TENANT']}/agent/insight"
    want = {"canceling": "set to cancel on", "past_due": "failed: the card was declined",
            "credit": "Account credit: $15.00", "manual": "is open with"}
    for state in STATES:
        r = requests.get(url, params={"customer_id": ENV[f"DEMO_{state.upper()}_CUSTOMER"]},
                         headers={"Authorization": f"Bearer {agent}"}, timeout=30)
        assert r.status_code == 200, r.text
        if state in want:
            assert want[state] in r.json()["summary"], (state, r.json()["summary"])
    r = requests.get(url, params={"email": ENV["DEMO_AMBIGUOUS_EMAIL"]},
                     headers={"Authorization": f"Bearer {agent}"}, timeout=30)
    assert r.status_code == 409 and len(r.json()["error"]["candidates"]) == 2, r.text
