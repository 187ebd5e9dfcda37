"""Changes a demo customer's card as the Billing Portal's "update payment method" flow
would (the emulator has no portal pages to click through), with Stripe's Python library.

    .venv/bin/python infra/update_card.py CUSTOMER_ID [--card pm_card_visa]

The customer is one of the demo tenant's (DEMO_<STATE>_CUSTOMER in .local/demo.env); the
card is one of Stripe's test tokens (pm_card_visa, pm_card_chargeCustomerFail,
pm_card_authenticationRequired, ...).
"""
import argparse

import stripe

from seed_demo import set_card
from stack import LOCAL


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("customer", metavar="CUSTOMER_ID")
    ap.add_argument("--card", default="pm_card_visa")
    a = ap.parse_args()
    env = dict(line.split("=", 1) for line in (LOCAL / "demo.env").read_text().splitlines() if "=" in line)
    client = stripe.StripeClient(env["STRIPE_API_KEY"], base_addresses={"api": env["STRIPE_API_BASE"]},
                                 max_network_retries=0)
    pm = set_card(client.v1, a.customer, a.card)
    print(f"{a.customer} now pays with {pm} ({a.card})")


if __name__ == "__main__":
    main()
