"""`make bench`: every route on the local stack (release binaries) with the Stripe emulator
answering each request 50 ms late. Prints per route: warm p50/p99 over N calls, p50 divided
by the injected round trip, Stripe requests per call; per function: cold start (process
start to first answer), peak RSS, release binary size."""
from __future__ import annotations

import os
import platform
import statistics
import sys
import time
from pathlib import Path

import requests

import stack as st

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
LATENCY_MS = 50


def requests_of(env: dict) -> int:
    r = requests.get(f"{env['STRIPE_API_BASE']}/_emulator/requests", params={"key": env["STRIPE_API_KEY"]}, timeout=5)
    # `count` is the capped log's length; `total` keeps counting past the cap.
    return r.json()["total"]


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def main() -> int:
    ports = {"stripe": 12113, "moto": 5002, "api": 9002}
    stack = st.Stack(ports, "release", {})
    rows, cold_rows = [], []
    try:
        env = stack.up()
        requests.post(f"{env['STRIPE_API_BASE']}/_emulator/latency",
                      json={"ms": LATENCY_MS, "key": env["STRIPE_API_KEY"]}, timeout=5).raise_for_status()
        for fn in stack.layout["functions"]:
            for method, path in fn["routes"]:
                for _ in range(5):
                    st.sample_call(env, method, path)
                before = requests_of(env)
                times = []
                for _ in range(CALLS):
                    t0 = time.perf_counter()
                    r = st.sample_call(env, method, path)
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != st.expected_status(path):
                        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
                per_call = (requests_of(env) - before) / CALLS
                p50, p99 = pct(times, 50), pct(times, 99)
                rows.append((f"{method} {path}", p50, p99, p50 / LATENCY_MS, per_call))
        for fn in stack.layout["functions"]:
            name = fn["binary"]
            method, path = fn["routes"][0]
            stack.stop(name)
            t0 = time.perf_counter()
            proc = stack.start(name)
            r = st.sample_call(env, method, path)
            cold = (time.perf_counter() - t0) * 1000
            assert r.status_code == st.expected_status(path), r.text
            for _ in range(20):
                st.sample_call(env, method, path)
            size = (st.ROOT / "target" / "release" / name).stat().st_size
            cold_rows.append((name, cold, peak_rss_kib(proc.pid) / 1024, size / 1024 / 1024))
    finally:
        stack.down()

    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.processor() or platform.platform()}; release binaries; Stripe emulator +{LATENCY_MS} ms per request; "
          f"{CALLS} sequential warm calls per route.\n")
    print("| route | p50 ms | p99 ms | p50 / Stripe round trip | Stripe requests per call |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for route, p50, p99, ratio, per in rows:
        print(f"| `{route}` | {p50:.1f} | {p99:.1f} | {ratio:.2f} | {per:.2f} |")
    print("\n| function | cold start ms (process start to first answer) | peak RSS MiB | binary MiB |")
    print("| --- | ---: | ---: | ---: |")
    for name, cold, rss, size in cold_rows:
        print(f"| `{name}` | {cold:.1f} | {rss:.1f} | {size:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
