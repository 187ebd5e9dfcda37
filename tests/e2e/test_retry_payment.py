"""The payment-retry demo, as `make dev` prints it: the past-due demo visitor's retry
declines and is explained with a portal link; the card is changed as the portal would
(infra/update_card.py); the next retry pays and the subscription is active again."""
import subprocess
import sys
from pathlib import Path

from conftest import ENV, mint

ROOT = Path(__file__).resolve().parents[2]


def retry(api, token: str) -> tuple[int, dict]:
    status, body = api.tool("retry_payment", token, {})
    assert status == 200 and body["status"] == "confirmation_required", body
    return api.tool("retry_payment", token, {"confirm": body["confirmation"]["token"]})


def test_a_declined_retry_pays_after_the_card_is_changed(api):
    token = mint(ENV["DEMO_RETRY_USER"])
    status, body = retry(api, token)
    assert status == 200 and body["data"]["paid"] is False, body
    assert "declined" in body["summary"] and body["data"]["portal_url"].startswith("https://")
    invoice = body["data"]["invoice"]

    changed = subprocess.run([sys.executable, "infra/update_card.py", ENV["DEMO_RETRY_CUSTOMER"]],
                             cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert changed.returncode == 0, changed.stderr

    status, body = retry(api, token)
    assert status == 200 and body["data"]["paid"] is True, body
    assert body["data"]["invoice"] == invoice
    status, body = api.tool("get_subscription_status", token, {})
    assert status == 200 and body["data"]["subscriptions"][0]["status"] == "active", body
