"""The live demo: the emulator delivers its events to the demo tenant's webhook route, so
advancing its clock a month (the documented `make dev` command) fails the past-due demo
visitor's next renewal, and within seconds the recovery queue, the audience tags and the
bot's answer say so; the merchant's platform hears one `Recovery Opened` on the bus (a rule
to its SQS queue), and the customer gets one email whose pay-now link pays the invoice once.
Runs late: the clock it moves is the whole emulator's."""
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests
from conftest import ENV, BusQueue, mint, posts_to, sent_mail, until

import stack

ROOT = Path(__file__).resolve().parents[2]
OPENED: dict = {}


@pytest.fixture(scope="module")
def bus():
    # Subscribed before the clock moves, as a merchant's platform is before a renewal.
    return BusQueue(f"live-{int(time.time())}")

MONTH = 31 * 86_400


def test_a_failed_renewal_reaches_the_queue_the_tags_and_the_bot(bus):
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
    OPENED.update(opened[0])

    tags = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/visitor/tags", timeout=30,
                        headers={"Authorization": f"Bearer {visitor}"}).json()
    assert tags["tags"]["delinquent"] is True and tags["tags"]["plan_tier"] == "starter", tags
    assert tags["tags"]["subscription_status"] == "past_due", tags

    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/get_subscription_status", json={},
                      headers={"Authorization": f"Bearer {visitor}"}, timeout=30)
    body = r.json()
    assert "you can try it again now" in body["summary"], body["summary"]


def test_the_failed_renewal_reaches_the_customer_and_the_pay_now_link_pays_it_once(bus):
    if not OPENED:
        pytest.skip("the renewal did not fail (see the test before)")
    invoice, customer = OPENED["invoice"], ENV["DEMO_PAST_DUE_CUSTOMER"]
    events = until(lambda: [e for e in bus.events("Recovery Opened") if e["detail"]["invoice"] == invoice])
    time.sleep(1)  # a second event, were one sent, would be here by now
    events = [e for e in bus.events("Recovery Opened") if e["detail"]["invoice"] == invoice]
    assert len(events) == 1, events
    d = events[0]["detail"]
    assert d["customer"] == customer and d["amount_due"]["formatted"] == "$19.00", d
    assert d["decline"] == "the card was declined" and d["hosted_invoice_url"].startswith("https://")

    mail = until(lambda: [m for m in sent_mail(ENV["DEMO_PAST_DUE_EMAIL"]) if "$19.00" in m["subject"]])
    assert len(mail) == 1, mail
    body = mail[0]["body"]
    assert "did not go through" in mail[0]["subject"] and "Demo Co" in mail[0]["source"]
    links = re.findall(r'href="([^"]+)"', body)
    pay = next(u for u in links if not u.endswith("/card"))
    assert pay.startswith(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/pay/pl_"), links
    assert f"{pay}/card" in links

    page = requests.get(pay, timeout=30)
    assert page.status_code == 200, page.text
    assert "$19.00" in page.text and "Visa ending 0341" in page.text and "<form" in page.text
    assert "script" not in page.headers["content-security-policy"].replace("'none'", "")
    assert page.headers["cache-control"] == "no-store"

    # The customer updates the card (the update-card link's portal does this), then taps.
    changed = subprocess.run([sys.executable, "infra/update_card.py", customer],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr
    pays = f"/v1/invoices/{invoice}/pay"
    before = posts_to(pays)
    r = requests.post(f"{pay}/confirm", timeout=60)
    assert r.status_code == 200 and "Paid, thank you" in r.text, r.text
    assert posts_to(pays) == before + 1
    # A second tap, a reload of the page, a forged token: nothing more is paid.
    again = requests.post(f"{pay}/confirm", timeout=60)
    assert again.status_code == 200 and "used" in again.text
    assert "used" in requests.get(pay, timeout=30).text
    forged = pay[:-4] + ("AAAA" if not pay.endswith("AAAA") else "BBBB")
    assert requests.post(f"{forged}/confirm", timeout=30).status_code == 404
    assert requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/pay/not-a-token/confirm", timeout=30).status_code == 404
    assert posts_to(pays) == before + 1

    resolved = until(lambda: [e for e in bus.events("Recovery Resolved") if e["detail"]["invoice"] == invoice])
    time.sleep(1)
    resolved = [e for e in bus.events("Recovery Resolved") if e["detail"]["invoice"] == invoice]
    assert len(resolved) == 1, resolved
