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
import uuid
from pathlib import Path

import stack as st
import template as tpl

ROOT = Path(__file__).resolve().parent.parent
EVENTS = ROOT / "events"


def sample(method: str, path: str) -> tuple[str, dict, dict, object]:
    """(concrete path, query, headers, body) of a route's typical good call, with
    placeholders for what changes from one local stack to the next."""
    concrete = path.replace("{tenant}", "{{TENANT}}")
    visitor = {"authorization": "Bearer {{VISITOR_TOKEN}}"}
    agent = {"authorization": "Bearer {{AGENT_TOKEN}}"}
    if path == st.FALLBACK:
        return "/v1/{{TENANT}}/tools/no_such_tool", {}, {}, {}
    if path.endswith("/agent/insight"):
        return concrete, {"customer_id": "{{DEMO_ACTIVE_CUSTOMER}}"}, agent, None
    if path.endswith("/agent/recovery"):
        return concrete, {"status": "open"}, agent, None
    if path.endswith("/visitor/tags"):
        return concrete, {}, visitor, None
    if path.endswith("/webhooks/stripe"):
        return concrete, {}, {"stripe-signature": "{{STRIPE_SIGNATURE}}"}, "{{WEBHOOK_BODY}}"
    if method == "GET":
        return concrete, {}, {}, None
    bodies = {
        "apply_coupon": ({"code": "welcome10"}, visitor),
        "change_plan": ({"price_id": "{{DEMO_PRICE_SCALE}}"}, visitor),
        "update_billing_details": ({"phone": "+15555550100"}, visitor),
        "request_refund": ({"payment_id": "{{LATEST_CHARGE}}"}, visitor),
        "retry_payment": ({}, {"authorization": "Bearer {{PAST_DUE_TOKEN}}"}),
        "resend_invoice": ({"invoice_id": "{{DEMO_MANUAL_INVOICE}}"}, {"authorization": "Bearer {{MANUAL_TOKEN}}"}),
    }
    body, headers = bodies.get(path.rsplit("/", 1)[-1], ({}, visitor))
    return concrete, {}, headers, body


def event(method: str, route: str) -> dict:
    path, query, headers, body = sample(method, route)
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
            "http": {"method": method if route != st.FALLBACK else "POST", "path": path,
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
    mint = st.mint
    values = {
        "TENANT": env["TENANT"],
        "REQUEST_ID": str(uuid.uuid4()),
        "VISITOR_TOKEN": mint(env["IDENTITY_SECRET"], env["DEMO_ACTIVE_USER"]),
        "PAST_DUE_TOKEN": mint(env["IDENTITY_SECRET"], env["DEMO_PAST_DUE_USER"]),
        "MANUAL_TOKEN": mint(env["IDENTITY_SECRET"], env["DEMO_MANUAL_USER"]),
        "AGENT_TOKEN": mint(env["AGENT_SECRET"], "agent_demo", role="agent"),
        "DEMO_ACTIVE_CUSTOMER": env["DEMO_ACTIVE_CUSTOMER"],
        "DEMO_PRICE_SCALE": env["DEMO_PRICE_SCALE"],
        "DEMO_MANUAL_INVOICE": env["DEMO_MANUAL_INVOICE"],
    }
    if "{{LATEST_CHARGE}}" in text:
        values["LATEST_CHARGE"] = st.latest_charge(env, env["DEMO_ACTIVE_CUSTOMER"])
    doc = json.loads(text)
    if doc.get("body") == "{{WEBHOOK_BODY}}":
        body = json.dumps(st.subscription_event(env))
        doc["body"] = body
        doc["headers"]["stripe-signature"] = st.stripe_signature(env["WEBHOOK_SECRET"], body.encode())
        text = json.dumps(doc)
    for k, v in values.items():
        text = text.replace("{{" + k + "}}", v)
    doc = json.loads(text)
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
