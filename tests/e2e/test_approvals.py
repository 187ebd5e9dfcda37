"""Approvals that resume, against the local stack (the real binaries, DynamoDB on moto, the
Stripe emulator): a refund over the cap waits for a person and refunds nothing; the agent's
approval refunds it exactly once however often it is sent, raced or repeated; a denial
refunds nothing; the visitor reads the outcome."""
import time
from concurrent.futures import ThreadPoolExecutor

import jwt
import requests

import stack as st
from conftest import ENV, stripe

CAP = 1000  # $10.00 in 30 days: any demo charge passes it


class Tenant:
    """A tenant of its own with a low refund cap that a person may lift (the default)."""

    def __init__(self):
        self.id = f"approvals-{int(time.time() * 1000) % 10**9}"
        secrets = st.create_tenant(ENV, self.id, ENV["STRIPE_API_KEY"], {
            "enabled_tools": ["get_subscription_status", "request_refund"],
            "policy": {"refund_max_per_30_days": CAP},
            "rate_limits": {"per_visitor_per_minute": 100000, "per_tenant_per_minute": 100000},
        })
        self.identity, self.agent, self.panel = secrets["identity"], secrets["agent"], secrets["panel"]

    def token(self, secret: str, sub: str, **claims) -> str:
        now = int(time.time())
        return jwt.encode({"sub": sub, "aud": self.id, "iat": now, "exp": now + 600, **claims}, secret,
                          algorithm="HS256")

    def visitor(self, customer: str) -> dict:
        return {"Authorization": f"Bearer {self.token(self.identity, f'u-{customer}', stripe_customer_id=customer)}"}

    def refund(self, customer: str, body: dict) -> tuple[int, dict]:
        r = requests.post(f"{ENV['API_URL']}/v1/{self.id}/tools/request_refund", json=body, timeout=30,
                          headers=self.visitor(customer))
        return r.status_code, r.json()

    def decide(self, approval: str, decision: str, sub: str = "agent_ann") -> tuple[int, dict]:
        r = requests.post(f"{ENV['API_URL']}/v1/{self.id}/agent/approvals/{approval}", timeout=30,
                          json={"decision": decision},
                          headers={"Authorization": f"Bearer {self.token(self.agent, sub, role='agent')}"})
        return r.status_code, r.json()

    def pending(self) -> list[dict]:
        r = requests.get(f"{ENV['API_URL']}/v1/{self.id}/agent/approvals", params={"status": "pending"}, timeout=30,
                         headers={"Authorization": f"Bearer {self.token(self.agent, 'agent_ann', role='agent')}"})
        assert r.status_code == 200, r.text
        return r.json()["approvals"]

    def requests_of(self, customer: str) -> list[dict]:
        r = requests.get(f"{ENV['API_URL']}/v1/{self.id}/visitor/requests", timeout=30, headers=self.visitor(customer))
        assert r.status_code == 200, r.text
        return r.json()["requests"]

    def ask(self, customer: str, charge: str) -> str:
        status, body = self.refund(customer, {"payment_id": charge})
        assert status == 200 and body["confirmation"]["needs_approval"] is True, body
        status, body = self.refund(customer, {"confirm": body["confirmation"]["token"]})
        assert status == 200 and body["status"] == "pending_approval", body
        return body["approval"]["id"]


def paid_charge() -> tuple[str, str]:
    customer = stripe("POST", "/v1/customers", {"email": f"approval-{time.time_ns()}@example.com"})["id"]
    pm = stripe("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})["id"]
    stripe("POST", f"/v1/customers/{customer}", {"invoice_settings[default_payment_method]": pm})
    stripe("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": ENV["DEMO_PRICE_STARTER"]})
    return customer, stripe("GET", f"/v1/charges?customer={customer}&limit=1")["data"][0]["id"]


def refunds_to(charge: str) -> int:
    """The refunds the emulator made of `charge` (counted where the money moves)."""
    return len(stripe("GET", f"/v1/refunds?charge={charge}&limit=100")["data"])


def test_an_approved_refund_happens_once_however_often_it_is_approved():
    t = Tenant()
    customer, charge = paid_charge()
    approval = t.ask(customer, charge)
    assert refunds_to(charge) == 0, "waiting refunds nothing"
    waiting = [a for a in t.pending() if a["id"] == approval]
    assert waiting and waiting[0]["bound"]["reason"] == "refund_cap_exceeded", waiting
    assert t.requests_of(customer)[0]["status"] == "pending"

    with ThreadPoolExecutor(max_workers=10) as pool:
        answers = list(pool.map(lambda _: t.decide(approval, "approve"), range(20)))
    answers.append(t.decide(approval, "approve"))
    assert {s for s, _ in answers} <= {200, 409}, answers[:3]
    assert any(s == 200 for s, _ in answers), answers[:3]
    assert refunds_to(charge) == 1, "21 approvals, one refund"
    mine = t.requests_of(customer)[0]
    assert mine["status"] == "approved" and mine["outcome"]["ok"] is True, mine


def test_a_denied_refund_changes_nothing_and_the_visitor_hears_it():
    t = Tenant()
    customer, charge = paid_charge()
    approval = t.ask(customer, charge)
    status, body = t.decide(approval, "deny")
    assert status == 200, body
    status, body = t.decide(approval, "approve")
    assert status == 409 and body["error"]["reason"] == "already_decided", body
    assert refunds_to(charge) == 0
    assert t.requests_of(customer)[0]["status"] == "denied"
    r = requests.post(f"{ENV['API_URL']}/v1/{t.id}/tools/get_subscription_status", json={}, timeout=30,
                      headers=t.visitor(customer))
    assert "declined it" in r.json()["summary"], r.json()
