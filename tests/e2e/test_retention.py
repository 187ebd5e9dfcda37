"""Retention offers on the demo tenant (one offer of each kind, as `make dev` shows them),
against the local stack: the cancel preview for `too_expensive` offers the discount;
taking it applies the code and the subscription is not set to cancel; the saved-revenue
query of template.yaml, run over the lines the functions printed, counts the save."""
import time
from pathlib import Path

import requests

import logs_insights as li
import template as tpl
from conftest import ENV, mint, stripe


def saved_revenue_query() -> str:
    found = tpl.resources(tpl.load(), "AWS::Logs::QueryDefinition")
    return found["RetentionSavedRevenueQuery"]["Properties"]["QueryString"]


def run_query(query: str) -> dict[tuple[str, str], tuple[float, int]]:
    """The saved-revenue query, run (by infra/logs_insights.py, as Logs Insights would) over
    the JSON lines the functions printed: (month, currency) -> (saved, saves)."""
    rows = li.Query(query).run(li.lines(Path(ENV["STACK_LOG_DIR"])))
    return {(r["month"], r["currency"]): (r["saved"], r["saves"]) for r in rows}


def tool(token: str, name: str, body: dict) -> tuple[int, dict]:
    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/{name}", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})
    return r.status_code, r.json()


def test_the_discount_offered_at_cancel_keeps_the_subscription_and_counts_as_saved():
    customer = stripe("POST", "/v1/customers", {"email": f"leaving-{time.time_ns()}@example.com"})["id"]
    pm = stripe("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})["id"]
    stripe("POST", f"/v1/customers/{customer}", {"invoice_settings[default_payment_method]": pm})
    sub = stripe("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": ENV["DEMO_PRICE_GROWTH"]})
    token = mint(f"leaving-{customer}", stripe_customer_id=customer)
    query = saved_revenue_query()
    month = time.strftime("%Y-%m", time.gmtime())
    before = run_query(query).get((month, "usd"), (0, 0))

    status, preview = tool(token, "cancel_subscription", {"reason": "too_expensive"})
    assert status == 200 and preview["status"] == "confirmation_required", preview
    offers = {o["kind"]: o for o in preview["data"]["offers"]}
    assert set(offers) == {"discount", "downgrade"}, preview
    discount = offers["discount"]
    assert discount["accept"]["tool"] == "apply_coupon"

    status, body = tool(token, "apply_coupon", discount["accept"]["arguments"])
    assert status == 200 and body["status"] == "confirmation_required", body
    status, body = tool(token, "apply_coupon", {"confirm": body["confirmation"]["token"]})
    assert status == 200 and body["status"] == "done", body
    now = stripe("GET", f"/v1/subscriptions/{sub['id']}")
    assert len(now["discounts"]) == 1 and now["cancel_at_period_end"] is False and now["cancel_at"] is None, now

    after = run_query(query).get((month, "usd"), (0, 0))
    assert after[1] == before[1] + 1, (before, after)
    assert after[0] - before[0] == body["data"]["after"]["amount"] > 0, (before, after, body["data"])

    # Once a year: the discount is no longer among the offers.
    status, again = tool(token, "cancel_subscription", {"reason": "too_expensive"})
    assert [o["kind"] for o in again["data"]["offers"]] == ["downgrade"], again
