"""The live demo: the emulator delivers its events to the demo tenant's webhook route, so
advancing its clock a month (the documented `make dev` command) fails the past-due demo
visitor's next renewal, and within seconds the recovery queue, the audience tags and the
bot's answer say so. Runs late: the clock it moves is the whole emulator's."""
import time

import requests
from conftest import ENV, mint

import stack

MONTH = 31 * 86_400


def until(check, timeout: float = 20):
    end = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > end:
            return value
        time.sleep(0.25)


def test_a_failed_renewal_reaches_the_queue_the_tags_and_the_bot():
    customer = ENV["DEMO_PAST_DUE_CUSTOMER"]
    agent = stack.mint(ENV["AGENT_SECRET"], "agent_live", role="agent")
    visitor = mint(ENV["DEMO_PAST_DUE_USER"])

    def queue() -> list:
        r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/agent/recovery", params={"status": "open"},
                         headers={"Authorization": f"Bearer {agent}"}, timeout=30)
        assert r.status_code == 200, r.text
        return [x for x in r.json()["recoveries"] if x["customer"] == customer]

    before = {x["invoice"] for x in queue()}
    r = requests.post(f"{ENV['STRIPE_API_BASE']}/_emulator/clock/advance", json={"seconds": MONTH}, timeout=30)
    r.raise_for_status()
    opened = until(lambda: [x for x in queue() if x["invoice"] not in before])
    assert opened, "the failed renewal reached the recovery queue"
    assert opened[0]["decline"] == "the card was declined" and opened[0]["amount_due"]["formatted"] == "$19.00"

    tags = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/visitor/tags", timeout=30,
                        headers={"Authorization": f"Bearer {visitor}"}).json()
    assert tags["tags"]["delinquent"] is True and tags["tags"]["plan_tier"] == "starter", tags
    assert tags["tags"]["subscription_status"] == "past_due", tags

    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/get_subscription_status", json={},
                      headers={"Authorization": f"Bearer {visitor}"}, timeout=30)
    body = r.json()
    assert "you can try it again now" in body["summary"], body["summary"]
