"""No parameter Stripe documents for an endpoint the product uses is refused as unknown.
The names come from stripe-python 16.1.0's typed params (`stripe.params.*Params`), which
its generator writes from Stripe's OpenAPI spec; each is sent alone to the emulator, and
whatever else the emulator says of the value (a bad value for a real name is fine), it
must not answer `parameter_unknown` for it."""
import requests
import stripe.params as sp
from stripe._request_options import RequestOptions

from test_stripe_fidelity import BASE, customer_with_card, new_client, new_key

OPTIONS = set(RequestOptions.__annotations__)


def names(params_class) -> list[str]:
    """The request parameters a Params class declares (not the client's options)."""
    out = {}
    for cls in reversed(params_class.__mro__):
        out.update(getattr(cls, "__annotations__", {}))
    return sorted(set(out) - OPTIONS)


def refused_as_unknown(key: str, method: str, path: str, name: str) -> bool:
    data = {name: "x"}
    if method == "GET":
        r = requests.get(f"{BASE}{path}", params=data, auth=(key, ""), timeout=10)
    else:
        r = requests.request(method, f"{BASE}{path}", data=data, auth=(key, ""), timeout=10)
    err = r.json().get("error", {}) if r.status_code >= 400 else {}
    return err.get("code") == "parameter_unknown" and err.get("param", "").split("[")[0] == name


def test_no_documented_parameter_is_refused_as_unknown():
    key = new_key()
    client = new_client(key)
    product = client.v1.products.create(params={"name": "Params"})
    price = client.v1.prices.create(params={"product": product.id, "unit_amount": 900, "currency": "usd",
                                            "recurring": {"interval": "month"}})
    cus, _ = customer_with_card(client, "pm_card_visa", "params@example.com")
    sub = client.v1.subscriptions.create(params={"customer": cus.id, "items": [{"price": price.id}]})
    charge = client.v1.charges.list(params={"customer": cus.id}).data[0]
    inv = client.v1.invoices.list(params={"customer": cus.id}).data[0]
    coupon = client.v1.coupons.create(params={"percent_off": 10, "duration": "once"})
    endpoints = [
        ("POST", "/v1/customers", sp.CustomerCreateParams),
        ("POST", f"/v1/customers/{cus.id}", sp.CustomerUpdateParams),
        ("GET", "/v1/customers", sp.CustomerListParams),
        ("GET", f"/v1/customers/{cus.id}", sp.CustomerRetrieveParams),
        ("GET", "/v1/customers/search", sp.CustomerSearchParams),
        ("GET", f"/v1/customers/{cus.id}/balance_transactions", sp.CustomerBalanceTransactionListParams),
        ("POST", "/v1/subscriptions", sp.SubscriptionCreateParams),
        ("POST", f"/v1/subscriptions/{sub.id}", sp.SubscriptionUpdateParams),
        ("GET", "/v1/subscriptions", sp.SubscriptionListParams),
        ("GET", f"/v1/subscriptions/{sub.id}", sp.SubscriptionRetrieveParams),
        ("GET", "/v1/invoices", sp.InvoiceListParams),
        ("GET", f"/v1/invoices/{inv.id}", sp.InvoiceRetrieveParams),
        ("POST", "/v1/invoices/create_preview", sp.InvoiceCreatePreviewParams),
        ("GET", "/v1/invoice_payments", sp.InvoicePaymentListParams),
        ("GET", "/v1/charges", sp.ChargeListParams),
        ("GET", f"/v1/charges/{charge.id}", sp.ChargeRetrieveParams),
        ("GET", f"/v1/payment_intents/{charge.payment_intent}", sp.PaymentIntentRetrieveParams),
        ("GET", "/v1/payment_intents", sp.PaymentIntentListParams),
        ("POST", "/v1/refunds", sp.RefundCreateParams),
        ("GET", "/v1/refunds", sp.RefundListParams),
        ("POST", "/v1/billing_portal/sessions", sp.billing_portal.SessionCreateParams),
        ("GET", "/v1/promotion_codes", sp.PromotionCodeListParams),
        ("POST", "/v1/promotion_codes", sp.PromotionCodeCreateParams),
        ("POST", "/v1/coupons", sp.CouponCreateParams),
        ("GET", f"/v1/coupons/{coupon.id}", sp.CouponRetrieveParams),
        ("POST", "/v1/prices", sp.PriceCreateParams),
        ("GET", "/v1/prices", sp.PriceListParams),
        ("GET", f"/v1/prices/{price.id}", sp.PriceRetrieveParams),
        ("POST", "/v1/products", sp.ProductCreateParams),
        ("GET", "/v1/products", sp.ProductListParams),
        ("GET", "/v1/events", sp.EventListParams),
        ("POST", "/v1/checkout/sessions", sp.checkout.SessionCreateParams),
        ("GET", "/v1/checkout/sessions", sp.checkout.SessionListParams),
        ("POST", "/v1/billing_portal/configurations", sp.billing_portal.ConfigurationCreateParams),
        ("GET", "/v1/billing_portal/configurations", sp.billing_portal.ConfigurationListParams),
        ("POST", "/v1/webhook_endpoints", sp.WebhookEndpointCreateParams),
        ("GET", "/v1/webhook_endpoints", sp.WebhookEndpointListParams),
        ("POST", f"/v1/payment_methods/{cus.invoice_settings.default_payment_method}",
         sp.PaymentMethodUpdateParams),
    ]
    refused = [f"{method} {path.split('/')[2]} {name}"
               for method, path, cls in endpoints
               for name in names(cls)
               if refused_as_unknown(key, method, path, name)]
    assert not refused, f"{len(refused)} documented parameters refused as unknown: {refused}"
