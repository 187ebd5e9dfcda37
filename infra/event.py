"""API Gateway (HTTP API, payload 2.0) events for the functions, for `cargo lambda invoke`
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


def event(method: str, route: str) -> dict:
    method, path, query, headers, body = st.sample_request(method, route)
    headers = {"content-type": "application/json", "user-agent": "events/", **headers}
    route_key = "$default" if route == st.FALLBACK else f"{method} {route}"
    return {
        "version": "2.0",
        "routeKey": route_key,
        "rawPath": path,
        "rawQueryString": "&".join(f"{k}={v}" for k, v in query.items()),
        "headers": headers,
        "queryStringParameters": query or None,
        "pathParameters": {"tenant": "{{TENANT}}"} if "{tenant}" in route else None,
        "requestContext": {
            "accountId": "123456789012", "apiId": "local", "domainName": "localhost",
            "domainPrefix": "localhost", "requestId": "{{REQUEST_ID}}", "routeKey": route_key,
            "stage": "$default", "time": "26/Nov/2026:00:00:00 +0000", "timeEpoch": 0,
            "http": {"method": method, "path": path,
                     "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1", "userAgent": "events/"},
        },
        "body": None if body is None else (body if isinstance(body, str) else json.dumps(body)),
        "isBase64Encoded": False,
    }


def write() -> None:
    EVENTS.mkdir(exist_ok=True)
    for fn in tpl.functions(tpl.load()):
        method, route = fn["routes"][0]
        doc = {k: v for k, v in event(method, route).items() if v is not None}
        (EVENTS / f"{fn['binary']}.json").write_text(json.dumps(doc, indent=2) + "\n")


def fill(text: str, env: dict[str, str]) -> str:
    """The template with every placeholder replaced by the local stack's values."""
    doc = json.loads(st.fill(text, env))
    doc["requestContext"]["timeEpoch"] = int(time.time() * 1000)
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
