"""tenantctl, the operator's binary, against the local stack exactly as against AWS: a
tenant made, a restricted key probed without side effects (tools it cannot serve switched
off and named with the Stripe permission each needs), keys of the wrong format or mode or
that Stripe rejects refused with nothing changed, secrets rotated without downtime, the
settings checked by the functions' own type, and the audit log read back."""
import re
import time

import jwt
import requests
from conftest import ENV

import stack as st

READ_ONLY = ["customer_read", "subscription_read", "product_read", "invoice_read",
             "charge_read", "price_read", "promotion_code_read"]


def ctl(*args, check=False, **extra):
    return st.tenantctl(dict(ENV), *args, extra=extra or None, check=check)


def fresh(prefix: str) -> str:
    return f"{prefix}-{time.time_ns() % 10**10}"


def restricted_key(permissions: list[str]) -> str:
    r = requests.post(f"{ENV['STRIPE_API_BASE']}/_emulator/keys/restricted", timeout=10,
                      json={"key": ENV["STRIPE_API_KEY"], "permissions": permissions})
    r.raise_for_status()
    return r.json()["key"]


def token(tenant: str, secret: str, customer: str) -> str:
    now = int(time.time())
    return jwt.encode({"sub": f"u-{customer}", "aud": tenant, "iat": now, "exp": now + 600,
                       "stripe_customer_id": customer}, secret, algorithm="HS256")


def call(tenant: str, tool: str, tok: str, body: dict | None = None) -> tuple[int, dict]:
    r = requests.post(f"{ENV['API_URL']}/v1/{tenant}/tools/{tool}", json=body or {}, timeout=30,
                      headers={"Authorization": f"Bearer {tok}"})
    return r.status_code, r.json()


def test_a_restricted_key_is_probed_without_side_effects_and_its_missing_tools_are_off():
    tenant = fresh("probe")
    made = ctl("create", tenant, "--show-secret", check=True)
    secret = made["secrets"]["identity"]
    customer = ENV["DEMO_ACTIVE_CUSTOMER"]
    status, body = call(tenant, "get_billing_info", token(tenant, secret, customer))
    assert (status, body["error"]["reason"]) == (503, "tenant_not_connected"), body

    key = restricted_key(READ_ONLY)
    report = ctl("connect-key", tenant, "--stripe-key-env", "PROBE_KEY", PROBE_KEY=key)
    assert report["exit_code"] == 0 and report["restricted"] and not report["live"], report
    tools = {t["endpoint"]: t for t in report["tools"]}
    served = sorted(t for t, a in tools.items() if a["ok"])
    assert served == sorted(["get_subscription_status", "get_invoice_history", "get_payment_history",
                             "get_billing_info", "get_upcoming_invoice", "get_available_plans",
                             "get_credit_balance",
                             # Reads Stripe only: the email goes through SES.
                             "email_invoices"]), served
    # A full refund of the current period ends that subscription too (policy), so the tool
    # needs to write subscriptions as well.
    assert tools["request_refund"]["missing"] == ["rak_payment_intent_read", "rak_refund_write",
                                                  "rak_subscription_write"]
    assert tools["retry_payment"]["missing"] == ["rak_billing_portal_session_write", "rak_invoice_write"]
    assert tools["update_billing_details"]["missing"] == ["rak_customer_write"]
    for t in ("change_plan", "cancel_subscription", "pause_subscription", "resume_subscription", "apply_coupon"):
        assert tools[t]["missing"] == ["rak_subscription_write"], (t, tools[t])

    # The probe's writes were all refused by Stripe: nothing was created or changed.
    log = requests.get(f"{ENV['STRIPE_API_BASE']}/_emulator/requests", params={"key": key}, timeout=10).json()
    posts = [e for e in log["requests"] if e["method"] == "POST"]
    assert posts and all(e["status"] in (400, 403, 404) for e in posts), posts

    shown = ctl("show", tenant, check=True)
    assert sorted(shown["config"]["key_unserved_tools"]) == sorted(t for t, a in tools.items() if not a["ok"])
    tok = token(tenant, secret, customer)
    status, body = call(tenant, "get_subscription_status", tok)
    assert status == 200, body
    status, body = call(tenant, "request_refund", tok, {"payment_id": "ch_x"})
    assert (status, body["error"]["code"]) == (403, "tool_disabled"), body

    # A key that can do everything brings every tool back.
    full = ctl("connect-key", tenant, "--stripe-key-env", "PROBE_KEY", PROBE_KEY=ENV["STRIPE_API_KEY"])
    assert all(t["ok"] for t in full["tools"]) and not full["restricted"], full
    assert ctl("show", tenant, check=True)["config"]["key_unserved_tools"] == []


def test_bad_keys_are_refused_and_change_nothing():
    tenant = fresh("keys")
    ctl("create", tenant, "--stripe-key-env", "GOOD", GOOD=ENV["STRIPE_API_KEY"], check=True)
    before = ctl("show", tenant, check=True)
    revoked = restricted_key(READ_ONLY)
    requests.post(f"{ENV['STRIPE_API_BASE']}/_emulator/keys/revoke", json={"key": revoked}, timeout=5).raise_for_status()
    for key, says in [
        ("pk_test_abcdefghijklmnop", "not a Stripe secret or restricted key"),
        ("sk_test_short", "not a Stripe secret or restricted key"),
        ("sk_live_abcdefghijklmnopqrst", "a live key for a test-mode tenant"),
        (revoked, "Stripe does not accept this key"),
    ]:
        out = ctl("connect-key", tenant, "--stripe-key-env", "BAD_KEY", BAD_KEY=key)
        assert out["exit_code"] == 4 and says in out["error"]["message"], (key[:8], out)
        assert key not in str(out), "the key is never printed"
    assert ctl("show", tenant, check=True) == {**before}, "nothing changed"
    # A test key for a live tenant is refused the same way, before anything is written.
    live = fresh("live")
    out = ctl("create", live, "--live", "--stripe-key-env", "K", K=ENV["STRIPE_API_KEY"])
    assert out["exit_code"] == 4 and "test key for a live-mode tenant" in out["error"]["message"], out
    assert ctl("show", live)["exit_code"] == 3, "no tenant was created"


def test_exit_codes_and_checked_settings():
    tenant = fresh("codes")
    ctl("create", tenant, check=True)
    assert ctl("create", tenant)["exit_code"] == 5
    assert ctl("show", "no-such-tenant")["exit_code"] == 3
    assert ctl("show", "Bad_Id")["exit_code"] == 2
    before = ctl("show", tenant, check=True)["config"]
    for bad in ["policy.refunds_per_hr=5", "policy.refunds_per_hour=-3", "enabled_tools=[\"drop_all\"]",
                "disabled_tools=[\"resend_invoice\"]", "livemode=true"]:
        out = ctl("set", tenant, "policy.max_pause_days=30", bad)
        assert out["exit_code"] == 2, (bad, out)
    # What would weaken the tenant is refused (exit 4), and changes nothing either.
    for weak in ["policy.duplicate_window_secs=0", "policy.refunds_per_customer_per_hour=500",
                 "return_url=http://shop.example.com/account", "policy.max_pause_days=3650"]:
        out = ctl("set", tenant, weak)
        assert out["exit_code"] == 4, (weak, out)
    assert ctl("show", tenant, check=True)["config"] == before, "a refused set changes nothing"
    done = ctl("set", tenant, "policy.refunds_per_hour=5", "return_url=https://shop.example.com/a", check=True)
    assert done["config"]["policy"]["refunds_per_hour"] == 5
    assert ctl("map", tenant, "u1", "cus_x/../../v1/balance")["exit_code"] == 2
    assert ctl("map", tenant, "u1", "cus_doesnotexist123")["exit_code"] == 0, "no key: mapped unchecked"


def test_secrets_are_shown_once_and_only_when_asked():
    tenant = fresh("quiet")
    out = ctl("create", tenant, check=True)
    assert all(v.startswith("created") for v in out["secrets"].values()), out
    text = st.subprocess.run([ENV["TENANTCTL"], "rotate", tenant, "agent"], capture_output=True, text=True,
                             env={**st.os.environ, **ENV}, timeout=60)
    assert text.returncode == 0 and "not shown" in text.stdout
    assert not re.search(r"[A-Za-z0-9_-]{40,}", text.stdout + text.stderr), text.stdout


def test_rotation_new_secret_works_at_once_old_until_retired():
    tenant = fresh("rotate")
    old = ctl("create", tenant, "--stripe-key-env", "K", "--show-secret", K=ENV["STRIPE_API_KEY"],
              check=True)["secrets"]["identity"]
    customer = ENV["DEMO_ACTIVE_CUSTOMER"]
    assert call(tenant, "get_billing_info", token(tenant, old, customer))[0] == 200  # now cached warm
    new = ctl("rotate", tenant, "identity", "--show-secret", check=True)["secret"]
    # The warm function holds the old secrets, yet the new one works at once.
    status, body = call(tenant, "get_billing_info", token(tenant, new, customer))
    assert status == 200, body
    assert call(tenant, "get_billing_info", token(tenant, old, customer))[0] == 200, "old one until retired"
    assert ctl("rotate", tenant, "identity", "--retire-old", check=True)["retired"] == 1
    assert ctl("show", tenant, check=True)["secrets"]["identity"] == 1
    # A tenant first called after the retirement (nothing cached) takes the new one only.
    t2 = fresh("retired")
    first = ctl("create", t2, "--stripe-key-env", "K", "--show-secret", K=ENV["STRIPE_API_KEY"],
                check=True)["secrets"]["identity"]
    second = ctl("rotate", t2, "identity", "--show-secret", check=True)["secret"]
    ctl("rotate", t2, "identity", "--retire-old", check=True)
    assert call(t2, "get_billing_info", token(t2, second, customer))[0] == 200
    status, body = call(t2, "get_billing_info", token(t2, first, customer))
    assert (status, body["error"]["code"]) == (401, "identity_invalid"), body
    # Webhook secrets are Stripe's: one must be given, and must look like one.
    assert ctl("rotate", tenant, "webhook")["exit_code"] == 2
    assert ctl("rotate", tenant, "webhook", "--secret-env", "W", W="x" * 40)["exit_code"] == 4


def test_audit_reads_a_customers_and_the_tenants_records():
    tenant = fresh("audit")
    secret = ctl("create", tenant, "--stripe-key-env", "K", "--show-secret", K=ENV["STRIPE_API_KEY"],
                 check=True)["secrets"]["identity"]
    customer = ENV["DEMO_ACTIVE_CUSTOMER"]
    for tool in ("get_billing_info", "get_invoice_history"):
        assert call(tenant, tool, token(tenant, secret, customer))[0] == 200
    mine = ctl("audit", tenant, "--customer", customer, "--since", "10m", check=True)["records"]
    assert [r["tool"] for r in mine] == ["get_invoice_history", "get_billing_info"], mine
    assert all(r["customer"] == customer and r["outcome"] == "ok" for r in mine)
    everything = ctl("audit", tenant, "--since", "1h", check=True)["records"]
    tools = [r["tool"] for r in everything]
    assert "tenantctl create" in tools and "tenantctl connect-key" in tools, tools
    assert all(r["actor"].startswith("operator:") for r in everything if r["tool"].startswith("tenantctl"))
    assert ctl("audit", tenant, "--since", "forever")["exit_code"] == 2


def test_the_stack_is_found_by_its_name_alone():
    """With none of the local table variables, only the stack's name (as in AWS)."""
    env = {k: v for k, v in ENV.items() if not k.endswith("_TABLE") and k != "STACK_NAME"}
    out = st.tenantctl(env, "--stack", ENV["STACK_NAME"], "show", ENV["TENANT"], check=False, inherit=False)
    assert out["exit_code"] == 0 and out["secrets"]["stripe_key"], out
    wrong = st.tenantctl(env, "--stack", "no-such-stack", "show", ENV["TENANT"], check=False, inherit=False)
    assert wrong["exit_code"] == 1, wrong


READ_TOOLS = ["get_subscription_status", "get_invoice_history", "get_payment_history", "get_billing_info",
              "get_upcoming_invoice", "get_available_plans", "get_credit_balance", "get_billing_portal_link"]


def test_a_new_tenant_is_read_only_until_a_write_is_enabled():
    tenant = fresh("closed")
    secret = ctl("create", tenant, "--stripe-key-env", "K", "--show-secret", K=ENV["STRIPE_API_KEY"],
                 check=True)["secrets"]["identity"]
    assert ctl("show", tenant, check=True)["config"]["enabled_tools"] == READ_TOOLS
    tok = token(tenant, secret, ENV["DEMO_ACTIVE_CUSTOMER"])
    listed = requests.get(f"{ENV['API_URL']}/v1/{tenant}/tools", timeout=30).json()
    assert sorted(t["function"]["name"] for t in listed["tools"]) == sorted(READ_TOOLS), listed
    charge = "ch_" + "x" * 24
    status, body = call(tenant, "request_refund", tok, {"payment_id": charge})
    assert (status, body["error"]["code"]) == (403, "tool_disabled"), body
    assert ctl("enable", tenant, "drop_tables")["exit_code"] == 2
    on = ctl("enable", tenant, "request_refund", "change_plan", check=True)
    assert "request_refund" in on["enabled_tools"] and "change_plan" in on["enabled_tools"]
    # With no plan listed, a plan change reaches none (fail closed).
    status, body = call(tenant, "change_plan", tok, {"price_id": ENV["DEMO_PRICE_STARTER"]})
    assert (status, body["error"]["reason"]) == (403, "no_prices_allowed"), body
    off = ctl("disable", tenant, "change_plan", check=True)
    assert "change_plan" not in off["enabled_tools"]
    audit = ctl("audit", tenant, "--since", "10m", check=True)["records"]
    assert {"tenantctl enable", "tenantctl disable"} <= {r["tool"] for r in audit}


def test_a_secret_serves_one_kind_only():
    tenant = fresh("oracle")
    identity = ctl("create", tenant, "--show-secret", check=True)["secrets"]["identity"]
    out = ctl("rotate", tenant, "user-hash", "--secret-env", "S", S=identity)
    assert out["exit_code"] == 4 and "identity" in out["error"]["message"], out
    assert identity not in str(out), "the secret is never printed"
    assert ctl("show", tenant, check=True)["secrets"]["user-hash"] == 1


def test_migrate_writes_out_what_an_old_tenant_served():
    """A tenant stored before `enabled_tools` keeps what it served (every tool of that
    release but its `disabled_tools`) and is written out once."""
    import boto3
    tenant = fresh("legacy")
    ctl("create", tenant, check=True)
    table = boto3.resource("dynamodb", endpoint_url=ENV["AWS_ENDPOINT_URL"],
                           region_name=ENV["AWS_REGION"]).Table(ENV["TENANTS_TABLE"])
    item = table.get_item(Key={"tenant": tenant})["Item"]
    item.pop("enabled_tools")
    item["disabled_tools"] = ["resend_invoice"]
    table.put_item(Item=item)
    first = ctl("migrate", check=True)
    mine = [m for m in first["migrated"] if m["tenant"] == tenant]
    assert len(mine) == 1, first
    listed = mine[0]["enabled_tools"]
    assert "request_refund" in listed and "resend_invoice" not in listed, listed
    stored = table.get_item(Key={"tenant": tenant})["Item"]
    assert "disabled_tools" not in stored and stored["enabled_tools"] == listed
    again = ctl("migrate", check=True)
    assert not [m for m in again["migrated"] if m["tenant"] == tenant], "once"
