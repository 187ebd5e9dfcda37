"""Every request that matches no route gets an envelope answer, quickly, on the local
stack: the router's catch-all and each function's own method check, from one route table."""
import time

import requests
from conftest import ENV, mint

TIMEOUT = 5


def call(method: str, path: str, **kw):
    t0 = time.perf_counter()
    r = requests.request(method, ENV["API_URL"] + path, timeout=TIMEOUT, **kw)
    return r, time.perf_counter() - t0


def test_unrouted_paths_and_methods_answer_in_the_envelope_within_a_second():
    tenant = ENV["TENANT"]
    token = mint(ENV["DEMO_ACTIVE_USER"])
    auth = {"Authorization": f"Bearer {token}"}
    cases = [
        # (method, path, status, allow, reason)
        ("POST", f"/v1/{tenant}/tools/delete_my_account", 404, None, "unknown_tool"),
        ("GET", f"/v1/{tenant}/tools/get_subscription_status", 405, "POST", "wrong_method"),
        ("DELETE", f"/v1/{tenant}/tools/get_invoice_history", 405, "POST", "wrong_method"),
        ("POST", f"/v1/{tenant}/tools", 405, "GET", "wrong_method"),
        ("POST", f"/v1/{tenant}/agent/insight", 405, "GET", "wrong_method"),
        ("GET", "/", 404, None, "unknown_route"),
        ("POST", f"/v1/{tenant}/nope", 404, None, "unknown_route"),
        ("GET", "/v2/anything/at/all", 404, None, "unknown_route"),
        ("POST", f"/v1/{tenant}/tools/get_subscription_status/", 404, None, "trailing_slash"),
        ("PUT", f"/v1/{tenant}/tools/", 404, None, "trailing_slash"),
    ]
    for method, path, status, allow, reason in cases:
        r, took = call(method, path, headers=auth, json={})
        assert took < 1.0, f"{method} {path} took {took:.2f}s"
        assert r.status_code == status, f"{method} {path}: {r.status_code} {r.text[:200]}"
        body = r.json()
        assert body["ok"] is False and body["request_id"], body
        err = body["error"]
        assert err["reason"] == reason, (method, path, err)
        assert r.headers.get("allow") == allow, (method, path, dict(r.headers))
        assert "Rust" not in err["message"] and "expected" not in err["message"]
    r, _ = call("POST", f"/v1/{tenant}/tools/delete_my_account", headers=auth, json={})
    assert f"GET /v1/{tenant}/tools" in r.json()["error"]["message"], "names the tool list"
