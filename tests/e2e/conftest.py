"""End-to-end tests run by `infra/stack.py run`, which starts the local stack, seeds the
demo tenant and puts .local/demo.env into the environment."""
import os
import sys
import time
from pathlib import Path

import jwt
import pytest
import requests

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "infra"))

ENV = os.environ


def need(name: str) -> str:
    if name not in ENV:
        pytest.skip(f"{name} not set: run through `make test` (infra/stack.py run)")
    return ENV[name]


def mint(sub: str, ttl: int = 600, **claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": sub, "aud": need("TENANT"), "iat": now, "exp": now + ttl, **claims},
                      need("IDENTITY_SECRET"), algorithm="HS256")


def stripe(method: str, path: str, form: dict | None = None) -> dict:
    """A request to the Stripe emulator under the demo account's key."""
    r = requests.request(method, f"{need('STRIPE_API_BASE')}{path}", data=form, timeout=10,
                         headers={"Authorization": f"Bearer {need('STRIPE_API_KEY')}"})
    r.raise_for_status()
    return r.json()


def posts_to(path: str) -> int:
    """How many POSTs to `path` the emulator has seen under the demo account's key."""
    r = requests.get(f"{need('STRIPE_API_BASE')}/_emulator/requests", params={"key": need("STRIPE_API_KEY")},
                     timeout=5)
    return sum(1 for q in r.json()["requests"] if q["method"] == "POST" and q["path"] == path)


class Api:
    def __init__(self):
        self.base = need("API_URL")
        self.tenant = need("TENANT")
        self.tokens_used: list[str] = []

    def tool(self, name: str, token: str | None = None, body=None, tenant: str | None = None):
        headers = {"Content-Type": "application/json"}
        if token:
            self.tokens_used.append(token)
            headers["Authorization"] = f"Bearer {token}"
        url = f"{self.base}/v1/{tenant or self.tenant}/tools/{name}"
        data = body if isinstance(body, str) else None
        r = requests.post(url, headers=headers, json=None if data else (body or {}), data=data, timeout=30)
        return r.status_code, r.json()


class Emulator:
    def __init__(self):
        self.base = need("STRIPE_API_BASE")
        self.key = need("STRIPE_API_KEY")

    def fault(self, kind: str, count: int):
        r = requests.post(f"{self.base}/_emulator/faults",
                          json={"kind": kind, "count": count, "key": self.key, "hang_ms": 10000}, timeout=5)
        r.raise_for_status()

    def clear(self):
        requests.delete(f"{self.base}/_emulator/faults", timeout=5).raise_for_status()


@pytest.fixture(scope="session")
def api():
    return Api()


@pytest.fixture(scope="session")
def emulator():
    e = Emulator()
    yield e
    e.clear()


def aws(service: str):
    """A boto3 client of the local stack's AWS (moto), as a merchant's own account would
    use it."""
    import boto3
    return boto3.client(service, region_name="us-east-1", endpoint_url=need("AWS_ENDPOINT_URL"))


class BusQueue:
    """What a merchant's platform does to hear notices: a rule on the stack's bus (source
    `billing-tools`) whose target is its own SQS queue; `events()` reads what arrived."""

    def __init__(self, name: str):
        import json
        self.name = name
        self.sqs = aws("sqs")
        events = aws("events")
        self.url = self.sqs.create_queue(QueueName=name)["QueueUrl"]
        arn = self.sqs.get_queue_attributes(QueueUrl=self.url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        bus = need("EVENT_BUS_NAME")
        events.put_rule(Name=name, EventBusName=bus,
                        EventPattern=json.dumps({"source": ["billing-tools"]}))
        events.put_targets(Rule=name, EventBusName=bus, Targets=[{"Id": "queue", "Arn": arn}])
        self.seen: list[dict] = []

    def events(self, detail_type: str | None = None) -> list[dict]:
        import json
        while True:
            got = self.sqs.receive_message(QueueUrl=self.url, MaxNumberOfMessages=10,
                                           WaitTimeSeconds=0).get("Messages", [])
            if not got:
                break
            # What was heard is kept beside the stack's logs, for the no-secrets scan.
            with open(Path(need("STACK_LOG_DIR")) / f"bus-{self.name}.jsonl", "a") as f:
                for m in got:
                    f.write(m["Body"] + "\n")
            for m in got:
                self.seen.append(json.loads(m["Body"]))
                self.sqs.delete_message(QueueUrl=self.url, ReceiptHandle=m["ReceiptHandle"])
        return [e for e in self.seen if detail_type in (None, e["detail-type"])]


def sent_mail(to: str | None = None) -> list[dict]:
    """The emails the stack sent through (moto's) SES: source, destinations, subject, body
    (the HTML part)."""
    r = requests.get(f"{need('AWS_ENDPOINT_URL')}/moto-api/data.json", timeout=10)
    r.raise_for_status()
    mail = r.json().get("ses", {}).get("Message", [])
    return [m for m in mail if to is None or to in m["destinations"].get("ToAddresses", [])]


def run_scan(name: str = "card-expiry-scan") -> dict:
    """Runs a scheduled function once, as EventBridge Scheduler would (the local Lambda
    runtime's invoke API)."""
    r = requests.post(f"{need('API_URL')}/2015-03-31/functions/{name}/invocations",
                      json={"source": "aws.scheduler"}, timeout=120)
    r.raise_for_status()
    return r.json()


def until(check, timeout: float = 20):
    """`check()` once it is truthy, or its last answer after `timeout` seconds."""
    end = time.time() + timeout
    while True:
        value = check()
        if value or time.time() > end:
            return value
        time.sleep(0.25)


# A failing test shows what the stack logged while it ran (warnings, errors, answers that
# were not 2xx, the Lambda emulator's own lines), so a failure seen once in CI explains
# itself instead of waiting to be reproduced.
_UNUSUAL = ('"level":"WARN"', '"code":"', '"level":"ERROR"', "panicked", '"http_status":4', '"http_status":5')


def _log_sizes() -> dict[Path, int]:
    logs = Path(ENV.get("STACK_LOG_DIR", "/nonexistent"))
    return {p: p.stat().st_size for p in logs.glob("*.log")} if logs.is_dir() else {}


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_call(item):
    item._log_sizes = _log_sizes()
    yield


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    report = outcome.get_result()
    before = getattr(item, "_log_sizes", None)
    if report.when != "call" or not report.failed or before is None:
        return
    lines = []
    for path in sorted(_log_sizes()):
        with open(path, "rb") as f:
            f.seek(before.get(path, 0))
            new = f.read().decode("utf-8", "replace").splitlines()
        raw = path.name == "cargo-lambda-watch.log"
        lines += [f"{path.stem}: {line[:400]}" for line in new if raw or any(u in line for u in _UNUSUAL)]
    if lines:
        report.sections.append(("stack logs during the test", "\n".join(lines[-40:])))
