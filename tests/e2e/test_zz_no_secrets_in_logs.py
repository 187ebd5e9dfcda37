"""Runs last: after every other end-to-end call, no secret is in any process's log."""
import re
from pathlib import Path

import stack
from conftest import ENV, mint, need

# Any JWT, whoever minted it (visitor and agent tokens, the sample calls' own).
JWT = re.compile(r"eyJ[A-Za-z0-9_-]+\.eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+")
# A pay-now link's token (only the customer's email holds one).
PAY_TOKEN = re.compile(r"pl_[A-Za-z0-9_-]{32}")


def test_secrets_pasted_into_arguments_are_not_logged(api):
    agent = stack.mint(ENV["AGENT_SECRET"], "agent_1", role="agent")
    token = mint(ENV["DEMO_ACTIVE_USER"])
    # Where no field name says "secret": the values of ordinary arguments.
    for body in ({"subscription_id": agent}, {"subscription_id": ENV["STRIPE_API_KEY"]},
                 {"limit": ENV["IDENTITY_SECRET"]}, {"subscription_id": {"x": [ENV["WEBHOOK_SECRET"]]}}):
        tool = "get_invoice_history" if "limit" in body else "get_subscription_status"
        status, _ = api.tool(tool, token, body)
        assert status == 400


def test_logs_hold_no_secret(api):
    logs = {p.name: p.read_text(errors="replace") for p in Path(need("STACK_LOG_DIR")).glob("*.log")}
    assert any("\"target\":\"audit\"" in text for text in logs.values()), "audit lines were logged"
    # The panel key was used by the browser tests (insight, the portal link) before this.
    secrets = [ENV["STRIPE_API_KEY"], ENV["IDENTITY_SECRET"], ENV["AGENT_SECRET"], ENV["WEBHOOK_SECRET"],
               ENV["PANEL_KEY"]]
    secrets += api.tokens_used
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in {name}"
        assert not JWT.search(text), f"a token is in {name}"
        assert "bbp_" not in text, f"a panel key is in {name}"
        assert not PAY_TOKEN.search(text), f"a pay-now token is in {name}"


def test_emails_and_events_hold_no_secret():
    """The notices sent during the run (test_notices, test_zy_live_webhooks): no email holds
    a secret, a token other than its own pay-now link, or card data beyond brand and last 4;
    no event holds a token or card data at all beyond brand and last 4."""
    from conftest import sent_mail
    mail = sent_mail()
    assert mail, "the run sent notices"
    secrets = [ENV["STRIPE_API_KEY"], ENV["IDENTITY_SECRET"], ENV["AGENT_SECRET"], ENV["WEBHOOK_SECRET"],
               ENV["PANEL_KEY"], "whsec_", "sk_test_", "bbp_"]
    for m in mail:
        text = m["subject"] + m["body"]
        for secret in secrets:
            assert secret not in text, f"a secret is in the email {m['subject']!r}"
        assert not JWT.search(text)
        # Card data beyond brand and last 4 ("Visa ending 4242"): no expiry, no fingerprint.
        assert "exp_" not in text and "expires at the end of" not in text, m["subject"]
    heard = list(Path(need("STACK_LOG_DIR")).glob("bus-*.jsonl"))
    assert heard, "the run read events from the bus"
    for path in heard:
        text = path.read_text()
        assert not PAY_TOKEN.search(text) and not JWT.search(text), path.name
        assert "exp_month" not in text and "fingerprint" not in text, path.name
        for secret in secrets:
            assert secret not in text, path.name
