"""request_refund through the running binaries with its caps in DynamoDB (rolling windows
claimed by compare-and-set in the confirmation's transaction): a confirmation raced and
replayed refunds once, and concurrent refunds never pass the customer's 30-day cap."""
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import requests
from conftest import ENV, stripe

import stack as st

CAP = 5000  # minor units: two refunds of the 19.00 starter plan fit, a third does not


def refunds_of(charges: list[str]) -> int:
    return sum(stripe("GET", f"/v1/charges/{c}")["amount_refunded"] for c in charges)


class Tenant:
    """A tenant of its own with a low refund cap, on the demo's Stripe account."""

    def __init__(self):
        self.id = f"refunds-{int(time.time() * 1000) % 10**9}"
        self.secret = st.create_tenant(ENV, self.id, ENV["STRIPE_API_KEY"], {
            "enabled_tools": ["get_payment_history", "request_refund"],
            # The hard cap, with no approvals to lift it (tests/e2e/test_approvals.py has those).
            "policy": {"refund_max_per_30_days": CAP, "refunds_per_customer_per_hour": 10, "approval_for": []},
            "rate_limits": {"per_visitor_per_minute": 100000, "per_tenant_per_minute": 100000},
        })["identity"]

    def call(self, customer: str, body: dict) -> tuple[int, dict]:
        now = int(time.time())
        token = jwt.encode({"sub": f"u-{customer}", "aud": self.id, "iat": now, "exp": now + 600,
                            "stripe_customer_id": customer}, self.secret, algorithm="HS256")
        r = requests.post(f"{ENV['API_URL']}/v1/{self.id}/tools/request_refund", json=body, timeout=30,
                          headers={"Authorization": f"Bearer {token}"})
        return r.status_code, r.json()


def paid_charges(n: int) -> tuple[str, list[str]]:
    customer = stripe("POST", "/v1/customers", {"email": f"refund-{time.time_ns()}@example.com"})["id"]
    pm = stripe("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})["id"]
    stripe("POST", f"/v1/customers/{customer}", {"invoice_settings[default_payment_method]": pm})
    for _ in range(n):
        stripe("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": ENV["DEMO_PRICE_STARTER"]})
    charges = [c["id"] for c in stripe("GET", f"/v1/charges?customer={customer}&limit=100")["data"]]
    assert len(charges) == n
    return customer, charges


def test_a_refund_raced_and_replayed_happens_once():
    t = Tenant()
    customer, [charge] = paid_charges(1)
    status, body = t.call(customer, {"payment_id": charge, "amount": 500})
    assert status == 200 and body["status"] == "confirmation_required", body
    assert refunds_of([charge]) == 0, "a preview refunds nothing"
    confirm = {"confirm": body["confirmation"]["token"]}
    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: t.call(customer, confirm), range(20)))
    answers += [t.call(customer, confirm) for _ in range(10)]
    assert {s for s, _ in answers} == {200}, answers[:2]
    assert len({b["summary"] for _, b in answers}) == 1
    assert refunds_of([charge]) == 500


def test_concurrent_refunds_never_pass_the_30_day_cap():
    t = Tenant()
    customer, charges = paid_charges(8)
    price = stripe("GET", f"/v1/charges/{charges[0]}")["amount"]
    tokens = []
    for ch in charges:
        status, body = t.call(customer, {"payment_id": ch})
        assert status == 200, body
        tokens.append(body["confirmation"]["token"])
    with ThreadPoolExecutor(max_workers=8) as pool:
        answers = list(pool.map(lambda tok: t.call(customer, {"confirm": tok}), tokens))
    done = sum(1 for s, _ in answers if s == 200)
    capped = sum(1 for s, b in answers if s == 403 and b["error"]["reason"] == "refund_cap_exceeded")
    print(f"cap {CAP}, 8 concurrent refunds of {price}: {done} done, {capped} refused at the cap")
    assert done == CAP // price and done + capped == len(charges), answers
    assert refunds_of(charges) == done * price <= CAP
