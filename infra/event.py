"""API Gateway (REST API, proxy integration, payload 1.0) events for the functions (and
EventBridge Scheduler's for a scheduled one), for `cargo lambda invoke`
and `sam local invoke -e`. events/<function>.json are templates whose {{PLACEHOLDERS}}
(tokens, ids, the webhook's body and signature) this fills from .local/demo.env:

    .venv/bin/python infra/event.py events/get-subscription-status.json > /tmp/event.json
    cargo lambda invoke get-subscription-status --invoke-port 9000 --data-file /tmp/event.json
    sam local invoke GetSubscriptionStatusFunction -e /tmp/event.json

`--write` regenerates the templates from template.yaml's routes (one per function)."""
from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import stack as st
import template as tpl

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


STAGE = "live"


def event(method: str, route: str) -> dict:
    method, path, query, headers, body = st.sample_request(method, route)
    headers = {"content-type": "application/json", "user-agent": "events/", **headers}
    resource = "/{proxy+}" if route == st.FALLBACK else route
    if route == st.FALLBACK:
        params = {"proxy": path.lstrip("/")}
    elif "{id}" in route:
        params = {"tenant": "{{TENANT}}", "id": path.rsplit("/", 1)[-1]}
    elif "{tenant}" in route:
        params = {"tenant": "{{TENANT}}"}
    else:
        params = None
    return {
        "resource": resource,
        "path": path,
        "httpMethod": method,
        "headers": headers,
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": query or None,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} or None,
        "pathParameters": params,
        "stageVariables": None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "resourceId": "local",
            "resourcePath": resource, "httpMethod": method, "requestId": "{{REQUEST_ID}}",
            "path": f"/{STAGE}{path}", "stage": STAGE, "protocol": "HTTP/1.1",
            "identity": {"sourceIp": "127.0.0.1", "userAgent": "events/"},
            "domainName": "localhost", "requestTime": "26/Nov/2026:00:00:00 +0000",
            "requestTimeEpoch": 0,
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }


def scheduled() -> dict:
    """What EventBridge Scheduler sends a scheduled function (a run carries nothing the
    function needs)."""
    return {"version": "0", "id": "{{REQUEST_ID}}", "detail-type": "Scheduled Event",
            "source": "aws.scheduler", "account": "123456789012", "time": "2026-12-06T06:00:00Z",
            "region": "us-east-1", "resources": [], "detail": {}}


def of(fn: dict) -> dict:
    """A function's event: its first route's request, or the scheduler's for a function
    with no route."""
    if not fn["routes"]:
        return scheduled()
    method, route = fn["routes"][0]
    return {k: v for k, v in event(method, route).items() if v is not None}


def write() -> None:
    EVENTS.mkdir(exist_ok=True)
    for fn in tpl.functions(tpl.load()):
        (EVENTS / f"{fn['binary']}.json").write_text(json.dumps(of(fn), indent=2) + "\n")


def fill(text: str, env: dict[str, str]) -> str:
    """The template with every placeholder replaced by the local stack's values."""
    doc = json.loads(st.fill(text, env))
    if "requestContext" not in doc:
        return json.dumps(doc)
    doc["requestContext"]["requestTimeEpoch"] = int(time.time() * 1000)
    # API Gateway sends every header both ways; the signature was filled in one of them.
    doc["multiValueHeaders"] = {k: [v] for k, v in doc["headers"].items()}
    return json.dumps(doc)


def demo_env() -> dict[str, str]:
    env = dict(os.environ)
    path = ROOT / ".local" / "demo.env"
    if "TENANT" not in env and path.exists():
        env.update(line.split("=", 1) for line in path.read_text().splitlines() if "=" in line)
    return env


if __name__ == "__main__":
    if sys.argv[1:] == ["--write"]:
        write()
    elif len(sys.argv) == 2:
        print(fill(Path(sys.argv[1]).read_text(), demo_env()))
    else:
        raise SystemExit(__doc__)
