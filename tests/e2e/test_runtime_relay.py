"""The local runtime API relay (infra/runtime_relay.py) against a `cargo lambda watch` of
its own: a stand-in function that answers 20 KB and closes its connection at once, as the
functions' HTTP client may, gets its whole answer to the caller. Straight to the emulator,
the same answer is lost (its own 500): the reason the relay exists."""
import http.client
import json
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parents[2]
EMULATOR_PORT, RELAY_PORT = 9021, 9031
# Big enough that the emulator has not read all of it when it answers the headers.
ANSWER = "x" * 20_000


def wait_port(port: int) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return
        time.sleep(0.05)
    raise AssertionError(f"nothing listens on {port}")


@pytest.fixture(scope="module")
def emulator():
    procs = [subprocess.Popen(
        [str(ROOT / ".venv" / "bin" / "cargo-lambda"), "lambda", "watch", "--only-lambda-apis",
         "--ignore-changes", "--disable-cors", "-A", "127.0.0.1", "-P", str(EMULATOR_PORT)],
        cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)]
    procs.append(subprocess.Popen(
        [sys.executable, str(ROOT / "infra" / "runtime_relay.py"), str(RELAY_PORT), str(EMULATOR_PORT)],
        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True))
    try:
        wait_port(EMULATOR_PORT)
        wait_port(RELAY_PORT)
        yield
    finally:
        for p in procs:
            p.terminate()
            p.wait(timeout=10)


def stand_in_function(runtime_port: int, answers: int) -> threading.Thread:
    """Takes `answers` invocations of the `mcp` function from the runtime API on
    `runtime_port`, each answered with a new connection that is closed the moment the
    runtime API has said 202/200."""
    base = "/.rt/mcp/2018-06-01/runtime/invocation"

    def run():
        for _ in range(answers):
            conn = http.client.HTTPConnection("127.0.0.1", runtime_port, timeout=60)
            conn.request("GET", f"{base}/next")
            got = conn.getresponse()
            got.read()
            conn.close()
            request_id = got.getheader("lambda-runtime-aws-request-id")
            body = json.dumps({"statusCode": 200, "headers": {"content-type": "text/plain"},
                               "multiValueHeaders": {}, "cookies": [], "body": ANSWER,
                               "isBase64Encoded": False})
            conn = http.client.HTTPConnection("127.0.0.1", runtime_port, timeout=60)
            conn.request("POST", f"{base}/{request_id}/response", body=body.encode(),
                         headers={"Content-Type": "application/json"})
            conn.getresponse().read()
            conn.close()

    t = threading.Thread(target=run, daemon=True)
    t.start()
    return t


def invoke_many(n: int) -> list[int]:
    """`n` calls of a route the router sends to `mcp`; the status of each whole answer."""
    statuses = []
    for _ in range(n):
        r = requests.post(f"http://127.0.0.1:{EMULATOR_PORT}/v1/demo/mcp", data="{}", timeout=60)
        statuses.append(r.status_code if r.text == ANSWER else -r.status_code)
    return statuses


def test_through_the_relay_every_large_answer_arrives_whole(emulator):
    fn = stand_in_function(RELAY_PORT, 20)
    statuses = invoke_many(20)
    fn.join(timeout=30)
    assert statuses == [200] * 20


def test_straight_to_the_emulator_a_large_answer_on_a_closed_connection_is_lost(emulator):
    # If a newer cargo lambda reads the body before it answers, this fails: the relay may go.
    fn = stand_in_function(EMULATOR_PORT, 5)
    statuses = invoke_many(5)
    fn.join(timeout=30)
    assert -500 in statuses, statuses
