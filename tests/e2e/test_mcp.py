"""The MCP endpoint through its running binary: the official MCP Python SDK (PyPI `mcp`,
pinned) as the client over Streamable HTTP, and the protocol's edges with plain HTTP. Same
identity, same tools and schemas, same data, same two-phase writes and audit as REST."""
import time

import anyio
import boto3
import httpx2
import jwt
import pytest
import requests
from conftest import ENV, mint, posts_to, stripe
from mcp import Client
from mcp.client.streamable_http import streamable_http_client

LATEST = "2025-11-25"


def url() -> str:
    return f"{ENV['API_URL']}/v1/{ENV['TENANT']}/mcp"


def with_client(token: str, work, mode: str = "legacy"):
    """Runs `work(client)` with an SDK client connected as the token's visitor. The SDK
    reports an HTTP error answer as a bare -32603, so a failure here also says which
    answers were not 2xx: their status, type and body."""
    unusual: list[str] = []

    async def note(response):
        if response.status_code >= 400:
            await response.aread()
            unusual.append(f"{response.request.method} {response.status_code} "
                           f"{response.headers.get('content-type')}: {response.text[:300]}")

    async def go():
        headers = {"Authorization": f"Bearer {token}"}
        async with httpx2.AsyncClient(headers=headers, timeout=30, event_hooks={"response": [note]}) as http:
            async with Client(streamable_http_client(url(), http_client=http), mode=mode) as client:
                return await work(client)
    try:
        return anyio.run(go)
    except BaseException as e:
        if unusual:
            raise AssertionError(f"HTTP answers that were not 2xx: {unusual}") from e
        raise


def rpc(body, token: str | None = None, version: str | None = LATEST, **headers):
    h = {"Content-Type": "application/json", "Accept": "application/json, text/event-stream", **headers}
    if token:
        h["Authorization"] = f"Bearer {token}"
    if version:
        h["MCP-Protocol-Version"] = version
    data = body if isinstance(body, (str, bytes)) else None
    return requests.post(url(), json=None if data is not None else body, data=data, headers=h, timeout=30)


def test_the_sdk_initializes_at_the_current_version_in_both_modes():
    token = mint(ENV["DEMO_ACTIVE_USER"])

    async def handshake(client):
        return client.protocol_version, client.server_info, client.server_capabilities

    version, info, caps = with_client(token, handshake)
    assert version == LATEST
    assert info.name == "stripe-billing-bot"
    assert caps.tools is not None
    # The SDK's default mode first probes a newer, stateless protocol; we decline it and the
    # SDK falls back to the handshake.
    version, _, _ = with_client(token, handshake, mode="auto")
    assert version == LATEST


def test_tools_list_matches_the_rest_tool_list():
    token = mint(ENV["DEMO_ACTIVE_USER"])

    async def listed(client):
        return (await client.list_tools()).tools

    tools = with_client(token, listed)
    rest = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools", params={"format": "anthropic"}, timeout=10).json()
    assert [t.name for t in tools] == [t["name"] for t in rest["tools"]]
    for t, r in zip(tools, rest["tools"]):
        assert t.input_schema == r["input_schema"], t.name
    hints = {t.name: t.annotations for t in tools}
    assert hints["get_subscription_status"].read_only_hint is True
    assert hints["request_refund"].destructive_hint is True and hints["request_refund"].idempotent_hint is True
    assert hints["resend_invoice"].read_only_hint is False
    assert rest["mcp"]["url"] == f"/v1/{ENV['TENANT']}/mcp"


def test_a_read_tool_gives_the_same_data_as_rest(api):
    token = mint(ENV["DEMO_ACTIVE_USER"])

    async def call(client):
        return await client.call_tool("get_billing_info", {})

    result = with_client(token, call)
    status, rest = api.tool("get_billing_info", token)
    assert status == 200
    assert result.is_error is False
    assert result.structured_content == rest["data"]
    assert result.content[0].text == rest["summary"]


def test_a_two_phase_write_changes_nothing_before_confirm_and_once_after_replays():
    customer = stripe("POST", "/v1/customers", {"email": f"mcp-{time.time_ns()}@example.com"})["id"]
    pm = stripe("POST", "/v1/payment_methods/pm_card_visa/attach", {"customer": customer})["id"]
    stripe("POST", f"/v1/customers/{customer}", {"invoice_settings[default_payment_method]": pm})
    sub = stripe("POST", "/v1/subscriptions", {"customer": customer, "items[0][price]": ENV["DEMO_PRICE_STARTER"]})
    path = f"/v1/subscriptions/{sub['id']}"
    token = mint(f"mcp-{customer}", stripe_customer_id=customer)
    before = posts_to(path)

    async def propose(client):
        return await client.call_tool("change_plan", {"price_id": ENV["DEMO_PRICE_GROWTH"]})

    preview = with_client(token, propose)
    assert preview.is_error is False
    assert preview.meta["status"] == "confirmation_required"
    confirm = preview.meta["confirmation"]["token"]
    assert confirm in preview.content[1].text, "the model is told how to confirm"
    assert posts_to(path) == before, "a preview changes nothing"
    price = stripe("GET", path)["items"]["data"][0]["price"]["id"]
    assert price == ENV["DEMO_PRICE_STARTER"]

    async def confirm_twice(client):
        first = await client.call_tool("change_plan", {"confirm": confirm})
        again = await client.call_tool("change_plan", {"confirm": confirm})
        return first, again

    first, again = with_client(token, confirm_twice)
    assert first.is_error is False and first.meta["status"] == "done", first
    assert again.content[0].text == first.content[0].text
    assert posts_to(path) == before + 1, "two confirmations, one Stripe write"
    assert stripe("GET", path)["items"]["data"][0]["price"]["id"] == ENV["DEMO_PRICE_GROWTH"]

    dynamo = boto3.client("dynamodb", region_name=ENV["AWS_REGION"])
    items = dynamo.query(TableName=ENV["AUDIT_TABLE"], KeyConditionExpression="pk = :pk",
                         ExpressionAttributeValues={":pk": {"S": f"{ENV['TENANT']}#{customer}"}})["Items"]
    mine = [i for i in items if i["tool"]["S"] == "change_plan"]
    assert len(mine) == 3 and {i["channel"]["S"] for i in mine} == {"mcp"}, mine
    assert [i for i in mine if "sends" in i][0]["outcome"]["S"] == "ok"
    assert confirm not in str(items), "the token is never recorded"


def test_a_refusal_is_a_tool_error_with_the_contracts_code():
    token = mint(ENV["DEMO_ACTIVE_USER"])

    async def call(client):
        return await client.call_tool("resend_invoice", {"invoice_id": ENV["DEMO_MANUAL_INVOICE"]})

    result = with_client(token, call)
    assert result.is_error is True
    assert result.structured_content["error"]["code"] == "not_owner"
    assert "not_owner" in result.content[0].text


def test_no_token_or_a_bad_one_is_401_before_any_json_rpc():
    hello = {"jsonrpc": "2.0", "id": 1, "method": "ping"}
    r = rpc(hello)
    assert r.status_code == 401 and r.json()["error"]["code"] == "identity_required"
    assert r.headers["WWW-Authenticate"].startswith("Bearer")
    r = rpc("{not json", token="nonsense")
    assert r.status_code == 401 and r.json()["error"]["code"] == "identity_invalid"
    # An agent's token is not a visitor's.
    now = int(time.time())
    agent = jwt.encode({"sub": "agent_demo", "aud": ENV["TENANT"], "iat": now, "exp": now + 600, "role": "agent"},
                       ENV["AGENT_SECRET"], algorithm="HS256")
    assert rpc(hello, token=agent).status_code == 401
    # The legacy widget headers are not a token either.
    assert rpc(hello, **{"X-User-Id": "u", "X-User-Hash": "0" * 64}).status_code == 401
    with pytest.raises(Exception):
        with_client("nonsense", lambda c: c.send_ping())


def test_protocol_edges():
    token = mint(ENV["DEMO_ACTIVE_USER"])
    r = rpc({"jsonrpc": "2.0", "id": "x", "method": "ping"}, token)
    assert r.status_code == 200 and r.json() == {"jsonrpc": "2.0", "id": "x", "result": {}}
    r = rpc({"jsonrpc": "2.0", "id": 7, "method": "resources/list"}, token)
    assert r.status_code == 200 and r.json() == {"jsonrpc": "2.0", "id": 7, "error": {
        "code": -32601, "message": "Method not found: resources/list"}}
    r = rpc("{not json", token)
    assert r.status_code == 400 and r.json()["error"]["code"] == -32700 and r.json()["id"] is None
    r = rpc({"jsonrpc": "1.0", "id": 1, "method": "ping"}, token)
    assert r.status_code == 400 and r.json()["error"]["code"] == -32600
    # Bad params are protocol errors; bad arguments are the tool's (the model can fix them).
    for params in ({}, {"name": 5}, {"name": "get_billing_info", "arguments": [1]}, {"name": "no_such_tool"}):
        r = rpc({"jsonrpc": "2.0", "id": "p", "method": "tools/call", "params": params}, token)
        assert r.status_code == 200 and r.json()["error"]["code"] == -32602, (params, r.text)
    r = rpc({"jsonrpc": "2.0", "id": 2, "method": "tools/call",
             "params": {"name": "get_invoice_history", "arguments": {"limit": 999}}}, token)
    result = r.json()["result"]
    assert result["isError"] is True and result["structuredContent"]["error"]["code"] == "invalid_request"
    assert "limit" in result["structuredContent"]["error"]["message"]
    # Versions: initialize answers the newest for one it does not speak; a request that
    # names an unknown version in its header is refused.
    r = rpc({"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
            token, version=None)
    assert r.json()["result"]["protocolVersion"] == LATEST
    r = rpc({"jsonrpc": "2.0", "id": 1, "method": "initialize",
             "params": {"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}},
            token, version=None)
    assert r.json()["result"]["protocolVersion"] == "2025-06-18"
    r = rpc({"jsonrpc": "2.0", "id": 1, "method": "ping"}, token, version="1999-01-01")
    assert r.status_code == 400 and LATEST in r.json()["error"]["data"]["supported"]
    # A notification is accepted with no body; so is a batch of them.
    r = rpc({"jsonrpc": "2.0", "method": "notifications/initialized"}, token)
    assert r.status_code == 202 and r.text == ""
    # Batches: answered one by one in 2025-03-26 (no answer for a notification); refused
    # from 2025-06-18, which removed them.
    batch = [{"jsonrpc": "2.0", "id": 1, "method": "ping"},
             {"jsonrpc": "2.0", "method": "notifications/initialized"},
             {"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {"name": "get_credit_balance"}},
             {"jsonrpc": "2.0", "id": 3, "method": "nope"}]
    r = rpc(batch, token, version="2025-03-26")
    answers = {a["id"]: a for a in r.json()}
    assert r.status_code == 200 and set(answers) == {1, 2, 3}
    assert answers[1]["result"] == {} and answers[3]["error"]["code"] == -32601
    assert answers[2]["result"]["isError"] is False
    # Before structuredContent existed, the data also travels as text.
    assert any(c["text"].startswith("{") for c in answers[2]["result"]["content"])
    r = rpc(batch, token)
    assert r.status_code == 400 and r.json()["error"]["code"] == -32600
    # No server-initiated stream and no sessions: GET and DELETE are not this route's.
    assert requests.get(url(), headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 405
    assert requests.delete(url(), headers={"Authorization": f"Bearer {token}"}, timeout=10).status_code == 405
    # An origin the tenant does not allow (DNS rebinding) is refused.
    r = rpc({"jsonrpc": "2.0", "id": 1, "method": "ping"}, token, Origin="https://evil.example")
    assert r.status_code == 403
    r = rpc({"jsonrpc": "2.0", "id": 1, "method": "ping"}, token, Origin=ENV["DEMO_ALLOWED_ORIGIN"])
    assert r.status_code == 200
