"""Notices, as a merchant's platform and a customer see them: the expiring-card scan (run as
EventBridge Scheduler runs it) puts one `Card Expiring` event on the bus, read through a
rule to an SQS queue, and sends one plain email with an update-card link, however often it
runs; a subscription's change and a refund are events too. (The failed renewal's notices
and pay-now page are in test_zy_live_webhooks.py, which moves the emulator's clock.)"""
import datetime as dt
import time
import uuid

import pytest
import requests
import stripe as stripe_sdk

from conftest import ENV, BusQueue, aws, need, run_scan, sent_mail, until
from seed_demo import set_card


@pytest.fixture(scope="module")
def bus():
    return BusQueue(f"notices-{int(time.time())}")


@pytest.fixture(scope="module")
def v1():
    return stripe_sdk.StripeClient(need("STRIPE_API_KEY"), base_addresses={"api": need("STRIPE_API_BASE")},
                                   max_network_retries=0).v1


def emulator_now() -> int:
    return requests.get(f"{need('STRIPE_API_BASE')}/_emulator/clock", timeout=5).json()["now"]


def test_a_card_expiring_before_the_renewal_is_noticed_once(bus, v1):
    now = dt.datetime.fromtimestamp(emulator_now(), dt.timezone.utc)
    email = f"expiring-{int(time.time())}@example.com"
    customer = v1.customers.create(params={"email": email, "name": "Ex Piring"})
    pm = set_card(v1, customer.id, "pm_card_visa")
    # The card works to the end of this month; the subscription renews (its trial ends) in
    # 28 days, in the next month.
    v1.payment_methods.update(pm, params={"card": {"exp_month": now.month, "exp_year": now.year}})
    renews = int(now.timestamp()) + 28 * 86_400
    sub = v1.subscriptions.create(params={"customer": customer.id, "trial_end": renews,
                                          "items": [{"price": ENV["DEMO_PRICE_STARTER"]}]})
    changed = until(lambda: [e for e in bus.events("Subscription Changed")
                             if e["detail"]["subscription"] == sub.id])
    assert changed, "the new subscription reached the bus"
    assert changed[0]["detail"]["status"] == "trialing" and changed[0]["detail"]["customer"] == customer.id

    first = run_scan()
    assert first["noticed"] >= 1 and first["errors"] == 0, first
    second = run_scan()
    assert second["noticed"] == 0, second
    # Each renewal's card is read from Stripe once: the second run asked nothing.
    assert second["checked"] == 0, second

    expiring = until(lambda: [e for e in bus.events("Card Expiring") if e["detail"]["subscription"] == sub.id])
    assert len(expiring) == 1, expiring
    detail = expiring[0]["detail"]
    assert detail["customer"] == customer.id and detail["tenant"] == ENV["TENANT"]
    assert detail["card"] == {"brand": "visa", "last4": "4242"}, detail
    assert expiring[0]["source"] == "billing-tools"

    mail = sent_mail(email)
    assert len(mail) == 1, mail
    body = mail[0]["body"]
    assert "Demo Co" in mail[0]["source"] and "Demo Co" in mail[0]["subject"]
    assert "Visa ending 4242" in body and 'lang="en"' in body
    # The update-card link opens a Billing Portal session made on the click.
    link = body.split('href="', 1)[1].split('"', 1)[0]
    assert link.startswith(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/pay/pl_") and link.endswith("/card")
    r = requests.get(link, allow_redirects=False, timeout=30)
    assert r.status_code == 303 and r.headers["location"].startswith("https://"), r.text
    assert r.headers["referrer-policy"] == "no-referrer"
    # The card-only link pays nothing: there is no pay button behind it.
    page = requests.get(link.removesuffix("/card"), timeout=30)
    assert page.status_code == 200 and "<form" not in page.text and "Update your card" in page.text
    assert requests.post(link.removesuffix("/card") + "/confirm", timeout=30).status_code == 404


def test_a_refund_made_anywhere_is_an_event(bus, v1):
    """A refund made in Stripe's dashboard (here: its API) reaches the bus as one made by
    the bot does: through `charge.refunded`."""
    customer = v1.customers.create(params={"email": f"refunded-{int(time.time())}@example.com"})
    set_card(v1, customer.id, "pm_card_visa")
    v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": ENV["DEMO_PRICE_STARTER"]}]})
    charge = v1.charges.list(params={"customer": customer.id, "limit": 1}).data[0]
    v1.refunds.create(params={"charge": charge.id, "amount": 500})
    refunds = until(lambda: [e for e in bus.events("Refund Issued") if e["detail"]["charge"] == charge.id])
    assert len(refunds) == 1, refunds
    d = refunds[0]["detail"]
    assert d["customer"] == customer.id and d["amount_refunded"]["formatted"] == "$5.00", d


def test_an_event_resent_after_its_id_was_forgotten_tells_nobody_twice(bus):
    """We keep an event id 4 days (Stripe retries for 3); the same event resent from the
    Dashboard later finds its fact written and its notice told, and tells nobody again."""
    from test_webhooks import post, sub_event
    customer = f"cus_Resent{uuid.uuid4().hex[:10]}"
    event = sub_event(customer, "active", int(time.time()))
    assert post(event)[1]["outcome"] == "applied"
    mine = lambda: [e for e in bus.events("Subscription Changed") if e["detail"]["customer"] == customer]
    assert len(until(mine)) == 1
    # The claim's TTL has passed.
    aws("dynamodb").delete_item(TableName=ENV["STATE_TABLE"],
                                Key={"pk": {"S": f"{ENV['TENANT']}#events"}, "sk": {"S": event["id"]}})
    status, body = post(event)
    assert status == 200 and body["outcome"] == "duplicate", body
    # The notice goes out before the webhook answers; nothing more came.
    assert len(mine()) == 1


def test_email_invoices_sends_one_bundle_an_hour(api):
    from conftest import mint
    token = mint(ENV["DEMO_ACTIVE_USER"])
    to = ENV["DEMO_ACTIVE_EMAIL"]
    before = len(sent_mail(to))
    # Bad input is refused by name and sends nothing.
    status, body = api.tool("email_invoices", token, {"limit": 99})
    assert status == 400 and "limit" in body["error"]["message"], body
    status, body = api.tool("email_invoices", token, {"since": "last spring"})
    assert status == 400 and "since" in body["error"]["message"], body
    assert len(sent_mail(to)) == before

    status, listed = api.tool("get_invoice_history", token, {"limit": 3})
    assert status == 200, listed
    status, body = api.tool("email_invoices", token, {"limit": 3})
    assert status == 200 and body["data"]["sent"] is True, body
    assert body["data"]["count"] == len(listed["data"]["invoices"])
    masked = body["data"]["to"]
    assert masked == to[0] + "***@" + to.split("@")[1] and to not in body["summary"], body
    mail = sent_mail(to)
    assert len(mail) == before + 1, mail
    text = mail[-1]["body"]
    for inv in listed["data"]["invoices"]:
        assert inv["number"] in text and inv["invoice_pdf"] in text and inv["hosted_invoice_url"] in text
        assert inv["total"]["formatted"] in text

    status, body = api.tool("email_invoices", token, {"limit": 3})
    assert status == 403 and body["error"]["reason"] == "email_invoices_rate", body
    assert len(sent_mail(to)) == before + 1


def test_a_failure_that_arrives_after_its_invoice_was_paid_tells_nobody(bus):
    """Stripe's events in reverse: the invoice is paid, then its earlier failure arrives.
    The recovery stays resolved and nobody is told to pay; a failure of another invoice,
    retried twice, is one `Recovery Opened` and one email."""
    import uuid

    from test_webhooks import invoice_event, post
    customer = f"cus_E2e{uuid.uuid4().hex[:10]}"
    now = int(time.time())
    late, open_inv = f"in_late{uuid.uuid4().hex[:8]}", f"in_open{uuid.uuid4().hex[:8]}"
    email = f"{customer.lower()}@example.com"

    def with_email(e):
        e["data"]["object"]["customer_email"] = email
        return e

    assert post(with_email(invoice_event("invoice.paid", customer, late, now + 60, attempts=2)))[0] == 200
    assert post(with_email(invoice_event("invoice.payment_failed", customer, late, now)))[0] == 200
    assert post(with_email(invoice_event("invoice.payment_failed", customer, open_inv, now)))[0] == 200
    assert post(with_email(invoice_event("invoice.payment_failed", customer, open_inv, now + 5, attempts=2)))[0] == 200
    opened = until(lambda: [e for e in bus.events("Recovery Opened") if e["detail"]["customer"] == customer])
    time.sleep(1)
    opened = [e for e in bus.events("Recovery Opened") if e["detail"]["customer"] == customer]
    assert [e["detail"]["invoice"] for e in opened] == [open_inv], opened
    assert not [e for e in bus.events("Recovery Resolved") if e["detail"]["customer"] == customer]
    mail = sent_mail(email)
    assert len(mail) == 1 and "$19.00" in mail[0]["subject"], mail


def failed_first_invoice(v1, who: str):
    """A customer whose first invoice the card declined, as a renewal's would be: their
    pay-now link (from the email) and the invoice, with a working card saved since."""
    import re
    email = f"{who}-{time.time_ns()}@example.com"
    customer = v1.customers.create(params={"email": email, "name": "Pat Payer"})
    set_card(v1, customer.id, "pm_card_chargeCustomerFail")
    v1.subscriptions.create(params={"customer": customer.id, "items": [{"price": ENV["DEMO_PRICE_STARTER"]}]})
    mail = until(lambda: sent_mail(email), timeout=20)
    assert len(mail) == 1, mail
    link = next(u for u in re.findall(r'href="([^"]+)"', mail[0]["body"]) if not u.endswith("/card"))
    set_card(v1, customer.id, "pm_card_visa")
    invoice = v1.invoices.list(params={"customer": customer.id, "limit": 1}).data[0]
    return link, invoice.id


def stripe_fault(**fault):
    requests.post(f"{need('STRIPE_API_BASE')}/_emulator/faults",
                  json={"key": need("STRIPE_API_KEY"), "method": "POST", **fault}, timeout=5).raise_for_status()


def clear_faults():
    requests.delete(f"{need('STRIPE_API_BASE')}/_emulator/faults", timeout=5).raise_for_status()


def test_a_click_stripe_never_answered_leaves_the_link_to_pay_on_the_next_click(v1):
    """Stripe hangs on the payment, every attempt (unapplied): the click says to try again,
    and the next click pays, once."""
    from conftest import posts_to
    link, invoice = failed_first_invoice(v1, "hung")
    pays = f"/v1/invoices/{invoice}/pay"
    before = posts_to(pays)
    stripe_fault(kind="hang", hang_ms=1500, count=3)
    try:
        first = requests.post(f"{link}/confirm", timeout=60)
    finally:
        clear_faults()
    assert first.status_code >= 500 and "try again" in first.text.lower(), first.text
    assert v1.invoices.retrieve(invoice).status == "open"
    again = requests.post(f"{link}/confirm", timeout=60)
    assert again.status_code == 200 and "Paid, thank you" in again.text, again.text
    assert v1.invoices.retrieve(invoice).status == "paid"
    paid = posts_to(pays) - before
    # The hung attempts never changed anything; the next click's one request paid.
    assert 1 < paid <= 4, paid
    third = requests.post(f"{link}/confirm", timeout=60)
    assert "This link was used" in third.text and posts_to(pays) - before == paid


def test_a_click_whose_answer_was_lost_after_stripe_paid_charges_nothing_more(v1):
    """Stripe pays, and every answer is lost on the way back: the click says to try again;
    the link still opens, says there is nothing left to pay, and the next click asks
    Stripe to pay nothing."""
    from conftest import posts_to
    link, invoice = failed_first_invoice(v1, "lost")
    pays = f"/v1/invoices/{invoice}/pay"
    before = posts_to(pays)
    stripe_fault(kind="reset", after=True, count=3)
    try:
        first = requests.post(f"{link}/confirm", timeout=60)
    finally:
        clear_faults()
    assert first.status_code >= 500, first.text
    assert v1.invoices.retrieve(invoice).status == "paid"
    asked = posts_to(pays)
    page = requests.get(link, timeout=30)
    assert page.status_code == 200 and "Nothing to pay" in page.text, page.text
    again = requests.post(f"{link}/confirm", timeout=60)
    assert again.status_code == 200 and "Nothing to pay" in again.text, again.text
    assert posts_to(pays) == asked > before
    charges = v1.charges.list(params={"customer": v1.invoices.retrieve(invoice).customer}).data
    assert len([c for c in charges if c.paid and c.status == "succeeded"]) == 1, charges
