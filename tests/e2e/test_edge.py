"""The widget's edge through the running binaries: CORS preflights answered per tenant
(as a browser sends them) on every route, rate limits counted in DynamoDB shared by every
function, and the legacy user hash checked with its own secret."""
import hashlib
import hmac
import time

import jwt
import requests
from conftest import ENV, mint

import stack as st


def preflight(path: str, origin: str) -> requests.Response:
    # What Chrome sends before a POST with a bearer token and a JSON body.
    return requests.options(f"{ENV['API_URL']}{path}", timeout=10, headers={
        "Origin": origin, "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type", "Sec-Fetch-Mode": "cors",
    })


def test_preflight_grants_the_demo_origin_only():
    origin = ENV["DEMO_ALLOWED_ORIGIN"]
    path = f"/v1/{ENV['TENANT']}/tools/get_subscription_status"
    r = preflight(path, origin)
    assert r.status_code == 204, r.text
    assert r.headers["Access-Control-Allow-Origin"] == origin
    assert "authorization" in r.headers["Access-Control-Allow-Headers"]
    assert r.headers["Access-Control-Allow-Methods"] == "POST, OPTIONS"
    for p, o in [(path, "https://evil.example.com"), ("/v1/nosuchtenant/tools/get_billing_info", origin)]:
        r = preflight(p, o)
        assert "Access-Control-Allow-Origin" not in r.headers, (p, o, r.headers)


def test_a_granted_origin_can_read_the_answer():
    origin = ENV["DEMO_ALLOWED_ORIGIN"]
    r = requests.post(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/get_subscription_status", json={}, timeout=10,
                      headers={"Origin": origin, "Authorization": f"Bearer {mint(ENV['DEMO_ACTIVE_USER'])}"})
    assert r.status_code == 200 and r.headers["Access-Control-Allow-Origin"] == origin
    r = requests.get(f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools", timeout=10, headers={"Origin": "https://evil.example.com"})
    assert r.status_code == 200 and "Access-Control-Allow-Origin" not in r.headers


def test_the_legacy_user_hash_uses_its_own_secret(api):
    user = ENV["DEMO_ACTIVE_USER"]
    url = f"{ENV['API_URL']}/v1/{ENV['TENANT']}/tools/get_subscription_status"

    def with_hash(secret: str) -> requests.Response:
        digest = hmac.new(secret.encode(), user.encode(), hashlib.sha256).hexdigest()
        return requests.post(url, json={}, timeout=10, headers={"X-User-Id": user, "X-User-Hash": digest})

    assert with_hash(ENV["USER_HASH_SECRET"]).status_code == 200
    refused = with_hash(ENV["IDENTITY_SECRET"])
    assert refused.status_code == 401 and refused.json()["error"]["reason"] == "bad_user_hash"
    # And the user-hash secret signs no token (the forged-token oracle).
    now = int(time.time())
    forged = jwt.encode({"sub": user, "aud": ENV["TENANT"], "iat": now, "exp": now + 600},
                        ENV["USER_HASH_SECRET"], algorithm="HS256")
    status, body = api.tool("get_subscription_status", forged)
    assert status == 401 and body["error"]["reason"] == "bad_signature", body


def test_one_visitor_over_the_default_limit_gets_429_while_another_is_served():
    """A tenant of its own with the contract's default limits (the demo tenant of the test
    stack has them lifted, as the other tests call far faster than people)."""
    tenant = f"limits-{int(time.time())}"
    secret = st.create_tenant(ENV, tenant, ENV["STRIPE_API_KEY"], {})["identity"]
    url = f"{ENV['API_URL']}/v1/{tenant}/tools/get_billing_info"

    def token(sub: str) -> str:
        now = int(time.time())
        return jwt.encode({"sub": sub, "aud": tenant, "iat": now, "exp": now + 600}, secret, algorithm="HS256")

    busy = {"Authorization": f"Bearer {token('busy')}"}
    # 60 a minute: within 130 calls the limit shows even if a minute turns over meanwhile.
    statuses = []
    for _ in range(130):
        r = requests.post(url, json={}, headers=busy, timeout=10)
        statuses.append(r.status_code)
        if r.status_code == 429:
            break
    assert statuses[-1] == 429, statuses[-5:]
    assert r.json()["error"]["code"] == "rate_limited" and 1 <= int(r.headers["Retry-After"]) <= 60
    assert len(statuses) >= 61, "the first 60 calls of a minute are served"
    calm = requests.post(url, json={}, headers={"Authorization": f"Bearer {token('calm')}"}, timeout=10)
    assert calm.status_code != 429, calm.text
