"""New subscriptions through Stripe Checkout: a visitor who is not a Stripe customer gets a
Checkout link for an allowed price (an unlisted one is refused and nothing is made);
completing it on Stripe's page (the emulator's control) makes the customer and the
subscription, and the `checkout.session.completed` webhook maps the user, so their next
`get_subscription_status` finds it. An agent sends the same kind of link."""
import time

import requests
import stripe as stripe_sdk

import stack
from conftest import ENV, mint, need, posts_to, until

SESSIONS = "/v1/checkout/sessions"


def v1():
    return stripe_sdk.StripeClient(need("STRIPE_API_KEY"), base_addresses={"api": need("STRIPE_API_BASE")},
                                   max_network_retries=0).v1


def complete(session_id: str, card: str = "pm_card_visa") -> dict:
    r = requests.post(f"{need('STRIPE_API_BASE')}/_emulator/checkout/sessions/{session_id}/complete",
                      json={"key": need("STRIPE_API_KEY"), "card": card}, timeout=30)
    assert r.status_code == 200, r.text
    return r.json()


def test_a_newcomer_starts_a_subscription_through_checkout(api):
    user = f"newcomer-{int(time.time() * 1000)}"
    email = f"{user}@example.com"
    token = mint(user, email=email, email_verified=True)
    status, body = api.tool("get_subscription_status", token)
    assert status == 404 and body["error"]["code"] == "customer_not_found", body

    # An unlisted price: refused before anything is made in Stripe.
    product = v1().products.create(params={"name": "Secret"})
    unlisted = v1().prices.create(params={"product": product.id, "unit_amount": 100,
                                          "currency": "usd", "recurring": {"interval": "month"}})
    before = posts_to(SESSIONS)
    status, body = api.tool("start_subscription", token, {"price_id": unlisted.id})
    assert status == 403 and body["error"]["reason"] == "price_not_allowed", body
    status, body = api.tool("start_subscription", token, {"price_id": "not a price"})
    assert status == 400 and "price_id" in body["error"]["message"], body
    assert posts_to(SESSIONS) == before

    status, body = api.tool("start_subscription", token, {"price_id": ENV["DEMO_PRICE_GROWTH"]})
    assert status == 200 and body["status"] == "done", body
    data = body["data"]
    assert data["url"].startswith("https://checkout.stripe.com/") and data["url"] in body["summary"], data
    assert data["new_customer"] is True and data["price"] == "$49.00/month" and data["expires_at"], data
    assert posts_to(SESSIONS) == before + 1
    session = v1().checkout.sessions.retrieve(data["session_id"])
    assert session.mode == "subscription" and session.status == "open" and session.customer is None
    assert session.customer_email == email and session.client_reference_id == user
    assert session.success_url == "https://demo.example.com/account"

    done = complete(data["session_id"])
    assert done["status"] == "complete" and done["customer"].startswith("cus_") and done["subscription"]
    found = until(lambda: (lambda r: r if r[0] == 200 else None)(
        api.tool("get_subscription_status", token)), timeout=20)
    assert found, "the user's next call finds the new customer"
    status, body = found
    sub = body["data"]["subscriptions"][0]
    assert sub["id"] == done["subscription"] and sub["status"] == "active", body
    # A live subscription: no second one through checkout.
    status, body = api.tool("start_subscription", token, {"price_id": ENV["DEMO_PRICE_STARTER"]})
    assert status == 403 and body["error"]["reason"] == "already_subscribed", body


def test_a_session_expires_and_cannot_be_completed():
    user = f"expirer-{int(time.time() * 1000)}"
    token = mint(user, email=f"{user}@example.com", email_verified=True)
    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/start_subscription",
                      json={"price_id": ENV["DEMO_PRICE_STARTER"]},
                      headers={"Authorization": f"Bearer {token}"}, timeout=30)
    assert r.status_code == 200, r.text
    sid = r.json()["data"]["session_id"]
    expired = v1().checkout.sessions.expire(sid)
    assert expired.status == "expired" and expired.url is None
    r = requests.post(f"{need('STRIPE_API_BASE')}/_emulator/checkout/sessions/{sid}/complete",
                      json={"key": need("STRIPE_API_KEY")}, timeout=30)
    assert r.status_code == 400


def test_an_agent_sends_a_subscription():
    agent = stack.mint(ENV["AGENT_SECRET"], "agent_checkout", role="agent")
    url = f"{ENV['API_URL']}/v1/{ENV['TENANT']}/agent/checkout"
    headers = {"Authorization": f"Bearer {agent}"}
    r = requests.post(url, json={"email": f"lead-{int(time.time())}@example.com",
                                 "price_id": ENV["DEMO_PRICE_STARTER"]}, headers=headers, timeout=30)
    assert r.status_code == 200 and r.json()["url"].startswith("https://checkout.stripe.com/"), r.text
    r = requests.post(url, json={"customer_id": ENV["DEMO_ACTIVE_CUSTOMER"], "price_id": ENV["DEMO_PRICE_STARTER"]},
                      headers=headers, timeout=30)
    assert r.status_code == 403 and r.json()["error"]["reason"] == "already_subscribed", r.text
    r = requests.post(url, json={"price_id": ENV["DEMO_PRICE_STARTER"]}, headers=headers, timeout=30)
    assert r.status_code == 400, r.text
    # A visitor's token is not an agent's.
    r = requests.post(url, json={"email": "x@example.com", "price_id": ENV["DEMO_PRICE_STARTER"]},
                      headers={"Authorization": f"Bearer {mint(ENV['DEMO_ACTIVE_USER'])}"}, timeout=30)
    assert r.status_code == 401, r.text


def test_a_new_link_expires_the_earlier_one_so_only_one_can_be_paid(api):
    user = f"twice-{int(time.time() * 1000)}"
    token = mint(user, email=f"{user}@example.com", email_verified=True)
    status, first = api.tool("start_subscription", token, {"price_id": ENV["DEMO_PRICE_STARTER"]})
    assert status == 200, first
    status, second = api.tool("start_subscription", token, {"price_id": ENV["DEMO_PRICE_GROWTH"]})
    assert status == 200 and second["data"]["expired_earlier"] == 1, second
    assert v1().checkout.sessions.retrieve(first["data"]["session_id"]).status == "expired"
    r = requests.post(f"{need('STRIPE_API_BASE')}/_emulator/checkout/sessions/{first['data']['session_id']}/complete",
                      json={"key": need("STRIPE_API_KEY")}, timeout=30)
    assert r.status_code == 400, r.text
    assert complete(second["data"]["session_id"])["status"] == "complete"
