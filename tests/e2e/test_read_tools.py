"""Every read tool, agent insight and the tool list through their running binaries."""
import requests
from conftest import ENV, mint

import stack


def as_user(state: str) -> str:
    return mint(ENV[f"DEMO_{state.upper()}_USER"])


def test_every_route_answers_its_sample_call():
    import template as tpl

    for fn in tpl.functions(tpl.load()):
        for method, path in fn["routes"]:
            r = stack.sample_call(dict(ENV), method, path)
            assert r.status_code == stack.expected_status(path), f"{path}: {r.text[:300]}"
            body = r.text if stack.is_page(path) else r.json()
            assert stack.answered_well(path, body), f"{path}: {r.text[:300]}"


def test_read_tools_answer_the_demo_visitor(api):
    status, body = api.tool("get_invoice_history", as_user("active"), {"limit": 3})
    assert status == 200 and body["data"]["invoices"][0]["hosted_invoice_url"], body
    status, body = api.tool("get_payment_history", as_user("active"))
    assert status == 200 and body["data"]["payments"][0]["card"]["last4"] == "4242", body
    status, body = api.tool("get_billing_info", as_user("active"))
    assert status == 200 and set(body["data"]["payment_method"]) == {"brand", "last4", "exp_month", "exp_year"}, body
    status, body = api.tool("get_upcoming_invoice", as_user("credit"))
    assert status == 200, body
    assert body["data"]["upcoming_invoice"]["amount_due"]["formatted"] == "$4.00"
    assert "$15.00 of account credit" in body["summary"]
    status, body = api.tool("get_available_plans", as_user("active"))
    assert status == 200 and [p["name"] for p in body["data"]["plans"] if p["current"]] == ["Growth"], body
    status, body = api.tool("get_credit_balance", as_user("credit"))
    assert status == 200 and body["data"]["kind"] == "credit", body
    assert body["summary"].startswith("You have $15.00 of account credit")
    status, body = api.tool("get_billing_portal_link", as_user("past_due"), {"flow": "payment_method_update"})
    assert status == 200 and body["data"]["url"].startswith("https://"), body
    status, body = api.tool("resend_invoice", as_user("manual"), {"invoice_id": ENV["DEMO_MANUAL_INVOICE"]})
    assert status == 200 and body["data"]["sent"] is True, body


def test_a_customer_with_nothing_gets_answers_not_errors(api):
    token = mint("user_nothing", email=ENV["DEMO_NOTHING_EMAIL"], email_verified=True)
    for tool, want in [
        ("get_invoice_history", "You don't have any invoices yet."),
        ("get_payment_history", "We don't have any payments from you yet."),
        ("get_upcoming_invoice", "You have no upcoming invoice: there is no active subscription."),
        ("get_credit_balance", "You have no account credit, and nothing is owed."),
    ]:
        status, body = api.tool(tool, token)
        assert status == 200, body
        assert body["summary"] == want


def sends() -> int:
    r = requests.get(f"{ENV['STRIPE_API_BASE']}/_emulator/requests", params={"key": ENV["STRIPE_API_KEY"]}, timeout=5)
    return sum(1 for q in r.json()["requests"] if q["path"].endswith("/send"))


def test_another_customers_invoice_is_refused_before_anything_is_sent(api):
    # The manual customer's open send_invoice invoice is one Stripe would email.
    before = sends()
    status, body = api.tool("resend_invoice", as_user("active"), {"invoice_id": ENV["DEMO_MANUAL_INVOICE"]})
    assert (status, body["error"]["code"]) == (403, "not_owner")
    assert sends() == before, "no /send reached Stripe"


def test_agent_insight_refuses_visitor_tokens():
    url = f"{ENV['API_URL']}/v1/{ENV['TENANT']}/agent/insight"
    params = {"customer_id": ENV["DEMO_ACTIVE_CUSTOMER"]}
    r = requests.get(url, params=params, headers={"Authorization": f"Bearer {as_user('active')}"}, timeout=10)
    assert r.status_code == 401 and r.json()["error"]["code"] == "identity_invalid"
    agent = stack.mint(ENV["AGENT_SECRET"], "agent_1", role="agent")
    r = requests.get(url, params=params, headers={"Authorization": f"Bearer {agent}"}, timeout=10)
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["customer"]["id"] == ENV["DEMO_ACTIVE_CUSTOMER"]
    assert body["payment_method"]["last4"] == "4242"
    assert any(a["tool"].startswith("get_") for a in body["recent_actions"])


def test_tool_list_is_in_function_calling_shape():
    r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools", timeout=10)
    assert r.status_code == 200, r.text
    tools = r.json()["tools"]
    assert len(tools) == 19
    for t in tools:
        assert t["type"] == "function" and t["function"]["strict"] is True
        assert t["function"]["parameters"]["type"] == "object"
    r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools", params={"format": "anthropic"}, timeout=10)
    assert r.status_code == 200, r.text
    assert {t["name"] for t in r.json()["tools"]} == {t["function"]["name"] for t in tools}
    assert all(t["input_schema"]["type"] == "object" for t in r.json()["tools"])
    r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools", params={"format": "xml"}, timeout=10)
    assert r.status_code == 400 and "format" in r.json()["error"]["message"]
