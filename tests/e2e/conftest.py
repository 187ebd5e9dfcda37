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
