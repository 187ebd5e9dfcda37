"""The webhook function on DynamoDB (moto): signed events applied once, an older one never
over a newer, a failed/paid pair in reverse order ends resolved, and the recovery queue and
the audience tags show what the events said. Events are Stripe-shaped and signed with the
demo tenant's webhook secret, as Stripe would send them."""
import json
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import requests
from conftest import ENV, mint

import stack


def post(event: dict, secret: str | None = None, at: int | None = None) -> tuple[int, dict]:
    body = json.dumps(event).encode()
    sig = stack.stripe_signature(secret or ENV["WEBHOOK_SECRET"], body, at)
    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/webhooks/stripe", data=body, timeout=30,
                      headers={"Content-Type": "application/json", "Stripe-Signature": sig})
    return r.status_code, r.json()


def sub_event(customer: str, status: str, created: int, evt: str | None = None) -> dict:
    return {"id": evt or f"evt_{uuid.uuid4().hex}", "object": "event", "type": "customer.subscription.updated",
            "created": created, "livemode": False,
            "data": {"object": {"id": f"sub_{customer[4:]}", "object": "subscription", "customer": customer,
                                "status": status, "created": 1_700_000_000, "cancel_at_period_end": False,
                                "trial_end": None, "items": {"data": [{"price": {"id": "price_x", "product": "prod_none"}}]}}}}


def invoice_event(kind: str, customer: str, invoice: str, created: int, attempts: int = 1) -> dict:
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "type": kind, "created": created, "livemode": False,
            "data": {"object": {"id": invoice, "object": "invoice", "customer": customer, "amount_due": 1900,
                                "currency": "usd", "attempt_count": attempts, "next_payment_attempt": created + 86400,
                                "hosted_invoice_url": f"https://invoice.stripe.com/i/{invoice}"}}}


def agent_get(path: str, **params) -> dict:
    token = stack.mint(ENV["AGENT_SECRET"], "agent_e2e", role="agent")
    r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/agent/{path}", params=params, timeout=30,
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def tags(customer: str) -> dict:
    token = mint("user_tags_e2e", stripe_customer_id=customer)
    r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/visitor/tags", timeout=30,
                     headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    return r.json()


def test_signed_events_are_applied_once_and_never_regress():
    customer = f"cus_E2e{uuid.uuid4().hex[:10]}"
    now = int(time.time())
    newest = sub_event(customer, "past_due", now)
    with ThreadPoolExecutor(8) as pool:
        outcomes = list(pool.map(lambda _: post(newest)[1]["outcome"], range(8)))
    assert sorted(outcomes) == ["applied"] + ["duplicate"] * 7, outcomes
    assert post(sub_event(customer, "active", now - 100))[1]["outcome"] == "stale"
    t = tags(customer)
    assert t["tags"]["subscription_status"] == "past_due" and t["tags"]["delinquent"] is False, t

    status, body = post(sub_event(customer, "canceled", now + 1), secret="whsec_" + "x" * 32)
    assert status == 400 and body["error"]["reason"] == "no_matching_signature"
    status, body = post(sub_event(customer, "canceled", now + 1), at=now - 400)
    assert status == 400 and body["error"]["reason"] == "timestamp_out_of_tolerance"
    assert tags(customer)["tags"]["subscription_status"] == "past_due"


def test_a_failed_then_paid_pair_in_reverse_ends_resolved_and_the_queue_shows_it():
    customer = f"cus_E2e{uuid.uuid4().hex[:10]}"
    now = int(time.time())
    open_inv, reversed_inv = f"in_open{uuid.uuid4().hex[:8]}", f"in_rev{uuid.uuid4().hex[:8]}"
    assert post(invoice_event("invoice.paid", customer, reversed_inv, now + 60, attempts=2))[0] == 200
    assert post(invoice_event("invoice.payment_failed", customer, reversed_inv, now))[0] == 200
    assert post(invoice_event("invoice.payment_failed", customer, open_inv, now))[0] == 200
    assert post(invoice_event("invoice.payment_failed", customer, open_inv, now + 5, attempts=2))[0] == 200

    opened = [r for r in agent_get("recovery", status="open")["recoveries"] if r["customer"] == customer]
    assert [(r["invoice"], r["attempt_count"]) for r in opened] == [(open_inv, 2)], opened
    assert opened[0]["amount_due"]["formatted"] == "$19.00"
    resolved = [r for r in agent_get("recovery", status="resolved")["recoveries"] if r["customer"] == customer]
    assert [r["invoice"] for r in resolved] == [reversed_inv], resolved
    assert resolved[0]["opened_at"] and resolved[0]["resolved_at"]
    assert tags(customer)["tags"]["delinquent"] is True
