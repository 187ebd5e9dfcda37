"""AWS failing under the running binaries: with moto frozen (SIGSTOP, so connections hang
rather than fail; refused connections are tested in Rust, tests/tests/aws_budget.rs), every call still answers in the envelope within a few seconds,
and a write is refused before Stripe is asked; once AWS is back, the same confirmation goes
through exactly once."""
import os
import signal
import subprocess
import time
from contextlib import contextmanager
from urllib.parse import urlparse

from conftest import ENV, mint, posts_to, stripe

# The AWS budget (1.8 s per operation) times the few operations a call makes, with room.
BOUND_SECS = 8.0


def moto_pid() -> int:
    port = urlparse(ENV["AWS_ENDPOINT_URL"]).port
    out = subprocess.run(["pgrep", "-f", f"moto_server.py -H 127.0.0.1 -p {port}"],
                         capture_output=True, text=True, check=True).stdout.split()
    return int(out[0])


@contextmanager
def frozen_aws():
    pid = moto_pid()
    os.kill(pid, signal.SIGSTOP)
    try:
        yield
    finally:
        os.kill(pid, signal.SIGCONT)


def timed(call):
    t0 = time.monotonic()
    status, body = call()
    return time.monotonic() - t0, status, body


def test_a_frozen_aws_gives_a_bounded_answer_in_the_envelope(api):
    # A visitor the warm functions have not seen, so their contact mapping is asked of DynamoDB.
    token = mint(f"aws-fault-{time.time_ns()}")
    with frozen_aws():
        took, status, body = timed(lambda: api.tool("get_subscription_status", token))
    assert took < BOUND_SECS, f"{took:.1f} s"
    assert body["ok"] is False and status == 503, body
    assert body["error"]["code"] == "billing_unavailable" and body["error"]["escalate"] is True


def test_a_write_is_refused_before_stripe_when_aws_is_frozen_and_done_once_after(api):
    customer = stripe("POST", "/v1/customers", {"email": f"aws-{time.time_ns()}@example.com",
                                             "payment_method": "pm_card_visa",
                                             "invoice_settings[default_payment_method]": "pm_card_visa"})
    sub = stripe("POST", "/v1/subscriptions", {"customer": customer["id"], "items[0][price]": ENV["DEMO_PRICE_STARTER"]})
    token = mint(f"aws-writer-{time.time_ns()}", stripe_customer_id=customer["id"])
    path = f"/v1/subscriptions/{sub['id']}"
    status, body = api.tool("cancel_subscription", token)
    assert status == 200 and body["status"] == "confirmation_required", body
    confirm = {"confirm": body["confirmation"]["token"]}

    with frozen_aws():
        took, status, body = timed(lambda: api.tool("cancel_subscription", token, confirm))
    assert took < BOUND_SECS, f"{took:.1f} s"
    assert status == 503 and body["error"]["code"] == "billing_unavailable", body
    assert posts_to(path) == 0, "nothing reached Stripe"

    status, body = api.tool("cancel_subscription", token, confirm)
    assert status == 200 and body["status"] == "done", body
    assert posts_to(path) == 1
