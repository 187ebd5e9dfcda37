"""Seeds the demo tenant's Stripe account in the emulator, through Stripe's official
Python library, with customers in every state a visitor can be in."""
from __future__ import annotations

import requests
import stripe

DAY = 86_400


def control(base: str, path: str, body: dict | None = None) -> dict:
    r = requests.post(f"{base}/_emulator/{path}", json=body or {}, timeout=10)
    r.raise_for_status()
    return r.json() if r.content else {}


def set_card(v1, customer: str, token: str) -> str:
    """What the Billing Portal's card update does: the new card becomes the customer's
    default and that of every subscription that names one."""
    pm = v1.payment_methods.attach(token, params={"customer": customer})
    v1.customers.update(customer, params={"invoice_settings": {"default_payment_method": pm.id}})
    for sub in v1.subscriptions.list(params={"customer": customer, "status": "all"}).auto_paging_iter():
        if sub.default_payment_method:
            v1.subscriptions.update(sub.id, params={"default_payment_method": pm.id})
    return pm.id


def seed(base: str, key: str) -> dict[str, dict]:
    """Returns {state: {"customer": id, "user": user id, "email": email}}. Expects the
    stack's fresh emulator: it is reset to start 32 days ago, so that after the month of
    renewals below the emulator's clock is today and the demo's dates look like real ones."""
    control(base, "reset", {"offset": -32 * DAY})
    sc = stripe.StripeClient(key, base_addresses={"api": base}, max_network_retries=0)
    v1 = sc.v1
    prices = {}
    for name, amount in (("Starter", 1900), ("Growth", 4900), ("Scale", 9900)):
        product = v1.products.create(params={"name": name})
        prices[name] = v1.prices.create(params={
            "product": product.id, "unit_amount": amount, "currency": "usd",
            "recurring": {"interval": "month"}, "nickname": f"{name} monthly",
        })

    # The merchant's customer portal settings, as saved in the Dashboard: card updates,
    # cancellation, and plan changes among the three plans (what the deep links need;
    # `tenantctl doctor` checks it).
    default = v1.billing_portal.configurations.list(params={"is_default": True}).data[0]
    v1.billing_portal.configurations.update(default.id, params={
        "default_return_url": "https://demo.example.com/account",
        "features": {"subscription_update": {
            "enabled": True, "default_allowed_updates": ["price"],
            "products": [{"product": p.product, "prices": [p.id]} for p in prices.values()],
        }},
    })

    def customer(state: str, name: str, card: str | None = "pm_card_visa") -> dict:
        email = f"{state.replace('_', '.')}@demo.example.com"
        c = v1.customers.create(params={"email": email, "name": name, "phone": "+15555550100"})
        if card:
            pm = v1.payment_methods.attach(card, params={"customer": c.id})
            v1.customers.update(c.id, params={"invoice_settings": {"default_payment_method": pm.id}})
        return {"customer": c.id, "user": f"user_{state}", "email": email}

    out = {}
    out["active"] = customer("active", "Ada Active")
    v1.subscriptions.create(params={"customer": out["active"]["customer"], "items": [{"price": prices["Growth"].id}]})

    # Past due: a renewal that a failing card cannot pay, as in Stripe.
    out["past_due"] = customer("past_due", "Pat Pastdue")
    sub = v1.subscriptions.create(params={"customer": out["past_due"]["customer"], "items": [{"price": prices["Starter"].id}]})
    failing = v1.payment_methods.attach("pm_card_chargeCustomerFail", params={"customer": out["past_due"]["customer"]})
    v1.customers.update(out["past_due"]["customer"], params={"invoice_settings": {"default_payment_method": failing.id}})
    v1.subscriptions.update(sub.id, params={"default_payment_method": failing.id})
    # The same story for the payment-retry demo, kept apart so reads of Pat stay as they are:
    # the retry declines, the card is changed (infra/update_card.py, as the portal would),
    # and the next retry pays.
    out["retry"] = customer("retry", "Rory Retry")
    v1.subscriptions.create(params={"customer": out["retry"]["customer"], "items": [{"price": prices["Starter"].id}]})
    set_card(v1, out["retry"]["customer"], "pm_card_chargeCustomerFail")
    control(base, "clock/advance", {"seconds": 32 * DAY})

    out["trialing"] = customer("trialing", "Tara Trial")
    v1.subscriptions.create(params={
        "customer": out["trialing"]["customer"], "items": [{"price": prices["Scale"].id}], "trial_period_days": 14,
    })

    out["canceling"] = customer("canceling", "Carl Canceling")
    sub = v1.subscriptions.create(params={"customer": out["canceling"]["customer"], "items": [{"price": prices["Growth"].id}]})
    v1.subscriptions.update(sub.id, params={"cancel_at_period_end": True})

    out["nothing"] = customer("nothing", "Nell Nothing", card=None)

    # Account credit that the next invoice will use.
    out["credit"] = customer("credit", "Cora Credit")
    v1.subscriptions.create(params={"customer": out["credit"]["customer"], "items": [{"price": prices["Starter"].id}]})
    v1.customers.balance_transactions.create(
        out["credit"]["customer"], params={"amount": -1500, "currency": "usd", "description": "Goodwill credit"})

    # Invoiced for manual payment: an open invoice Stripe can email again.
    out["manual"] = customer("manual", "Max Manual", card=None)
    sub = v1.subscriptions.create(params={
        "customer": out["manual"]["customer"], "items": [{"price": prices["Growth"].id}],
        "collection_method": "send_invoice", "days_until_due": 30,
    })
    out["manual_invoice"] = sub.latest_invoice

    # Two customers whose emails differ only in case: resolution must refuse to pick.
    dup_a = v1.customers.create(params={"email": "sam.shared@demo.example.com", "name": "Sam One"})
    v1.customers.create(params={"email": "Sam.Shared@Demo.Example.com", "name": "Sam Two"})
    out["ambiguous"] = {"customer": dup_a.id, "user": "user_ambiguous", "email": "sam.shared@demo.example.com"}
    # A promotion code a visitor can apply: 10% off for 3 months.
    coupon = v1.coupons.create(params={"percent_off": 10, "duration": "repeating",
                                       "duration_in_months": 3, "name": "Welcome"})
    v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": coupon.id}, "code": "WELCOME10"})
    out["promotion_code"] = "WELCOME10"
    # The demo tenant's retention discount (policy.retention): 25% off for 3 months.
    stay = v1.coupons.create(params={"percent_off": 25, "duration": "repeating",
                                     "duration_in_months": 3, "name": "Stay with us"})
    v1.promotion_codes.create(params={"promotion": {"type": "coupon", "coupon": stay.id}, "code": "STAY25"})
    out["retention_code"] = "STAY25"
    out["prices"] = {k: p.id for k, p in prices.items()}
    return out
