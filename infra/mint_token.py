"""Mints a visitor token for the local demo tenant from .local/demo.env.

    .venv/bin/python infra/mint_token.py USER_ID [--email E] [--customer cus_...] [--ttl S]
"""
import argparse
from pathlib import Path

from stack import LOCAL, mint


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("user")
    ap.add_argument("--email")
    ap.add_argument("--customer")
    ap.add_argument("--ttl", type=int, default=3600)
    a = ap.parse_args()
    env = dict(line.split("=", 1) for line in (LOCAL / "demo.env").read_text().splitlines() if "=" in line)
    claims = {}
    if a.email:
        claims["email"] = a.email
    if a.customer:
        claims["stripe_customer_id"] = a.customer
    print(mint(env["IDENTITY_SECRET"], a.user, a.ttl, **claims))


if __name__ == "__main__":
    main()
