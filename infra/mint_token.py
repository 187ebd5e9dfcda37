"""Mints a token for the local demo tenant from .local/demo.env.

    .venv/bin/python infra/mint_token.py USER_ID [--email E [--unverified-email]] [--customer cus_...] [--ttl S]
    .venv/bin/python infra/mint_token.py --agent AGENT_ID [--ttl S]

A visitor token carries `email` with `email_verified: true` (only a verified email is used
to look the customer up): the --email given, or else, for a demo user (DEMO_<STATE>_USER in
.local/demo.env, e.g. user_nothing, user_ambiguous), that user's DEMO_<STATE>_EMAIL.
--unverified-email leaves `email_verified` out. An agent token is signed with AGENT_SECRET
and carries `role: "agent"`.
"""
import argparse
from pathlib import Path

from stack import LOCAL, mint


def demo_email(env: dict[str, str], user: str) -> str | None:
    """The email seeded beside a demo user: DEMO_<STATE>_EMAIL next to DEMO_<STATE>_USER."""
    for key, value in env.items():
        if key.startswith("DEMO_") and key.endswith("_USER") and value == user:
            return env.get(key[: -len("_USER")] + "_EMAIL")
    return None


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("user", metavar="USER_ID", help="the visitor's id, or the agent's with --agent")
    ap.add_argument("--agent", action="store_true", help="an agent token, signed with AGENT_SECRET")
    ap.add_argument("--email")
    ap.add_argument("--unverified-email", action="store_true", help="with --email: no email_verified claim")
    ap.add_argument("--customer")
    ap.add_argument("--ttl", type=int, default=3600)
    a = ap.parse_args()
    env = dict(line.split("=", 1) for line in (LOCAL / "demo.env").read_text().splitlines() if "=" in line)
    if a.agent:
        if a.email or a.customer or a.unverified_email:
            ap.error("--agent takes no --email, --unverified-email or --customer")
        print(mint(env["AGENT_SECRET"], a.user, a.ttl, role="agent"))
        return
    if a.unverified_email and not a.email:
        ap.error("--unverified-email needs --email")
    claims = {}
    email = a.email or demo_email(env, a.user)
    if email:
        claims["email"] = email
        if not a.unverified_email:
            claims["email_verified"] = True
    if a.customer:
        claims["stripe_customer_id"] = a.customer
    print(mint(env["IDENTITY_SECRET"], a.user, a.ttl, **claims))


if __name__ == "__main__":
    main()
