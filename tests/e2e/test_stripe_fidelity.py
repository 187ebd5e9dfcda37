"""Proves the Stripe emulator speaks Stripe's wire format, by driving it with Stripe's own
Python library (stripe==16.1.0) exactly as code would drive real Stripe.

Needs a running emulator: `cargo run -p stripe-emulator`, or set STRIPE_API_BASE.
Each module run uses fresh random API keys, so it is isolated from other tests' data.
"""

import json
import os
import random
import string
import threading
import time
import urllib.request
import uuid

import pytest
import stripe

BASE = os.environ.get("STRIPE_API_BASE", "http://127.0.0.1:12111").rstrip("/")


def new_key() -> str:
    return "sk_test_" + "".join(random.choices(string.ascii_letters + string.digits, k=24))


def new_client(key: str) -> stripe.StripeClient:
    # Retries off: the emulator answers deterministically and we count requests.
    return stripe.StripeClient(key, base_addresses={"api": BASE}, max_network_retries=0)


def control(method: str, path: str, body: dict | None = None) -> dict:
    data = json.dumps(body).encode() if body is not None else None
    req = urllib.request.Request(
        f"{BASE}/_emulator{path}",
        data=data,
        method=method,
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read() or b"{}")


@pytest.fixture(scope="module")
def key() -> str:
    return new_key()


@pytest.fixture(scope="module")
def client(key) -> stripe.StripeClient:
    return new_client(key)


@pytest.fixture(scope="module")
def plan(client):
    product = client.v1.products.create(params={"name": "Growth"})
    price = client.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 4900,
            "currency": "usd",
            "recurring": {"interval": "month"},
            "lookup_key": f"growth_{uuid.uuid4().hex[:8]}",
        }
    )
    return product, price


def customer_with_card(client, token: str, email: str):
    cus = client.v1.customers.create(params={"email": email, "name": "Ada Lovelace"})
    pm = client.v1.payment_methods.attach(token, params={"customer": cus.id})
    client.v1.customers.update(
        cus.id, params={"invoice_settings": {"default_payment_method": pm.id}}
    )
    return cus, pm


def test_subscription_is_billed_and_charged(client, plan):
    product, price = plan
    cus, pm = customer_with_card(client, "pm_card_visa", "ada@example.com")
    assert pm.id.startswith("pm_") and pm.card.last4 == "4242" and pm.customer == cus.id

    created = client.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}]}
    )
    assert created.last_response.request_id.startswith("req_")

    sub = client.v1.subscriptions.retrieve(
        created.id, params={"expand": ["items.data.price.product", "latest_invoice"]}
    )
    assert sub.status == "active"
    assert sub.customer == cus.id
    item = sub["items"].data[0]
    assert item.price.product.name == "Growth"
    assert item.price.unit_amount == 4900
    assert item.current_period_end > item.current_period_start
    invoice = sub.latest_invoice
    assert invoice.status == "paid"
    assert invoice.amount_paid == 4900 and invoice.amount_remaining == 0
    assert invoice.parent.subscription_details.subscription == sub.id
    assert invoice.lines.data[0].description == "1 × Growth (at $49.00 / month)"
    assert invoice.hosted_invoice_url.startswith("https://invoice.stripe.com/")

    invoices = client.v1.invoices.list(params={"customer": cus.id})
    assert [i.id for i in invoices.data] == [invoice.id]
    assert invoices.data[0].total == 4900
    assert invoices.data[0].number.endswith("-0001")

    charges = client.v1.charges.list(params={"customer": cus.id})
    assert len(charges.data) == 1
    charge = charges.data[0]
    assert charge.amount == 4900 and charge.paid and charge.status == "succeeded"
    assert charge.payment_method_details.card.last4 == "4242"
    assert charge.receipt_url == f"https://pay.stripe.com/receipts/payment/{charge.id}"

    # The invoice's payment links to the payment intent that produced the charge.
    with_payments = client.v1.invoices.retrieve(
        invoice.id, params={"expand": ["payments.data.payment.payment_intent"]}
    )
    intent = with_payments.payments.data[0].payment.payment_intent
    assert intent.status == "succeeded" and intent.latest_charge == charge.id


def test_idempotent_replay_and_mismatch(client):
    ik = str(uuid.uuid4())
    email = f"idem-{uuid.uuid4().hex[:8]}@example.com"
    first = client.v1.customers.create(params={"email": email}, options={"idempotency_key": ik})
    again = client.v1.customers.create(params={"email": email}, options={"idempotency_key": ik})
    assert again.id == first.id
    assert again.last_response.headers.get("idempotent-replayed") == "true"
    assert len(client.v1.customers.list(params={"email": email}).data) == 1

    with pytest.raises(stripe.IdempotencyError):
        client.v1.customers.create(
            params={"email": "someone-else@example.com"}, options={"idempotency_key": ik}
        )


def test_missing_object_and_unknown_param(client):
    with pytest.raises(stripe.InvalidRequestError) as missing:
        client.v1.customers.retrieve("cus_doesnotexist")
    assert missing.value.code == "resource_missing"
    assert missing.value.http_status == 404
    assert "No such customer: 'cus_doesnotexist'" in str(missing.value.user_message)

    with pytest.raises(stripe.InvalidRequestError) as unknown:
        client.v1.customers.create(params={"emial": "typo@example.com"})
    assert unknown.value.code == "parameter_unknown"
    assert unknown.value.param == "emial"


def test_a_list_filtered_by_a_customer_stripe_lacks_is_refused_not_empty(client):
    # Stripe answers an id it has no object for with `resource_missing` ("No such customer:
    # 'cus_x'") naming the parameter that carried it; the object of a URL is a 404, a
    # parameter's id a 400 (the request is what is wrong).
    for lister in (client.v1.invoices, client.v1.subscriptions, client.v1.charges, client.v1.payment_intents):
        with pytest.raises(stripe.InvalidRequestError) as err:
            lister.list(params={"customer": "cus_doesnotexist"})
        assert (err.value.code, err.value.param, err.value.http_status) == ("resource_missing", "customer", 400)
        assert "No such customer: 'cus_doesnotexist'" in str(err.value.user_message)


def test_accounts_are_isolated(client):
    mine = client.v1.customers.create(params={"email": "mine@example.com"})
    other = new_client(new_key())
    with pytest.raises(stripe.InvalidRequestError) as err:
        other.v1.customers.retrieve(mine.id)
    assert err.value.code == "resource_missing"


def test_bad_and_revoked_keys_are_rejected():
    with pytest.raises(stripe.AuthenticationError) as bad:
        new_client("sk_test_nope").v1.customers.list()
    assert bad.value.http_status == 401

    key = new_key()
    good = new_client(key)
    good.v1.customers.list()
    control("POST", "/keys/revoke", {"key": key})
    with pytest.raises(stripe.AuthenticationError) as revoked:
        good.v1.customers.list()
    assert key not in str(revoked.value.user_message)
    assert key[-4:] in str(revoked.value.user_message)


def test_declining_card_leaves_subscription_incomplete(client, plan):
    _, price = plan
    cus, _ = customer_with_card(client, "pm_card_chargeCustomerFail", "fail@example.com")
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "expand": ["latest_invoice.payments"],
        }
    )
    assert sub.status == "incomplete"
    assert sub.latest_invoice.status == "open"
    assert sub.latest_invoice.amount_remaining == 4900
    pi_id = sub.latest_invoice.payments.data[0].payment.payment_intent
    intent = client.v1.payment_intents.retrieve(pi_id, params={"expand": ["latest_charge"]})
    assert intent.status == "requires_payment_method"
    assert intent.last_payment_error.code == "card_declined"
    assert intent.latest_charge.status == "failed"
    assert intent.latest_charge.failure_code == "card_declined"


def test_declined_card_fails_on_attach(client):
    cus = client.v1.customers.create(params={"email": "declined@example.com"})
    with pytest.raises(stripe.CardError) as err:
        client.v1.payment_methods.attach("pm_card_chargeDeclined", params={"customer": cus.id})
    assert err.value.code == "card_declined"
    assert err.value.http_status == 402


def test_error_if_incomplete_keeps_nothing(client, plan):
    _, price = plan
    cus, _ = customer_with_card(client, "pm_card_chargeCustomerFail", "strict@example.com")
    with pytest.raises(stripe.CardError):
        client.v1.subscriptions.create(
            params={
                "customer": cus.id,
                "items": [{"price": price.id}],
                "payment_behavior": "error_if_incomplete",
            }
        )
    assert client.v1.subscriptions.list(params={"customer": cus.id, "status": "all"}).data == []
    assert client.v1.invoices.list(params={"customer": cus.id}).data == []


def test_search_is_case_insensitive_but_list_filter_is_not(client):
    tag = uuid.uuid4().hex[:10]
    cus = client.v1.customers.create(params={"email": f"Mixed.Case+{tag}@Example.com"})
    found = client.v1.customers.search(params={"query": f"email:'mixed.case+{tag}@example.com'"})
    assert [c.id for c in found.data] == [cus.id]
    listed = client.v1.customers.list(params={"email": f"mixed.case+{tag}@example.com"})
    assert listed.data == []

    with pytest.raises(stripe.InvalidRequestError):
        client.v1.customers.search(params={"query": "email = nope"})


def test_pagination_with_auto_paging():
    fresh = new_client(new_key())
    ids = [fresh.v1.customers.create(params={"name": f"c{i}"}).id for i in range(5)]
    page = fresh.v1.customers.list(params={"limit": 2})
    assert len(page.data) == 2 and page.has_more
    assert [c.id for c in page.data] == ids[::-1][:2]
    assert [c.id for c in page.auto_paging_iter()] == ids[::-1]


def test_expand_depth_limit(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscriptions.list(params={"expand": ["data.items.data.price.product"]})
    assert "more than 4 levels" in str(err.value.user_message)


def test_trial_invoice_and_request_log():
    # A fresh key keeps this test's objects and request log apart from the others. The clock
    # is not advanced here: it is emulator-wide and would move other suites' data too.
    key = new_key()
    fresh = new_client(key)
    product = fresh.v1.products.create(params={"name": "Starter"})
    price = fresh.v1.prices.create(
        params={
            "product": product.id,
            "unit_amount": 1500,
            "currency": "usd",
            "recurring": {"interval": "month"},
        }
    )
    cus, _ = customer_with_card(fresh, "pm_card_visa", "trial@example.com")
    sub = fresh.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "trial_period_days": 7}
    )
    assert sub.status == "trialing"
    assert sub.trial_end - sub.trial_start == 7 * 86400
    assert sub["items"].data[0].current_period_end == sub.trial_end
    trial_invoice = fresh.v1.invoices.retrieve(sub.latest_invoice)
    assert trial_invoice.status == "paid" and trial_invoice.amount_due == 0
    assert trial_invoice.lines.data[0].description == "Trial period for Starter"

    log = control("GET", f"/requests?key={key}")
    assert log["count"] == 7 and log["total"] == 7
    assert [r["method"] for r in log["requests"]][:2] == ["POST", "POST"]
    assert all({"method", "path", "status", "idempotency_key"} <= set(r) for r in log["requests"])


def test_credit_balance_ledger(client):
    cus = client.v1.customers.create(params={"email": "credit@example.com"})
    txn = client.v1.customers.balance_transactions.create(
        cus.id, params={"amount": -2500, "currency": "usd", "description": "Goodwill"}
    )
    assert txn.object == "customer_balance_transaction"
    assert (txn.amount, txn.ending_balance, txn.type) == (-2500, -2500, "adjustment")
    assert client.v1.customers.retrieve(cus.id).balance == -2500
    listed = client.v1.customers.balance_transactions.list(cus.id)
    assert [t.id for t in listed.data] == [txn.id]


def test_invoice_preview_applies_credit(client, plan):
    _, price = plan
    cus, _ = customer_with_card(client, "pm_card_visa", "preview@example.com")
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    client.v1.customers.balance_transactions.create(cus.id, params={"amount": -1000, "currency": "usd"})
    preview = client.v1.invoices.create_preview(params={"customer": cus.id, "subscription": sub.id})
    assert preview.object == "invoice"
    assert (preview.total, preview.amount_due, preview.starting_balance) == (4900, 3900, -1000)
    assert preview.lines.data[0].amount == 4900
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.invoices.create_preview(params={})


def test_invoice_preview_for_a_customer_alone_picks_the_next_renewal(client, plan):
    # stripe-python 16.1.0, InvoiceCreatePreviewParams.subscription: "If neither
    # `subscription` nor `subscription_details.items` is provided, you will retrieve the next
    # upcoming invoice from among the customer's subscriptions."
    _, monthly = plan
    product = client.v1.products.create(params={"name": "Yearly"})
    yearly = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 50000, "currency": "usd", "recurring": {"interval": "year"}}
    )
    cus, _ = customer_with_card(client, "pm_card_visa", "next@example.com")
    year_sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": yearly.id}]})
    month_sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": monthly.id}]})
    preview = client.v1.invoices.create_preview(params={"customer": cus.id})
    assert preview.parent.subscription_details.subscription == month_sub.id
    assert preview.total == monthly.unit_amount
    # One that ends before it renews is skipped; none left is invoice_upcoming_none.
    client.v1.subscriptions.update(month_sub.id, params={"cancel_at_period_end": True})
    preview = client.v1.invoices.create_preview(params={"customer": cus.id})
    assert preview.parent.subscription_details.subscription == year_sub.id
    client.v1.subscriptions.update(year_sub.id, params={"cancel_at_period_end": True})
    with pytest.raises(stripe.InvalidRequestError) as none:
        client.v1.invoices.create_preview(params={"customer": cus.id})
    assert none.value.code == "invoice_upcoming_none"
    assert client.v1.invoice_items.list(params={"customer": cus.id, "pending": True}).data == []


def test_send_invoice_subscription_and_resend(client, plan):
    _, price = plan
    cus = client.v1.customers.create(params={"email": "manual@example.com"})
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": price.id}],
            "collection_method": "send_invoice",
            "days_until_due": 30,
            "expand": ["latest_invoice"],
        }
    )
    inv = sub.latest_invoice
    assert (inv.status, inv.collection_method, inv.amount_paid) == ("open", "send_invoice", 0)
    assert inv.due_date is not None
    sent = client.v1.invoices.send_invoice(inv.id)
    assert sent.id == inv.id and sent.status == "open"


def test_billing_portal_session_with_flow(client, plan):
    _, price = plan
    cus, _ = customer_with_card(client, "pm_card_visa", "portal@example.com")
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    session = client.v1.billing_portal.sessions.create(
        params={
            "customer": cus.id,
            "return_url": "https://example.com/account",
            "flow_data": {
                "type": "subscription_cancel",
                "subscription_cancel": {"subscription": sub.id},
                "after_completion": {"type": "redirect", "redirect": {"return_url": "https://example.com/done"}},
            },
        }
    )
    assert session.object == "billing_portal.session"
    assert session.url.startswith("https://")
    assert session.flow.type == "subscription_cancel"
    assert session.flow.subscription_cancel.subscription == sub.id
    plain = client.v1.billing_portal.sessions.create(params={"customer": cus.id})
    assert plain.flow is None
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.billing_portal.sessions.create(
            params={"customer": cus.id, "flow_data": {"type": "subscription_cancel"}}
        )
    # The endive flow types (stripe-python 16.1.0's SessionCreateParamsFlowData.type):
    # `customer_update` and `subscription_pause`, each answered with its own `flow` hash.
    update = client.v1.billing_portal.sessions.create(
        params={"customer": cus.id, "flow_data": {"type": "customer_update"}})
    assert update.flow.type == "customer_update" and update.flow.subscription_pause is None
    pause = client.v1.billing_portal.sessions.create(
        params={"customer": cus.id, "flow_data": {"type": "subscription_pause",
                                                  "subscription_pause": {"subscription": sub.id}}})
    assert (pause.flow.type, pause.flow.subscription_pause.subscription) == ("subscription_pause", sub.id)


# ---- plan changes, previews, discounts, and wire details ----

def clock_now() -> int:
    return control("GET", "/clock")["now"]


def two_prices(client):
    product = client.v1.products.create(params={"name": "Scale"})
    scale = client.v1.prices.create(
        params={"product": product.id, "unit_amount": 9900, "currency": "usd", "recurring": {"interval": "month"}}
    )
    return scale


def prorate(unit: int, at: int, start: int, end: int) -> int:
    # Stripe prorates to the second and rounds to the minor unit (half away from zero).
    exact = unit * (end - at) / (end - start)
    return int(exact + 0.5) if exact >= 0 else -int(-exact + 0.5)


def test_price_swap_prorations_match_their_preview(client, plan):
    _, growth = plan
    scale = two_prices(client)
    cus, _ = customer_with_card(client, "pm_card_visa", "swap@example.com")
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": growth.id}]})
    item = sub["items"].data[0]
    start, end = item.current_period_start, item.current_period_end
    at = clock_now() + 5
    change = {"items": [{"id": item.id, "price": scale.id}], "proration_date": at}

    preview = client.v1.invoices.create_preview(
        params={"customer": cus.id, "subscription": sub.id, "subscription_details": change}
    )
    prorations = [l for l in preview.lines.data if l.parent.subscription_item_details.proration]
    credit, debit = -prorate(4900, at, start, end), prorate(9900, at, start, end)
    assert [l.amount for l in prorations] == [credit, debit]
    assert prorations[0].description.startswith("Unused time on Growth after ")
    assert prorations[1].description.startswith("Remaining time on Scale after ")
    assert prorations[0].period.start == at and prorations[0].period.end == end
    assert preview.total == credit + debit + 9900
    assert client.v1.invoice_items.list(params={"customer": cus.id, "pending": True}).data == []

    updated = client.v1.subscriptions.update(sub.id, params=change)
    assert updated["items"].data[0].price.id == scale.id
    assert updated.latest_invoice == sub.latest_invoice  # create_prorations bills nothing now
    pending = client.v1.invoice_items.list(params={"customer": cus.id, "pending": True}).data
    assert sorted(i.amount for i in pending) == sorted([credit, debit])
    assert all(i.proration and i.invoice is None for i in pending)
    # The next invoice is exactly what was previewed.
    after = client.v1.invoices.create_preview(params={"customer": cus.id, "subscription": sub.id})
    assert after.total == preview.total


def test_always_invoice_upgrade_is_billed_at_once(client, plan):
    _, growth = plan
    scale = two_prices(client)
    cus, _ = customer_with_card(client, "pm_card_visa", "upgrade@example.com")
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": growth.id}]})
    item = sub["items"].data[0]
    at = clock_now() + 5
    details = {"items": [{"id": item.id, "price": scale.id}], "proration_date": at,
               "proration_behavior": "always_invoice"}
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id, "subscription_details": details})
    assert preview.billing_reason == "subscription_update"
    updated = client.v1.subscriptions.update(sub.id, params={**details, "expand": ["latest_invoice"]})
    invoice = updated.latest_invoice
    assert invoice.billing_reason == "subscription_update" and invoice.status == "paid"
    assert invoice.amount_paid == preview.total == (
        prorate(9900, at, item.current_period_start, item.current_period_end)
        - prorate(4900, at, item.current_period_start, item.current_period_end)
    )
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscriptions.update(sub.id, params={"proration_behavior": "sometimes"})
    assert err.value.param == "proration_behavior"


def test_renewal_waits_an_hour_as_a_draft():
    # A trial ending in a few seconds renews on real time passing, without moving the
    # emulator-wide clock that other suites' data depends on.
    fresh = new_client(new_key())
    product = fresh.v1.products.create(params={"name": "Hourly"})
    price = fresh.v1.prices.create(
        params={"product": product.id, "unit_amount": 1500, "currency": "usd", "recurring": {"interval": "month"}}
    )
    cus, _ = customer_with_card(fresh, "pm_card_visa", "draft@example.com")
    sub = fresh.v1.subscriptions.create(
        params={"customer": cus.id, "items": [{"price": price.id}], "trial_end": clock_now() + 2}
    )
    assert sub.status == "trialing"
    time.sleep(3)
    sub = fresh.v1.subscriptions.retrieve(sub.id, params={"expand": ["latest_invoice"]})
    invoice = sub.latest_invoice
    assert sub.status == "active"
    assert invoice.billing_reason == "subscription_cycle"
    assert invoice.status == "draft" and invoice.number is None
    assert invoice.automatically_finalizes_at == invoice.created + 3600
    assert invoice.total == 1500


def test_coupons_and_promotion_codes(client, plan):
    _, growth = plan
    coupon = client.v1.coupons.create(
        params={"percent_off": 25, "duration": "repeating", "duration_in_months": 3, "name": "Quarter off"}
    )
    assert (coupon.valid, coupon.times_redeemed, coupon.duration_in_months) == (True, 0, 3)
    code = f"Spring{uuid.uuid4().hex[:6]}"
    promo = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": code, "max_redemptions": 1}
    )
    assert promo.promotion.coupon == coupon.id and promo.active
    found = client.v1.promotion_codes.list(params={"code": code.upper()})
    assert [p.id for p in found.data] == [promo.id]
    assert client.v1.coupons.retrieve(coupon.id).percent_off == 25

    cus, _ = customer_with_card(client, "pm_card_visa", "coupon@example.com")
    sub = client.v1.subscriptions.create(
        params={
            "customer": cus.id,
            "items": [{"price": growth.id}],
            "discounts": [{"promotion_code": promo.id}],
            "expand": ["latest_invoice", "discounts.source.coupon"],
        }
    )
    invoice = sub.latest_invoice
    assert (invoice.subtotal, invoice.total, invoice.amount_paid) == (4900, 3675, 3675)
    assert invoice.total_discount_amounts[0].amount == 1225
    assert invoice.lines.data[0].discount_amounts[0].amount == 1225
    discount = sub.discounts[0]
    assert discount.promotion_code == promo.id and discount.source.coupon.name == "Quarter off"
    assert client.v1.promotion_codes.retrieve(promo.id).times_redeemed == 1
    assert client.v1.coupons.retrieve(coupon.id).times_redeemed == 1
    preview = client.v1.invoices.create_preview(params={"subscription": sub.id})
    assert preview.total == 3675

    other, _ = customer_with_card(client, "pm_card_visa", "coupon2@example.com")
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(
            params={"customer": other.id, "items": [{"price": growth.id}], "discounts": [{"promotion_code": promo.id}]}
        )
    personal = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id}, "customer": cus.id}
    )
    with pytest.raises(stripe.InvalidRequestError):
        client.v1.subscriptions.create(
            params={"customer": other.id, "items": [{"price": growth.id}], "discounts": [{"promotion_code": personal.id}]}
        )
    first_time = client.v1.promotion_codes.create(
        params={"promotion": {"type": "coupon", "coupon": coupon.id},
                "restrictions": {"first_time_transaction": True, "minimum_amount": 1000, "minimum_amount_currency": "usd"}}
    )
    assert first_time.restrictions.first_time_transaction and first_time.restrictions.minimum_amount == 1000
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscriptions.create(
            params={"customer": cus.id, "items": [{"price": growth.id}], "discounts": [{"promotion_code": first_time.id}]}
        )
    assert "prior transactions" in str(err.value.user_message)

    flat = client.v1.coupons.create(params={"amount_off": 1000, "currency": "usd", "duration": "once"})
    sub2 = client.v1.subscriptions.create(params={"customer": other.id, "items": [{"price": growth.id}]})
    updated = client.v1.subscriptions.update(sub2.id, params={"discounts": [{"coupon": flat.id}]})
    assert len(updated.discounts) == 1
    assert client.v1.invoices.create_preview(params={"subscription": sub2.id}).total == 3900


def test_a_coupons_includable_fields_come_only_when_expanded(client, plan):
    # Coupon.applies_to and Coupon.currency_options: "This field is not included by
    # default. To include it in the response, expand the `applies_to` field."
    product, _ = plan
    product = product.id
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "once",
                                              "applies_to": {"products": [product]}})
    shown = client.v1.coupons.retrieve(coupon.id).to_dict()
    assert "applies_to" not in shown and "currency_options" not in shown
    asked = client.v1.coupons.retrieve(coupon.id, params={"expand": ["applies_to"]})
    assert asked.applies_to.products == [product]


def test_updating_a_canceled_subscription_names_stripes_error_code(client, plan):
    # Stripe's error codes: "invalid_canceled_subscription_fields: A canceled subscription
    # can only update its cancellation_details and metadata."
    cus, _ = customer_with_card(client, "pm_card_visa", "gone@example.com")
    _, price = plan
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    client.v1.subscriptions.cancel(sub.id)
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})
    assert err.value.code == "invalid_canceled_subscription_fields"
    kept = client.v1.subscriptions.update(sub.id, params={"metadata": {"why": "test"}})
    assert kept.metadata["why"] == "test"


def test_customer_details_update(client):
    cus = client.v1.customers.create(params={"email": "before@example.com"})
    updated = client.v1.customers.update(
        cus.id,
        params={
            "name": "Grace Hopper",
            "email": "grace@example.com",
            "phone": "+15555550123",
            "address": {"line1": "1 Navy Way", "line2": "Suite 2", "city": "Arlington",
                        "state": "VA", "postal_code": "22202", "country": "US"},
        },
    )
    assert (updated.name, updated.email, updated.phone) == ("Grace Hopper", "grace@example.com", "+15555550123")
    assert updated.address.city == "Arlington" and updated.address.postal_code == "22202"
    assert client.v1.customers.retrieve(cus.id).address.line2 == "Suite 2"


def test_unexpandable_fields_are_refused(client, plan):
    _, price = plan
    cus, _ = customer_with_card(client, "pm_card_visa", "expand@example.com")
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.subscriptions.retrieve(sub.id, params={"expand": ["status"]})
    assert err.value.http_status == 400
    assert str(err.value.user_message) == "This property cannot be expanded (status)."
    charges = client.v1.charges.list(params={"customer": cus.id, "expand": ["data.balance_transaction"]})
    assert charges.data[0].balance_transaction.balance_type == "payments"


def test_search_auto_paging_ends():
    fresh = new_client(new_key())
    ids = {fresh.v1.customers.create(params={"email": f"s{i}@paging.example.com"}).id for i in range(5)}
    first = fresh.v1.customers.search(params={"query": "email~'paging.example.com'", "limit": 2})
    assert first.has_more and first.next_page
    assert {c.id for c in first.auto_paging_iter()} == ids


def test_bad_stripe_version_is_refused(client):
    with pytest.raises(stripe.InvalidRequestError) as err:
        client.v1.customers.list(options={"stripe_version": "not-a-version"})
    assert err.value.http_status == 400
    assert "Invalid Stripe API version" in str(err.value.user_message)


def test_concurrent_idempotency_key_reuse_is_409():
    key = new_key()
    fresh = new_client(key)
    control("POST", "/latency", {"ms": 500, "key": key})
    ik = str(uuid.uuid4())
    results = {}

    def create(name):
        try:
            results[name] = fresh.v1.customers.create(params={"email": "ik@example.com"}, options={"idempotency_key": ik})
        except stripe.StripeError as e:
            results[name] = e

    try:
        first = threading.Thread(target=create, args=("first",))
        first.start()
        time.sleep(0.15)
        create("second")
        first.join()
    finally:
        control("POST", "/latency", {"ms": 0, "key": key})
    assert isinstance(results["first"], stripe.Customer)
    # stripe-python raises its generic APIError for a 409; the body says what it is.
    second = results["second"]
    assert isinstance(second, stripe.APIError) and second.http_status == 409
    assert second.json_body["error"]["type"] == "idempotency_error"
    assert "another in-progress request" in str(second.user_message)
    # Once the first request is done, the key replays it.
    again = fresh.v1.customers.create(params={"email": "ik@example.com"}, options={"idempotency_key": ik})
    assert again.id == results["first"].id


def paid_charge(client, plan, card: str = "pm_card_visa"):
    cus = client.v1.customers.create(params={"email": f"r-{uuid.uuid4().hex[:6]}@example.com"})
    pm = client.v1.payment_methods.attach(card, params={"customer": cus.id})
    client.v1.customers.update(cus.id, params={"invoice_settings": {"default_payment_method": pm.id}})
    _, price = plan
    client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    return client.v1.charges.list(params={"customer": cus.id, "limit": 1}).data[0]


def test_refunds_partial_then_the_rest_then_refused(client, plan):
    charge = paid_charge(client, plan)
    first = client.v1.refunds.create(params={"charge": charge.id, "amount": 1000,
                                             "reason": "requested_by_customer"})
    assert (first.object, first.amount, first.status, first.reason) == ("refund", 1000, "succeeded",
                                                                         "requested_by_customer")
    after = client.v1.charges.retrieve(charge.id)
    assert (after.amount_refunded, after.refunded) == (1000, False)
    with pytest.raises(stripe.InvalidRequestError) as too_much:
        client.v1.refunds.create(params={"charge": charge.id, "amount": 5000})
    assert too_much.value.code == "amount_too_large" and too_much.value.param == "amount"
    rest = client.v1.refunds.create(params={"payment_intent": charge.payment_intent})
    assert rest.amount == charge.amount - 1000 and rest.charge == charge.id
    # Charge.refunds is includable: "This field is not included by default. To include it
    # in the response, expand the `refunds` field" (API version 2022-11-15 on).
    assert "refunds" not in client.v1.charges.retrieve(charge.id).to_dict()
    done = client.v1.charges.retrieve(charge.id, params={"expand": ["refunds"]})
    assert (done.amount_refunded, done.refunded, len(done.refunds.data)) == (charge.amount, True, 2)
    with pytest.raises(stripe.InvalidRequestError) as again:
        client.v1.refunds.create(params={"charge": charge.id})
    assert again.value.code == "charge_already_refunded"
    listed = client.v1.refunds.list(params={"charge": charge.id})
    assert [r.id for r in listed.data] == [rest.id, first.id]
    assert client.v1.refunds.retrieve(first.id).amount == 1000


def test_the_dispute_test_card_makes_a_disputed_charge_that_cannot_be_refunded(client, plan):
    charge = paid_charge(client, plan, "pm_card_createDispute")
    assert charge.status == "succeeded" and charge.disputed is True
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.refunds.create(params={"charge": charge.id})
    assert e.value.code == "charge_disputed"


def test_a_refund_reason_stripe_does_not_know_is_refused(client, plan):
    charge = paid_charge(client, plan)
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.refunds.create(params={"charge": charge.id, "reason": "changed_mind"})
    assert e.value.param == "reason"


def test_refund_accepts_stripes_other_create_params(client, plan):
    charge = paid_charge(client, plan)
    refund = client.v1.refunds.create(params={
        "charge": charge.id, "amount": 100, "instructions_email": "ada@example.com",
        "refund_application_fee": False, "reverse_transfer": False,
    })
    assert refund.amount == 100
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.refunds.create(params={"charge": charge.id, "origin": "somewhere"})
    assert e.value.param == "origin"
    assert client.v1.charges.retrieve(charge.id).amount_refunded == 100


def test_payment_intent_created_and_confirmed_directly_is_charged_and_refundable(client):
    cus = client.v1.customers.create(params={"email": "pi@example.com"})
    pi = client.v1.payment_intents.create(params={
        "amount": 2500, "currency": "usd", "customer": cus.id, "payment_method": "pm_card_visa",
        "confirm": True, "metadata": {"order": "42"},
        "automatic_payment_methods": {"enabled": True, "allow_redirects": "never"},
    })
    assert (pi.status, pi.amount_received, pi.metadata["order"]) == ("succeeded", 2500, "42")
    charge = client.v1.charges.retrieve(pi.latest_charge)
    assert (charge.status, charge.paid, charge.payment_intent) == ("succeeded", True, pi.id)
    assert charge.payment_method_details.card.last4 == "4242"
    refund = client.v1.refunds.create(params={"payment_intent": pi.id})
    assert refund.amount == 2500 and client.v1.charges.retrieve(charge.id).refunded is True
    with pytest.raises(stripe.InvalidRequestError) as small:
        client.v1.payment_intents.create(params={"amount": 10, "currency": "usd"})
    assert small.value.code == "amount_too_small"


def test_payment_intent_confirmed_in_two_steps_and_canceled(client):
    pi = client.v1.payment_intents.create(params={"amount": 1200, "currency": "eur"})
    assert pi.status == "requires_payment_method" and pi.customer is None
    done = client.v1.payment_intents.confirm(pi.id, params={"payment_method": "pm_card_mastercard"})
    assert done.status == "succeeded"
    with pytest.raises(stripe.InvalidRequestError) as e:
        client.v1.payment_intents.cancel(pi.id)
    assert e.value.code == "payment_intent_unexpected_state"
    other = client.v1.payment_intents.create(params={"amount": 1200, "currency": "eur"})
    gone = client.v1.payment_intents.cancel(other.id, params={"cancellation_reason": "abandoned"})
    assert (gone.status, gone.cancellation_reason) == ("canceled", "abandoned")


def test_payment_intent_declines_with_stripes_decline_codes(client):
    with pytest.raises(stripe.CardError) as funds:
        client.v1.payment_intents.create(params={
            "amount": 900, "currency": "usd", "confirm": True,
            "payment_method": "pm_card_visa_chargeDeclinedInsufficientFunds",
        })
    assert (funds.value.code, funds.value.error.decline_code) == ("card_declined", "insufficient_funds")
    pi = client.v1.payment_intents.retrieve(funds.value.error.payment_intent.id,
                                            params={"expand": ["latest_charge"]})
    assert pi.status == "requires_payment_method"
    assert pi.last_payment_error.decline_code == "insufficient_funds"
    assert (pi.latest_charge.status, pi.latest_charge.outcome.reason) == ("failed", "insufficient_funds")


def test_a_card_that_needs_3ds_waits_on_session_and_declines_off_session(client):
    on = client.v1.payment_intents.create(params={
        "amount": 900, "currency": "usd", "confirm": True,
        "payment_method": "pm_card_authenticationRequired",
    })
    assert on.status == "requires_action" and on.next_action.type == "use_stripe_sdk"
    assert on.latest_charge is None
    cus = client.v1.customers.create(params={"email": "3ds@example.com"})
    pm = client.v1.payment_methods.attach("pm_card_authenticationRequired", params={"customer": cus.id})
    with pytest.raises(stripe.CardError) as off:
        client.v1.payment_intents.create(params={
            "amount": 900, "currency": "usd", "confirm": True, "off_session": True,
            "customer": cus.id, "payment_method": pm.id,
        })
    assert (off.value.code, off.value.error.decline_code) == ("authentication_required",
                                                              "authentication_required")


def test_invoice_pay_with_a_3ds_card_needs_action_and_a_failing_card_declines(client, plan):
    _, price = plan
    cus, _ = customer_with_card(client, "pm_card_authenticationRequired", "3ds-inv@example.com")
    sub = client.v1.subscriptions.create(params={
        "customer": cus.id, "items": [{"price": price.id}], "expand": ["latest_invoice.payments"],
    })
    assert sub.status == "incomplete" and sub.latest_invoice.status == "open"
    intent = client.v1.payment_intents.retrieve(sub.latest_invoice.payments.data[0].payment.payment_intent)
    assert intent.status == "requires_action"
    with pytest.raises(stripe.CardError) as action:
        client.v1.invoices.pay(sub.latest_invoice.id)
    assert action.value.code == "invoice_payment_intent_requires_action"
    assert client.v1.invoices.retrieve(sub.latest_invoice.id).status == "open"

    failing, _ = customer_with_card(client, "pm_card_chargeCustomerFail", "fail-inv@example.com")
    sub = client.v1.subscriptions.create(params={"customer": failing.id, "items": [{"price": price.id}]})
    with pytest.raises(stripe.CardError) as declined:
        client.v1.invoices.pay(sub.latest_invoice)
    assert (declined.value.code, declined.value.error.decline_code) == ("card_declined", "generic_decline")
    charge = client.v1.charges.retrieve(declined.value.error.charge)
    assert charge.status == "failed" and charge.customer == failing.id


EVENT_FIELDS = {"id", "object", "api_version", "created", "data", "livemode", "pending_webhooks", "request", "type"}
ENDPOINT_FIELDS = {"id", "object", "api_version", "application", "created", "description", "enabled_events",
                   "livemode", "metadata", "status", "url"}


class Receiver:
    """A local HTTP endpoint that keeps what Stripe (the emulator) delivers to it."""

    def __init__(self, fail_first: int = 0):
        import http.server
        import threading

        received, failures = [], [fail_first]

        class Handler(http.server.BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers["Content-Length"]))
                if failures[0] > 0:
                    failures[0] -= 1
                    self.send_response(500)
                else:
                    received.append((body, self.headers["Stripe-Signature"]))
                    self.send_response(200)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.received = received
        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def wait(self, n: int, timeout: float = 10) -> list:
        end = time.time() + timeout
        while len(self.received) < n and time.time() < end:
            time.sleep(0.05)
        return list(self.received)


def test_webhook_deliveries_verify_with_stripes_library_and_carry_stripes_fields():
    fresh = new_client(new_key())
    hook = Receiver()
    endpoint = fresh.v1.webhook_endpoints.create(params={"url": hook.url, "enabled_events": ["customer.created", "customer.updated"]})
    assert endpoint.secret.startswith("whsec_") and ENDPOINT_FIELDS <= set(endpoint.to_dict())
    assert "secret" not in fresh.v1.webhook_endpoints.retrieve(endpoint.id).to_dict()
    cus = fresh.v1.customers.create(params={"email": "hook@example.com"})
    (body, sig), = hook.wait(1)
    event = stripe.Webhook.construct_event(body.decode(), sig, endpoint.secret)
    assert (event.type, event.data.object.id) == ("customer.created", cus.id)
    assert EVENT_FIELDS <= set(event.to_dict())
    assert fresh.v1.events.retrieve(event.id).type == "customer.created"
    with pytest.raises(stripe.SignatureVerificationError):
        stripe.Webhook.construct_event(body.decode(), sig, "whsec_" + "0" * 32)
    fresh.v1.customers.update(cus.id, params={"name": "Hook Updated"})
    updated = [json.loads(b) for b, _ in hook.wait(2)][1]
    assert updated["type"] == "customer.updated" and updated["data"]["previous_attributes"]["name"] is None
    assert [e.type for e in fresh.v1.events.list(params={"type": "customer.*"}).data] == ["customer.updated",
                                                                                           "customer.created"]


def test_previous_attributes_hold_only_the_changed_keys_of_a_nested_hash():
    # Stripe's reference, event.data.previous_attributes: "Object containing the names of
    # the updated attributes and their values prior to the event ... If an array attribute
    # has any updated elements, this object contains the entire array." A nested hash lists
    # only its keys that changed.
    fresh = new_client(new_key())
    cus = fresh.v1.customers.create(params={"email": "nested@example.com",
                                            "invoice_settings": {"footer": "Thanks"}})
    fresh.v1.customers.update(cus.id, params={"invoice_settings": {"footer": "Merci"}})
    event = fresh.v1.events.list(params={"type": "customer.updated"}).data[0]
    assert event.data.to_dict()["previous_attributes"] == {"invoice_settings": {"footer": "Thanks"}}


def test_a_failed_delivery_is_retried_and_a_subscription_emits_its_events():
    fresh = new_client(new_key())
    hook = Receiver(fail_first=1)
    endpoint = fresh.v1.webhook_endpoints.create(params={"url": hook.url, "enabled_events": ["*"]})
    product = fresh.v1.products.create(params={"name": "Hooked"})
    price = fresh.v1.prices.create(params={"product": product.id, "unit_amount": 900, "currency": "usd",
                                           "recurring": {"interval": "month"}})
    cus, _ = customer_with_card(fresh, "pm_card_chargeCustomerFail", "hooked@example.com")
    fresh.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    kinds = [e.type for e in fresh.v1.events.list(params={"limit": 100}).auto_paging_iter()]
    for want in ("customer.created", "customer.subscription.created", "invoice.created", "invoice.finalized",
                 "invoice.payment_failed", "charge.failed", "payment_intent.payment_failed"):
        assert want in kinds, kinds
    got = hook.wait(len(kinds), timeout=15)
    assert len(got) == len(kinds), "every event delivered, the refused first one on retry"
    for body, sig in got:
        stripe.Webhook.construct_event(body.decode(), sig, endpoint.secret)


def test_delivery_controls_duplicate_shuffle_and_drop():
    fresh = new_client(new_key())
    hook = Receiver()
    fresh.v1.webhook_endpoints.create(params={"url": hook.url, "enabled_events": ["customer.created"]})
    try:
        control("POST", "/webhooks", {"duplicate": True, "shuffle": True, "delay_ms": 100})
        made = {fresh.v1.customers.create(params={"email": f"c{i}@example.com"}).id for i in range(5)}
        got = hook.wait(10)
        ids = [json.loads(b)["data"]["object"]["id"] for b, _ in got]
        assert sorted(ids) == sorted(list(made) * 2), "each delivered twice"
        control("POST", "/webhooks", {"duplicate": False, "shuffle": False, "delay_ms": 0, "drop": 1})
        fresh.v1.customers.create(params={"email": "dropped@example.com"})
        kept = fresh.v1.customers.create(params={"email": "kept@example.com"})
        later = hook.wait(11, timeout=5)
        assert len(later) == 11 and json.loads(later[-1][0])["data"]["object"]["id"] == kept.id
    finally:
        control("POST", "/webhooks", {"duplicate": False, "shuffle": False, "delay_ms": 0, "drop": 0})
