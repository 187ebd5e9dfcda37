"""`make bench`: every route on the local stack (release binaries) with the Stripe emulator
answering each request 50 ms late. Prints per route: warm p50/p99 over N calls, Stripe round
trips (from the emulator's log of when each request started and ended) and requests per call;
for each write tool, its propose and
its confirm the same way (a write and its undo, alternately, so every confirm is a real
change); per function: cold start (process start to first answer), peak RSS, release binary
size."""
from __future__ import annotations

import json
import os
import platform
import signal
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

import requests

import stack as st

CALLS = int(os.environ.get("BENCH_CALLS", "200"))
WRITE_PAIRS = int(os.environ.get("BENCH_WRITE_PAIRS", "40"))
LATENCY_MS = 50


def stripe_log(env: dict) -> list[dict]:
    r = requests.get(f"{env['STRIPE_API_BASE']}/_emulator/requests", params={"key": env["STRIPE_API_KEY"]}, timeout=5)
    return r.json()["requests"]


def clear_log(env: dict) -> None:
    requests.delete(f"{env['STRIPE_API_BASE']}/_emulator/requests", params={"key": env["STRIPE_API_KEY"]},
                    timeout=5).raise_for_status()


def round_trips(entries: list[dict]) -> int:
    """Requests one after another count once each; requests in flight together count once."""
    waves, horizon = 0, -1
    for e in sorted(entries, key=lambda e: e["started_us"]):
        if e["started_us"] >= horizon:
            waves += 1
            horizon = e["ended_us"]
        else:
            horizon = max(horizon, e["ended_us"])
    return waves


def stripe_cost(env: dict) -> tuple[int, int]:
    """(requests, round trips) since the log was last cleared; clears it."""
    entries = stripe_log(env)
    clear_log(env)
    return len(entries), round_trips(entries)


def peak_rss_kib(pid: int) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
    return 0


def init_ms(argv: list[str], fn_env: dict[str, str]) -> tuple[float, float]:
    """(ms from process start until the function first asks the Lambda runtime API for
    work, peak RSS MiB by then), against a stand-in runtime API that only notes the ask:
    the cold start without any invocation in it."""
    with socket.create_server(("127.0.0.1", 0)) as server:
        port = server.getsockname()[1]
        server.settimeout(30)
        env = {**os.environ, **fn_env, "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{port}"}
        t0 = time.perf_counter()
        proc = subprocess.Popen(argv, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                start_new_session=True)
        try:
            conn, _ = server.accept()
            with conn:
                seen = b""
                while b"\r\n" not in seen:
                    chunk = conn.recv(4096)
                    if not chunk:
                        break
                    seen += chunk
                took = (time.perf_counter() - t0) * 1000
                if b"/runtime/invocation/next" not in seen.split(b"\r\n")[0]:
                    raise SystemExit(f"{argv[0]} asked the runtime API for {seen[:80]!r}")
                rss = peak_rss_kib(proc.pid) / 1024
        finally:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    return took, rss


def faces_figures(env: dict) -> dict:
    """The widget script's size, gzipped, and the agent panel in the Debian-packaged headless
    Chromium: first contentful paint (the page's shell) and the time until the customer's
    data is drawn (the insight call included), median of 5 loads."""
    import gzip
    import shutil
    script = requests.get(f"{env['API_URL']}/v1/{env['TENANT']}/widget.js", timeout=10).content
    out = {"widget_bytes": len(script), "widget_gzip_bytes": len(gzip.compress(script, 9))}
    chromium, driver = shutil.which("chromium"), shutil.which("chromedriver")
    if not chromium or not driver:
        return out
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.support.ui import WebDriverWait
    os.environ["SE_OFFLINE"] = "true"
    opts = webdriver.ChromeOptions()
    opts.binary_location = chromium
    for arg in ("--headless=new", "--no-sandbox", "--disable-dev-shm-usage", "--disable-gpu"):
        opts.add_argument(arg)
    b = webdriver.Chrome(service=Service(executable_path=driver), options=opts)
    paints, drawn = [], []
    try:
        url = f"{env['DEMO_PANEL_URL']}&customer_id={env['DEMO_ACTIVE_CUSTOMER']}"
        for _ in range(6):
            b.get("about:blank")
            t0 = time.perf_counter()
            b.get(url)
            WebDriverWait(b, 20).until(lambda d: d.find_elements("css selector", "section h2"))
            drawn.append((time.perf_counter() - t0) * 1000)
            fcp = b.execute_script("var e = performance.getEntriesByName('first-contentful-paint')[0];"
                                   "return e ? e.startTime : null;")
            if fcp is not None:
                paints.append(fcp)
    finally:
        b.quit()
    # The first load warms the functions; the median is of the five after it.
    out["panel_first_paint_ms"] = statistics.median(paints[1:]) if len(paints) > 1 else None
    out["panel_data_drawn_ms"] = statistics.median(drawn[1:])
    return out


def stage_medians(log: Path, offset: int) -> dict[str, float]:
    """Median ms of each pipeline stage over the `stages` lines a function logged after
    `offset` (bytes into its log)."""
    per: dict[str, list[float]] = {}
    with open(log, "rb") as f:
        f.seek(offset)
        for raw in f:
            try:
                line = json.loads(raw)
            except ValueError:
                continue
            if line.get("target") != "stages":
                continue
            for part in line.get("stages_us", "").split():
                name, _, us = part.partition("=")
                per.setdefault(name, []).append(int(us) / 1000)
    return {name: statistics.median(v) for name, v in per.items()}


def pct(xs: list[float], p: float) -> float:
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(round(p / 100 * (len(xs) - 1))))]


def tool(env: dict, name: str, token: str, body: dict) -> tuple[float, dict]:
    t0 = time.perf_counter()
    r = requests.post(f"{env['API_URL']}/v1/{st.TENANT}/tools/{name}", json=body, timeout=30,
                      headers={"Authorization": f"Bearer {token}"})
    took = (time.perf_counter() - t0) * 1000
    if r.status_code != 200:
        raise SystemExit(f"{name}: {r.status_code} {r.text[:300]}")
    return took, r.json()


def refundable_charge(env: dict, customer: str) -> str:
    """The customer's latest charge (the refund window counts from it) with room for the
    bench's refunds."""
    r = requests.get(f"{env['STRIPE_API_BASE']}/v1/charges", params={"customer": customer, "limit": 100},
                     headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"}, timeout=10)
    r.raise_for_status()
    room = 2 * WRITE_PAIRS * 50
    return next(c["id"] for c in r.json()["data"]
                if c["status"] == "succeeded" and c["amount"] - c["amount_refunded"] >= room)


def write_pairs(env: dict) -> list[tuple]:
    """Each write tool's propose and confirm, timed apart, with the Stripe requests each made.
    Writes alternate with their undo so every confirm changes something."""
    token = st.mint(env["IDENTITY_SECRET"], env["DEMO_ACTIVE_USER"])
    prices = [env["DEMO_PRICE_SCALE"], env["DEMO_PRICE_GROWTH"]]
    # Refunds of 0.50 of the active visitor's first payment (49.00 covers them all); retries
    # of the past-due visitor's invoice, which their card declines every time (the answer
    # still opens a Billing Portal session, so this is the dearer of its two outcomes).
    first_charge = refundable_charge(env, env["DEMO_ACTIVE_CUSTOMER"])
    tokens = {"retry_payment": st.mint(env["IDENTITY_SECRET"], env["DEMO_PAST_DUE_USER"])}
    pairs = {
        "change_plan": lambda i: ("change_plan", {"price_id": prices[i % 2]}),
        "cancel_subscription": lambda i: (("cancel_subscription", {}) if i % 2 == 0 else ("resume_subscription", {})),
        "pause_subscription": lambda i: (("pause_subscription", {}) if i % 2 == 0 else ("resume_subscription", {})),
        "update_billing_details": lambda i: ("update_billing_details", {"name": f"Ada {'AB'[i % 2]}"}),
        "request_refund": lambda i: ("request_refund", {"payment_id": first_charge, "amount": 50}),
        "retry_payment": lambda i: ("retry_payment", {}),
    }
    rows = []
    for label, step in pairs.items():
        times = {"propose": [], "confirm": []}
        reqs = {"propose": 0, "confirm": 0}
        trips = {"propose": 0, "confirm": 0}
        for i in range(2 * WRITE_PAIRS):
            name, body = step(i)
            who = tokens.get(name, token)
            clear_log(env)
            took, answer = tool(env, name, who, body)
            proposed = stripe_cost(env)
            assert answer["status"] == "confirmation_required", answer
            took2, done = tool(env, name, who, {"confirm": answer["confirmation"]["token"]})
            assert done["status"] == "done", done
            confirmed = stripe_cost(env)
            if name == label:  # the undo steps are not this tool's numbers
                times["propose"].append(took)
                times["confirm"].append(took2)
                for phase, (n_req, n_trips) in (("propose", proposed), ("confirm", confirmed)):
                    reqs[phase] += n_req
                    trips[phase] += n_trips
        n = len(times["propose"])
        for phase in ("propose", "confirm"):
            xs = times[phase]
            rows.append((f"POST {label} ({phase})", pct(xs, 50), pct(xs, 99), trips[phase] / n,
                         reqs[phase] / n))
    return rows


def main() -> int:
    ports = {"stripe": 12113, "moto": 5002, "api": 9002, "runtime": 9012}
    # Writes are measured back to back; the bounds would stop them after a few (plan changes
    # a month, refunds an hour, retries of one invoice a day). Raised here, so every call is
    # a real one; what a bound's check costs is in every confirm all the same.
    policy = {"plan_changes_per_month": 1_000_000, "refunds_per_hour": 1_000_000,
              "refund_max_per_30_days": 10**12, "retries_per_invoice_per_day": 1_000_000,
              "refunds_per_customer_per_hour": 1_000_000, "pauses_per_year": 1_000_000,
              "paused_days_per_year": 1_000_000, "code_attempts_per_hour": 1_000_000,
              "duplicate_window_secs": 0, "stack_codes": True,
              "refund_current_period": "keep"}
    # Each call's stages (target `stages`, debug level) are logged only here. moto, the
    # stand-in for DynamoDB, stalls now and then for seconds once its tables have grown
    # through a run; a deployment's 1.8 s AWS budget would turn a stall into a 503 and end
    # the run, so the bench gives AWS calls 6 s (a stall shows in p99 instead).
    fn_env = {"RUST_LOG": "info,stages=debug", "AWS_ATTEMPT_TIMEOUT_MS": "5000",
              "AWS_OPERATION_TIMEOUT_MS": "6000"}
    stack = st.Stack(ports, os.environ.get("PROFILE", "release"), fn_env,
                     {"rate_limits": st.TEST_RATE_LIMITS}, unchecked_policy=policy)
    rows, cold_rows, stage_rows = [], [], []
    compare_rows = []
    try:
        env = stack.up()
        # Stripe's own deliveries would add webhook calls (and their Stripe requests) to the
        # numbers of whatever route caused them; the webhook route is measured by itself.
        requests.post(f"{env['STRIPE_API_BASE']}/v1/webhook_endpoints/{env['DEMO_WEBHOOK_ENDPOINT']}",
                      data={"disabled": "true"}, headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"},
                      timeout=5).raise_for_status()
        requests.post(f"{env['STRIPE_API_BASE']}/_emulator/latency",
                      json={"ms": LATENCY_MS, "key": env["STRIPE_API_KEY"]}, timeout=5).raise_for_status()
        for fn in stack.layout["functions"]:
            for method, path in fn["routes"]:
                for _ in range(5):
                    st.sample_call(env, method, path)
                clear_log(env)
                log = stack.logs / f"{fn['binary']}.log"
                log_from = log.stat().st_size
                times = []
                for _ in range(CALLS):
                    t0 = time.perf_counter()
                    r = st.sample_call(env, method, path)
                    times.append((time.perf_counter() - t0) * 1000)
                    if r.status_code != st.expected_status(path):
                        raise SystemExit(f"{path}: {r.status_code} {r.text[:300]}")
                n_req, n_trips = stripe_cost(env)
                p50, p99 = pct(times, 50), pct(times, 99)
                rows.append((f"{method} {path}", p50, p99, n_trips / CALLS, n_req / CALLS))
                stages = stage_medians(log, log_from)
                if stages:
                    stage_rows.append((f"{method} {path}", p50, n_trips, stages))
        rows += write_pairs(env)
        # BENCH_COMPARE=profile:function: the same function built with another profile,
        # measured against the release build on its route in alternating rounds (a run
        # drifts as moto's tables grow, so rows measured minutes apart do not compare).
        if os.environ.get("BENCH_COMPARE"):
            profile, name = os.environ["BENCH_COMPARE"].split(":")
            fn = next(f for f in stack.layout["functions"] if f["binary"] == name)
            method, path = fn["routes"][0]
            argv, fn_env = stack.functions[name]
            builds = {stack.profile: argv, profile: [str(st.ROOT / "target" / profile / name)]}
            times: dict[str, list[float]] = {p: [] for p in builds}
            stages: dict[str, list[dict]] = {p: [] for p in builds}
            for _ in range(3):
                for prof, cmd in builds.items():
                    stack.stop(name)
                    stack.functions[name] = (cmd, fn_env)
                    stack.start(name)
                    for _ in range(5):
                        st.sample_call(env, method, path)
                    log = stack.logs / f"{name}.log"
                    log_from = log.stat().st_size
                    for _ in range(CALLS // 3):
                        t0 = time.perf_counter()
                        st.sample_call(env, method, path)
                        times[prof].append((time.perf_counter() - t0) * 1000)
                    time.sleep(0.3)
                    stages[prof].append(stage_medians(log, log_from))
            for prof, ts in times.items():
                ours = statistics.median(sum(v for k, v in s.items() if k != "customer_and_tool")
                                         for s in stages[prof])
                size = Path(builds[prof][0]).stat().st_size / 1024 / 1024
                compare_rows.append((f"{name} ({prof})", pct(ts, 50), pct(ts, 99), ours, size))
            stack.stop(name)
            stack.functions[name] = (argv, fn_env)
            stack.start(name)
        faces = faces_figures(env)
        for fn in stack.layout["functions"]:
            name = fn["binary"]
            if not fn["routes"]:
                continue  # a scheduled scan: no route to time
            method, path = fn["routes"][0]
            stack.stop(name)
            t0 = time.perf_counter()
            proc = stack.start(name)
            r = st.sample_call(env, method, path)
            cold = (time.perf_counter() - t0) * 1000
            # An answer is what a cold start is timed to; the writes measured before may
            # have left a bound standing (a refunded period refuses plan changes), which is
            # an answer too.
            assert r.status_code < 500, r.text
            for _ in range(20):
                st.sample_call(env, method, path)
            size = (st.ROOT / "target" / stack.profile / name).stat().st_size
            argv, fn_env = stack.functions[name]
            inits = sorted(init_ms(argv, fn_env) for _ in range(5))
            init, init_rss = inits[len(inits) // 2]
            cold_rows.append((name, init, init_rss, cold, peak_rss_kib(proc.pid) / 1024, size / 1024 / 1024))
    finally:
        stack.down()

    print(f"\n{time.strftime('%Y-%m-%d')}, {platform.machine()}, {os.cpu_count()} cores, "
          f"{platform.processor() or platform.platform()}; release binaries; Stripe emulator +{LATENCY_MS} ms per request; "
          f"{CALLS} sequential warm calls per route.\n")
    print("Write tools: the first call (propose) and the second (confirm) measured apart, "
          f"{WRITE_PAIRS} of each, alternating with the write's undo.\n")
    print("Stripe round trips: requests made one after another, counted from the emulator's log "
          "(requests in flight together count once).\n")
    print("| route | p50 ms | p99 ms | Stripe round trips per call | Stripe requests per call |")
    print("| --- | ---: | ---: | ---: | ---: |")
    for route, p50, p99, ratio, per in rows:
        print(f"| `{route}` | {p50:.1f} | {p99:.1f} | {ratio:.2f} | {per:.2f} |")
    print("\nWhere a warm call's time goes (median ms per stage, from the functions' own `stages` "
          "lines): tenant (cached config and secrets), identity (token), limits and mapping (rate "
          "counters and the contact mapping, DynamoDB, at once), input, customer and tool (Stripe), "
          f"audit (the record's PutItem). Outside: p50 minus the stages minus {LATENCY_MS} ms per "
          "Stripe round trip's added latency (HTTP client, local router, runtime API, and the "
          "emulator's own time).\n")
    names = ["tenant", "identity", "limits_and_mapping", "input", "customer_and_tool", "audit"]
    print("| route | " + " | ".join(names) + " | ours (stages without Stripe's added latency) | outside |")
    print("| --- |" + " ---: |" * (len(names) + 2))
    for route, p50, trips, stages in stage_rows:
        added = LATENCY_MS * trips / CALLS
        inside = sum(stages.values())
        cells = " | ".join(f"{stages.get(n, 0):.1f}" for n in names)
        print(f"| `{route}` | {cells} | {inside - added:.1f} | {p50 - inside:.1f} |")
    print("\nInit: process start until the function first asks the runtime API for work (a "
          "stand-in runtime API; median of 5). Cold start: process start to its first answer "
          "(init, then the first call: tenant, secrets, Stripe).\n")
    print("| function | init ms | RSS at init MiB | cold start ms | peak RSS MiB | binary MiB |")
    print("| --- | ---: | ---: | ---: | ---: | ---: |")
    for name, init, init_rss, cold, rss, size in cold_rows:
        print(f"| `{name}` | {init:.1f} | {init_rss:.1f} | {cold:.1f} | {rss:.1f} | {size:.1f} |")
    print(f"\nFaces: the widget script is {faces['widget_bytes']:,} bytes, "
          f"{faces['widget_gzip_bytes']:,} gzipped. The agent panel in headless Chromium: first "
          f"contentful paint {faces.get('panel_first_paint_ms') or 0:.0f} ms, the customer's data drawn "
          f"(the page, then agent insight) {faces.get('panel_data_drawn_ms') or 0:.0f} ms (median of 5 loads "
          "after a warm-up).")
    if compare_rows:
        print("\nProfiles compared on one function, alternating rounds of calls (same stack, same "
              "moment): ours = the stages outside the Stripe call (median ms).\n")
        print("| build | p50 ms | p99 ms | ours ms | binary MiB |")
        print("| --- | ---: | ---: | ---: | ---: |")
        for name, p50, p99, ours, size in compare_rows:
            print(f"| `{name}` | {p50:.1f} | {p99:.1f} | {ours:.1f} | {size:.1f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
