"""get_subscription_status through the running function binary: route, Lambda runtime,
DynamoDB/Secrets Manager/KMS on moto, the Stripe emulator, and the audit table."""
import os
import time

import boto3
import pytest
from conftest import ENV, mint

TOOL = "get_subscription_status"


def as_user(state: str) -> str:
    return mint(ENV[f"DEMO_{state.upper()}_USER"])


def test_active_visitor_sees_plan_price_and_next_payment(api):
    status, body = api.tool(TOOL, as_user("active"))
    assert status == 200, body
    assert body["ok"] is True and body["status"] == "done" and body["request_id"]
    sub = body["data"]["subscriptions"][0]
    assert sub["status"] == "active"
    assert sub["plan"]["name"] == "Growth"
    assert sub["amount"] == {"amount": 4900, "currency": "usd", "formatted": "$49.00"}
    assert sub["next_payment_date"].endswith("Z")
    assert body["summary"].startswith("You're on the Growth plan ($49.00/month).")


def test_trialing_visitor_hears_when_the_trial_ends(api):
    status, body = api.tool(TOOL, as_user("trialing"))
    assert status == 200, body
    sub = body["data"]["subscriptions"][0]
    assert sub["status"] == "trialing" and sub["trial_end"]
    assert "free trial of the Scale plan" in body["summary"]


def test_past_due_visitor_hears_what_failed(api):
    status, body = api.tool(TOOL, as_user("past_due"))
    assert status == 200, body
    sub = body["data"]["subscriptions"][0]
    assert sub["status"] == "past_due"
    assert sub["latest_invoice"]["status"] == "open"
    assert "past due" in body["summary"] and "$19.00" in body["summary"]


def test_canceling_visitor_hears_the_end_date(api):
    status, body = api.tool(TOOL, as_user("canceling"))
    assert status == 200, body
    sub = body["data"]["subscriptions"][0]
    assert sub["cancel_at_period_end"] is True and sub["cancels_at"]
    assert "set to cancel on" in body["summary"]


def test_visitor_without_subscription_by_email(api):
    status, body = api.tool(TOOL, mint("user_new", email=ENV["DEMO_NOTHING_EMAIL"].upper(), email_verified=True))
    assert status == 200, body
    assert body["data"]["customer_id"] == ENV["DEMO_NOTHING_CUSTOMER"]
    assert body["data"]["subscriptions"] == []
    assert body["summary"] == "You don't have a subscription."


def test_unknown_and_ambiguous_customers(api):
    status, body = api.tool(TOOL, mint("user_q", email="nobody@nowhere.example", email_verified=True))
    assert (status, body["error"]["code"]) == (404, "customer_not_found")
    status, body = api.tool(TOOL, mint("user_s", email=ENV["DEMO_AMBIGUOUS_EMAIL"], email_verified=True))
    assert (status, body["error"]["code"]) == (409, "ambiguous_customer")
    assert body["error"]["escalate"] is True


def test_identity_is_required_and_checked(api):
    status, body = api.tool(TOOL)
    assert (status, body["error"]["code"]) == (401, "identity_required")
    status, body = api.tool(TOOL, mint(ENV["DEMO_ACTIVE_USER"], ttl=-5))
    assert (status, body["error"]["code"]) == (401, "identity_expired")
    status, body = api.tool(TOOL, as_user("active"), body={"nope": True})
    assert status == 400 and "nope" in body["error"]["message"]
    status, body = api.tool(TOOL, as_user("active"), tenant="nobody-here")
    assert (status, body["error"]["code"]) == (404, "unknown_tenant")


@pytest.mark.parametrize("kind", ["500", "429", "hang"])
def test_stripe_failure_escalates_in_bounded_time_and_is_audited(api, emulator, kind):
    emulator.fault(kind, 10)
    try:
        started = time.monotonic()
        status, body = api.tool(TOOL, as_user("active"))
        took = time.monotonic() - started
    finally:
        emulator.clear()
    assert status in (502, 503), body
    assert body["error"]["code"] == "billing_unavailable"
    assert body["error"]["escalate"] is True
    assert took < 6, f"took {took:.1f}s"
    table = boto3.resource("dynamodb", region_name="us-east-1").Table(os.environ["AUDIT_TABLE"])
    pk = f"{ENV['TENANT']}#{ENV['DEMO_ACTIVE_CUSTOMER']}"
    items = table.query(KeyConditionExpression="pk = :pk", ExpressionAttributeValues={":pk": pk})["Items"]
    record = next(i for i in items if i["request_id"] == body["request_id"])
    assert record["outcome"] == "billing_unavailable"
    assert record["tool"] == TOOL
    assert record["actor"] == f"visitor:{ENV['DEMO_ACTIVE_USER']}"
    assert int(record["stripe_requests"]) >= 2
