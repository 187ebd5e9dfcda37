"""Runs last: after every other end-to-end call, no secret is in any process's log."""
import os
from pathlib import Path

from conftest import ENV, need


def test_logs_hold_no_secret(api):
    logs = {p.name: p.read_text(errors="replace") for p in Path(need("STACK_LOG_DIR")).glob("*.log")}
    assert any("\"target\":\"audit\"" in text for text in logs.values()), "audit lines were logged"
    secrets = [ENV["STRIPE_API_KEY"], ENV["IDENTITY_SECRET"], ENV["AGENT_SECRET"], ENV["WEBHOOK_SECRET"]]
    secrets += api.tokens_used
    for name, text in logs.items():
        for secret in secrets:
            assert secret not in text, f"a secret is in {name}"
