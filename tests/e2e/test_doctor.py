"""A set-up that checks itself: `tenantctl doctor` passes on the demo tenant; on a tenant
whose Stripe account never saved its Billing Portal settings, or whose webhook endpoint
misses an event, it names the problem with a fix and exits non-zero (6), and the portal link
tool names the missing configuration instead of a generic 502. `connect-webhooks` registers
the endpoint through Stripe's API and stores its secret: the deliveries verify with no
secret typed."""
import secrets
import time

import requests
import stripe as stripe_sdk

import stack as st
from conftest import ENV, until

CHECKS = ["stripe_key", "billing_portal", "webhook_endpoint", "return_url", "last_event"]


def ctl(*args, **extra):
    return st.tenantctl(dict(ENV), *args, extra=extra or None, check=False)


def by_name(report: dict) -> dict:
    return {c["name"]: c for c in report["checks"]}


def test_doctor_passes_on_the_demo_tenant():
    report = ctl("doctor", ENV["TENANT"])
    assert report["exit_code"] == 0 and report["healthy"] is True, report
    checks = by_name(report)
    assert sorted(checks) == sorted(CHECKS)
    assert all(c["ok"] for c in checks.values()), report
    assert "received" in checks["last_event"]["detail"]


def new_account() -> tuple[str, stripe_sdk.StripeClient]:
    key = "sk_test_doctor" + secrets.token_hex(12)
    return key, stripe_sdk.StripeClient(key, base_addresses={"api": ENV["STRIPE_API_BASE"]},
                                        max_network_retries=0)


def test_a_tenant_without_portal_settings_or_webhooks_is_told_what_to_fix():
    key, client = new_account()
    customer = client.v1.customers.create(params={"email": "doc@example.com"})
    # An account that never saved its customer portal settings.
    r = requests.post(f"{ENV['STRIPE_API_BASE']}/_emulator/portal/unconfigured", json={"key": key}, timeout=10)
    r.raise_for_status()
    tenant = f"doc-{time.time_ns() % 10**10}"
    made = ctl("create", tenant, "--stripe-key-env", "DOCTOR_KEY", "--show-secret", DOCTOR_KEY=key)
    assert made["exit_code"] == 0, made
    report = ctl("doctor", tenant)
    assert report["exit_code"] == 6 and report["healthy"] is False, report
    checks = by_name(report)
    assert checks["stripe_key"]["ok"], checks["stripe_key"]
    portal = checks["billing_portal"]
    assert not portal["ok"] and "no Billing Portal configuration" in portal["detail"], portal
    assert "settings/billing/portal" in portal["fix"]
    assert not checks["return_url"]["ok"] and f"tenantctl set {tenant} return_url=" in checks["return_url"]["fix"]
    hook = checks["webhook_endpoint"]
    assert not hook["ok"] and f"tenantctl connect-webhooks {tenant}" in hook["fix"], hook
    assert not checks["last_event"]["ok"]

    # The tool says what is missing, not a generic failure.
    now = int(time.time())
    import jwt
    tok = jwt.encode({"sub": "u1", "aud": tenant, "iat": now, "exp": now + 600,
                      "stripe_customer_id": customer.id}, made["secrets"]["identity"], algorithm="HS256")
    r = requests.post(f"{ENV['API_URL']}/v1/{tenant}/tools/get_billing_portal_link", json={},
                      headers={"Authorization": f"Bearer {tok}"}, timeout=30)
    assert r.status_code == 502 and r.json()["error"]["reason"] == "portal_not_configured", r.text
    assert "billing portal isn't set up" in r.json()["error"]["message"]

    # Webhooks connected by the operator's command: no secret typed, none printed.
    url = f"{ENV['API_URL']}/v1/{tenant}/webhooks/stripe"
    hooked = ctl("connect-webhooks", tenant, "--url", url)
    assert hooked["exit_code"] == 0 and hooked["endpoint"].startswith("we_"), hooked
    assert "secret" not in hooked and "whsec_" not in str(hooked)
    assert "invoice.payment_failed" in hooked["enabled_events"]
    # Stripe's next event reaches the tenant and verifies with the stored secret.
    client.v1.customers.update(customer.id, params={"name": "Doc Tor"})
    seen = until(lambda: (lambda r: r if by_name(r)["last_event"]["ok"] else None)(ctl("doctor", tenant)),
                 timeout=20)
    assert seen, "an event reached the tenant's webhook"
    assert by_name(seen)["webhook_endpoint"]["ok"], seen

    # An endpoint that misses an event the webhook needs is named.
    events = [e for e in hooked["enabled_events"] if e != "invoice.payment_failed"]
    client.v1.webhook_endpoints.update(hooked["endpoint"], params={"enabled_events": events})
    report = ctl("doctor", tenant)
    assert report["exit_code"] == 6, report
    hook = by_name(report)["webhook_endpoint"]
    assert not hook["ok"] and "invoice.payment_failed" in hook["detail"], hook

    # A non-https URL, or another tenant's route, is refused before Stripe is asked.
    assert ctl("connect-webhooks", tenant, "--url", "http://example.com/v1/x/webhooks/stripe")["exit_code"] != 0
    assert ctl("connect-webhooks", tenant, "--url", f"https://api.example.com/v1/{tenant}/other")["exit_code"] == 2
