"""The whole system, locally: moto (DynamoDB, KMS, Secrets Manager), the Stripe emulator,
`cargo lambda watch` serving the Lambda runtime API and the contract's HTTP routes, and
every function binary from template.yaml attached to it. Provisions from template.yaml,
seeds the demo tenant, warms every function, then says "ready". What a killed earlier run
left behind (listed in .local/stack-<api port>.pids) is stopped first.

    python infra/stack.py dev            # until Ctrl-C
    python infra/stack.py run -- CMD...  # up, run CMD with .local/demo.env in its env, down
"""
from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

import jwt
import requests

import provision
import template as tpl
import seed_demo

ROOT = Path(__file__).resolve().parent.parent
LOCAL = ROOT / ".local"
VENV_BIN = ROOT / ".venv" / "bin"
TENANT = "demo"


# --- Leftovers of an earlier run -----------------------------------------------------------
# Every process the stack spawns gets its own session, so Ctrl-C in a terminal reaches only
# this script, which then stops them in `down()`. A SIGKILL of this script skips `down()` and
# leaves them running, holding the ports the next run needs. So each stack keeps a pidfile,
# written as processes are spawned, and the next run on the same ports stops what it lists.


def proc_stat(pid: int) -> tuple[int, int] | None:
    """(process group, start time) of a living process, or None if it is gone or a zombie.
    The start time tells a recycled pid apart from the process that was recorded."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # the command name in (...) may hold spaces
    if fields[0] in "ZX":
        return None
    return int(fields[2]), int(fields[19])


def proc_cmdline(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def record_process(pidfile: Path, role: str, pid: int, own_group: bool = True) -> None:
    """Appends one line; the file is accurate whenever this script is killed. A spawned
    process leads its own group (`start_new_session`), so its group id is its pid, known
    without reading /proc at a moment when it may not have exec'd yet."""
    stat = proc_stat(pid) or (pid, 0)
    line = {"role": role, "pid": pid, "pgid": pid if own_group else stat[0], "start": stat[1],
            "cmd": proc_cmdline(pid)}
    with open(pidfile, "a") as f:
        f.write(json.dumps(line) + "\n")


def still_running(rec: dict) -> bool:
    """The recorded process itself, not another one that got its pid later: a pid and its
    start time (which exec does not change) name one process. The command line is only
    shown, never compared: it may have been read before the child's exec."""
    stat = proc_stat(rec["pid"])
    return stat is not None and stat[1] == rec["start"]


def group_alive(pgid: int) -> bool:
    """Whether a living process is left in the group (zombies hold no ports)."""
    for d in os.listdir("/proc"):
        if d.isdigit() and (stat := proc_stat(int(d))) and stat[0] == pgid:
            return True
    return False


def kill_group(pgid: int, grace: float = 5) -> None:
    """SIGTERM, and SIGKILL for what is still there after `grace` seconds."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        deadline = time.monotonic() + grace
        while group_alive(pgid) and time.monotonic() < deadline:
            time.sleep(0.05)
        if not group_alive(pgid):
            return


def stop_leftovers(pidfile: Path) -> None:
    """Stops what a killed earlier run on these ports left behind, and nothing else."""
    if not pidfile.exists():
        return
    records = [json.loads(line) for line in pidfile.read_text().splitlines() if line.strip()]
    for rec in records:
        # A stack that is still running owns these processes; stopping them would pull
        # the ground from under it.
        if rec["role"] == "owner" and still_running(rec):
            raise SystemExit(f"another stack (pid {rec['pid']}: {' '.join(rec['cmd'])}) is running on "
                             f"these ports; stop it first (kill {rec['pid']}), or wait for it to finish")
    for rec in records:
        if rec["role"] != "owner" and still_running(rec):
            kill_group(rec["pgid"])
            print(f"stopped a leftover {rec['role']} (pid {rec['pid']}) of an earlier run", file=sys.stderr)
    pidfile.unlink()


def port_owner(port: int) -> tuple[int, list[str]] | None:
    """The process with a listening socket on `port`: its inode from /proc/net/tcp{,6},
    then the process holding that inode among /proc/*/fd (only our own user's are readable)."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            lines = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            f = line.split()
            if f[3] == "0A" and int(f[1].rsplit(":", 1)[1], 16) == port:  # 0A: LISTEN
                inodes.add(f"socket:[{f[9]}]")
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        for fd in fds:
            try:
                if os.readlink(f"/proc/{d}/fd/{fd}") in inodes:
                    return int(d), proc_cmdline(int(d))
            except OSError:
                pass
    return None


def port_free(port: int) -> bool:
    with socket.socket() as s:
        # As the servers themselves bind: a closed connection in TIME_WAIT does not count.
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def check_ports_free(roles: dict[str, int]) -> None:
    """Says which port is taken, for what, by whom, instead of a server failing to start."""
    problems = []
    for role, port in roles.items():
        if port_free(port):
            continue
        owner = port_owner(port)
        if owner:
            pid, cmd = owner
            problems.append(f"port {port} ({role}) is in use by pid {pid}: {' '.join(cmd)}\n"
                            f"  this stack did not start it, so it is left alone; stop it (kill {pid}) and retry")
        else:
            problems.append(f"port {port} ({role}) is in use, but by no process this user can see\n"
                            f"  find it with `ss -ltnp 'sport = :{port}'` (as root if need be), stop it and retry")
    if problems:
        raise SystemExit("\n".join(problems))


STACK_NAME = "stripe-bot-local"


def new_secret() -> str:
    """32 random letters and digits."""
    import secrets as rnd
    import string
    return "".join(rnd.choice(string.ascii_letters + string.digits) for _ in range(32))


def tenantctl(env: dict[str, str], *args: str, extra: dict[str, str] | None = None,
              check: bool = True, inherit: bool = True) -> dict:
    """Runs the operator command (`--json`) with `env` (the stack's AWS endpoint, its name,
    the Stripe base URL); `extra` adds variables such as the one a key is passed in."""
    out = subprocess.run([env["TENANTCTL"], "--json", *args], capture_output=True, text=True,
                         timeout=120, env={**(os.environ if inherit else {}), **env, **(extra or {})})
    doc = json.loads(out.stdout) if out.stdout.strip() else {"ok": False, "stderr": out.stderr}
    doc["exit_code"] = out.returncode
    if check and out.returncode != 0:
        raise RuntimeError(f"tenantctl {args[0]} failed ({out.returncode}): {doc}")
    return doc


def create_tenant(env: dict[str, str], tenant: str, stripe_key: str, settings: dict) -> dict:
    """A tenant with `stripe_key` connected and `settings` set; its new secrets by kind."""
    made = tenantctl(env, "create", tenant, "--stripe-key-env", "TENANTCTL_STRIPE_KEY",
                     "--show-secret", extra={"TENANTCTL_STRIPE_KEY": stripe_key})
    if settings:
        tenantctl(env, "set", tenant, *(f"{k}={json.dumps(v)}" for k, v in settings.items()))
    return made["secrets"]


class Stack:
    def __init__(self, ports: dict[str, int], profile: str, fn_env: dict[str, str],
                 tenant_config: dict | None = None, unchecked_policy: dict | None = None):
        self.ports = ports
        # Extra demo tenant settings (the bench lifts the plan-change bound, for one).
        self.tenant_config = tenant_config or {}
        # Bounds past tenantctl's documented ranges (the bench's back-to-back writes), written
        # straight into the tenant's item: tenantctl refuses what would weaken a tenant.
        self.unchecked_policy = unchecked_policy or {}
        self.profile = profile
        self.fn_env = fn_env
        self.procs: list[tuple[str, subprocess.Popen]] = []
        self.logs = LOCAL / "logs"
        self.logs.mkdir(parents=True, exist_ok=True)
        # One per stack: `make dev` and the test stack use other ports and may run side by side.
        self.pidfile = LOCAL / f"stack-{ports['api']}.pids"
        self.owns_pidfile = False
        self.aws_env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{ports['moto']}",
            "AWS_ACCESS_KEY_ID": "local",
            "AWS_SECRET_ACCESS_KEY": "local",
            "AWS_REGION": "us-east-1",
            "AWS_DEFAULT_REGION": "us-east-1",
        }
        os.environ.update(self.aws_env)
        self.stripe_base = f"http://127.0.0.1:{ports['stripe']}"
        # The demo merchant's page (make dev: http://localhost:8080, the demo tenant's
        # allowed origin; the test stack its own port).
        self.page_origin = f"http://localhost:{ports.get('page', 8080)}"
        self.api_url = f"http://127.0.0.1:{ports['api']}"

    def spawn(self, name: str, cmd: list[str], env: dict[str, str] | None = None) -> None:
        log = open(self.logs / f"{name}.log", "w")
        proc = subprocess.Popen(
            cmd, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
            env={**os.environ, **(env or {})}, start_new_session=True,
        )
        self.procs.append((name, proc))
        record_process(self.pidfile, name, proc.pid)

    def wait_port(self, name: str, port: int, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            for pname, proc in self.procs:
                if proc.poll() is not None:
                    raise SystemExit(f"{pname} exited early; see .local/logs/{pname}.log")
            with socket.socket() as s:
                if s.connect_ex(("127.0.0.1", port)) == 0:
                    return
            time.sleep(0.1)
        raise SystemExit(f"{name} did not open port {port}; see .local/logs/{name}.log")

    def up(self) -> dict[str, str]:
        stop_leftovers(self.pidfile)
        check_ports_free({"moto": self.ports["moto"], "stripe-emulator": self.ports["stripe"],
                          "cargo-lambda-watch": self.ports["api"], "runtime-relay": self.ports["runtime"],
                          **({"demo-page": self.ports["page"]} if "page" in self.ports else {})})
        self.pidfile.write_text("")
        self.owns_pidfile = True
        record_process(self.pidfile, "owner", os.getpid(), own_group=False)
        target = ROOT / "target" / self.profile
        # moto_server, with DynamoDB transactions that cost per item (infra/moto_server.py).
        self.spawn("moto", [str(VENV_BIN / "python"), str(ROOT / "infra" / "moto_server.py"),
                            "-H", "127.0.0.1", "-p", str(self.ports["moto"])])
        # Every answer the emulator gives is noted for the conformance check
        # (tests/e2e/test_zzz_stripe_conformance.py), fresh for each stack.
        self.stripe_record = self.logs / "stripe-answers.jsonl"
        self.stripe_record.unlink(missing_ok=True)
        self.spawn("stripe-emulator", [str(target / "stripe-emulator")],
                   {"STRIPE_EMULATOR_ADDR": f"127.0.0.1:{self.ports['stripe']}",
                    "STRIPE_EMULATOR_RECORD": str(self.stripe_record)})
        self.spawn("cargo-lambda-watch", [
            # No CORS of the router's own: as with API Gateway, the functions answer it per
            # tenant.
            str(VENV_BIN / "cargo-lambda"), "lambda", "watch", "--only-lambda-apis", "--ignore-changes",
            "--disable-cors", "-A", "127.0.0.1", "-P", str(self.ports["api"]),
        ], {"PATH": f"{VENV_BIN}:{os.environ['PATH']}"})
        self.wait_port("moto", self.ports["moto"])
        self.wait_port("stripe-emulator", self.ports["stripe"])
        self.wait_port("cargo-lambda-watch", self.ports["api"])
        # The functions reach the emulator's runtime API through a relay that hands it each
        # answer whole (infra/runtime_relay.py says why).
        self.spawn("runtime-relay", [str(VENV_BIN / "python"), str(ROOT / "infra" / "runtime_relay.py"),
                                     str(self.ports["runtime"]), str(self.ports["api"])])
        self.wait_port("runtime-relay", self.ports["runtime"])

        # The links notice emails carry point at this local API.
        layout = provision.provision(STACK_NAME, {"StripeApiBase": self.stripe_base,
                                                  "PublicUrl": self.api_url})
        # The demo merchant's sender, verified in (moto's) SES as an operator verifies theirs.
        import boto3
        boto3.client("sesv2", region_name="us-east-1",
                     endpoint_url=self.aws_env["AWS_ENDPOINT_URL"]).create_email_identity(
            EmailIdentity=DEMO_SENDER)
        stripe_key = "sk_test_demo" + new_secret()
        demo = seed_demo.seed(self.stripe_base, stripe_key)
        # The operator's own command seeds the demo tenant, as an operator would: default
        # bounds; the three demo plans are the ones a visitor may choose.
        ctl_env = {**self.aws_env, "STACK_NAME": STACK_NAME, "STRIPE_API_BASE": self.stripe_base,
                   "TENANTCTL": str(target / "tenantctl")}
        # Every tool the stack routes, write tools included: a new tenant serves the read
        # tools only until the merchant lists more (fail closed); the demo shows them all.
        tools = sorted({path.rsplit("/", 1)[1] for fn in layout["functions"]
                        for _, path in fn["routes"] if "/tools/" in path})
        stored = create_tenant(ctl_env, TENANT, stripe_key, {
            "enabled_tools": tools,
            "return_url": "https://demo.example.com/account",
            "legacy_user_hash": True,
            "allowed_origins": sorted({DEMO_ALLOWED_ORIGIN, self.page_origin}),
            # The helpdesk that may frame the agent panel (Chatwoot's own local port).
            "panel_origins": [DEMO_PANEL_ORIGIN],
            "allowed_prices": list(demo["prices"].values()),
            # Customers are emailed notices (a failed payment's pay-now link, an expiring
            # card, invoice bundles) from the demo's verified sender.
            "notify.email": True,
            "notify.from": DEMO_SENDER,
            "notify.name": "Demo Co",
            "price_tiers": {pid: plan.lower() for plan, pid in demo["prices"].items()},
            # One retention offer of each kind, so `make dev` shows them on a cancel.
            "policy.retention": {
                "too_expensive": [{"kind": "discount", "code": demo["retention_code"]},
                                  {"kind": "downgrade", "price": demo["prices"]["Starter"]}],
                "unused": [{"kind": "pause", "days": 30}],
            },
            **self.tenant_config,
        })
        if self.unchecked_policy:
            import boto3
            table = boto3.resource("dynamodb", endpoint_url=self.aws_env["AWS_ENDPOINT_URL"],
                                   region_name="us-east-1").Table(layout["tables"]["TenantsTable"])
            table.update_item(Key={"tenant": TENANT},
                              UpdateExpression="SET #p = :p",
                              ExpressionAttributeNames={"#p": "policy"},
                              ExpressionAttributeValues={":p": {
                                  **table.get_item(Key={"tenant": TENANT})["Item"].get("policy", {}),
                                  **self.unchecked_policy}})
        # Stripe (the emulator) delivers the demo account's events to the demo tenant's
        # webhook route: the operator's command registers the endpoint through Stripe's API
        # and stores its signing secret (no secret copied by hand). The tests sign events
        # of their own with it, so it is asked for once, shown.
        endpoint = tenantctl(ctl_env, "connect-webhooks", TENANT, "--url",
                             f"{self.api_url}/v1/{TENANT}/webhooks/stripe", "--show-secret")
        for state, c in demo.items():
            if state in ("ambiguous", "prices", "nothing", "manual_invoice", "promotion_code", "retention_code"):
                continue
            tenantctl(ctl_env, "map", TENANT, c["user"], c["customer"])

        self.layout = layout
        self.functions = {}
        for fn in layout["functions"]:
            name = fn["binary"]
            self.functions[name] = ([str(target / name)], {
                **fn["env"], **self.fn_env,
                "AWS_LAMBDA_RUNTIME_API": f"http://127.0.0.1:{self.ports['runtime']}/.rt/{name}",
                "AWS_LAMBDA_FUNCTION_NAME": name,
                "AWS_LAMBDA_FUNCTION_MEMORY_SIZE": "256",
                "AWS_LAMBDA_FUNCTION_VERSION": "$LATEST",
            })
            self.spawn(name, *self.functions[name])

        env = {
            "API_URL": self.api_url,
            "TENANT": TENANT,
            "IDENTITY_SECRET": stored["identity"],
            "USER_HASH_SECRET": stored["user-hash"],
            "DEMO_ALLOWED_ORIGIN": DEMO_ALLOWED_ORIGIN,
            "AGENT_SECRET": stored["agent"],
            "PANEL_KEY": stored["panel"],
            "DEMO_PAGE_URL": f"{self.page_origin}/",
            # The panel with its key in the fragment, which no server or Referer sees;
            # append &customer_id=..., &email=... or &user_id=....
            "DEMO_PANEL_URL": f"{self.api_url}/v1/{TENANT}/agent/panel#key={stored['panel']}",
            "WEBHOOK_SECRET": endpoint["secret"],
            "DEMO_WEBHOOK_ENDPOINT": endpoint["endpoint"],
            "STRIPE_API_BASE": self.stripe_base,
            "STRIPE_API_KEY": stripe_key,
            **self.aws_env,
            "STACK_LOG_DIR": str(self.logs),
            "STRIPE_EMULATOR_RECORD": str(self.stripe_record),
            "STACK_NAME": STACK_NAME,
            "TENANTCTL": str(target / "tenantctl"),
            "AUDIT_TABLE": layout["tables"]["AuditTable"],
            "CONTACTS_TABLE": layout["tables"]["ContactsTable"],
            "TENANTS_TABLE": layout["tables"]["TenantsTable"],
            "STATE_TABLE": layout["tables"]["StateTable"],
            # Notices go on this bus: subscribe with a rule, as a merchant's platform would.
            "EVENT_BUS_NAME": next(iter(layout["buses"].values())),
            "DEMO_SENDER": DEMO_SENDER,
        }
        for state, c in demo.items():
            if state == "prices":
                for plan, pid in c.items():
                    env[f"DEMO_PRICE_{plan.upper()}"] = pid
                continue
            if state == "promotion_code":
                env["DEMO_PROMOTION_CODE"] = c
                continue
            if state == "retention_code":
                env["DEMO_RETENTION_CODE"] = c
                continue
            if state == "manual_invoice":
                env["DEMO_MANUAL_INVOICE"] = c
                continue
            env[f"DEMO_{state.upper()}_CUSTOMER"] = c["customer"]
            env[f"DEMO_{state.upper()}_USER"] = c["user"]
            env[f"DEMO_{state.upper()}_EMAIL"] = c["email"]
        (LOCAL / "demo.env").write_text("".join(f"{k}={v}\n" for k, v in env.items()))
        if "page" in self.ports:
            # The demo merchant's page with the widget, its visitor signed in by its own
            # tiny backend (infra/demo_page.py).
            self.spawn("demo-page", [str(VENV_BIN / "python"), str(ROOT / "infra" / "demo_page.py"),
                                     str(self.ports["page"]), self.api_url, TENANT, env["DEMO_ACTIVE_USER"]],
                       {"IDENTITY_SECRET": env["IDENTITY_SECRET"]})
            self.wait_port("demo-page", self.ports["page"])
        self.warm(layout, env)
        return env

    def warm(self, layout: dict, env: dict[str, str]) -> None:
        """One call per route, so the first call a person makes is as fast as the next."""
        for fn in layout["functions"]:
            for method, path in fn["routes"]:
                deadline = time.time() + 60
                while True:
                    try:
                        r = sample_call(env, method, path)
                        if r.status_code == expected_status(path):
                            break
                        detail = r.text[:300]
                    except requests.RequestException as e:
                        detail = str(e)
                    if time.time() > deadline:
                        raise SystemExit(f"{fn['binary']} is not answering {path}: {detail}")
                    time.sleep(0.2)

    def stop(self, name: str) -> None:
        for pname, proc in self.procs:
            if pname == name and proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
                proc.wait(timeout=10)
        self.procs = [(n, p) for n, p in self.procs if n != name]

    def start(self, name: str) -> subprocess.Popen:
        """A fresh process of one function: a cold start."""
        self.spawn(name, *self.functions[name])
        return self.procs[-1][1]

    def down(self) -> None:
        for _, proc in reversed(self.procs):
            if proc.poll() is None:
                try:
                    os.killpg(proc.pid, signal.SIGTERM)
                except ProcessLookupError:
                    pass
        for _, proc in self.procs:
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if self.owns_pidfile:
            self.pidfile.unlink(missing_ok=True)


FALLBACK = tpl.FALLBACK

#: The demo merchant's email sender (verified in the local SES).
DEMO_SENDER = "billing@demo.example.com"


# A decision needs an approval to decide: the sample asks about one that does not exist.
UNKNOWN_APPROVAL = "apr_{{DEMO_ACTIVE_CUSTOMER}}.000000000000000000000000"
UNKNOWN_PAY_LINK = "pl_" + "A" * 32


#: The pay-now page's routes: their sample is a link that was never sent.
PAY = "/pay/{token}"


def expected_status(path: str) -> int:
    """What a route's sample call answers: 200, or 404 from the fallback route, for the
    decision on an approval that does not exist, and for a pay-now link never sent."""
    return 404 if path == FALLBACK or path.endswith("/approvals/{id}") or PAY in path else 200


FACES = ("/agent/panel", "/widget.js")


def is_page(path: str) -> bool:
    """Whether a route answers a page or a script (the faces, the pay-now page), not JSON."""
    return path.endswith(FACES) or PAY in path


def answered_well(path: str, body: dict | str) -> bool:
    """Whether a route's sample call got the answer it should: the envelope's `ok` (false
    from the fallback), for MCP a JSON-RPC result that is not a tool error, and for the
    faces (a page, a script) their text."""
    if path.endswith(FACES):
        return isinstance(body, str) and ("<html" in body or "BillingWidget" in body)
    if PAY in path:
        return isinstance(body, str) and "This payment link cannot be used" in body
    if path.endswith("/mcp"):
        return body.get("result", {}).get("isError") is False
    if path.endswith("/approvals/{id}"):
        return body.get("error", {}).get("reason") == "unknown_approval"
    return body.get("ok") is (path != FALLBACK)


def latest_charge(env: dict[str, str], customer: str) -> str:
    r = requests.get(f"{env['STRIPE_API_BASE']}/v1/charges", params={"customer": customer, "limit": 1},
                     headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"}, timeout=10)
    r.raise_for_status()
    return r.json()["data"][0]["id"]


def sample_request(method: str, path: str) -> tuple[str, str, dict, dict, object]:
    """(method, concrete path, query, headers, body) of a route's typical good call, as the
    demo's active visitor (or an agent); for the fallback route, a tool that does not
    exist. What changes from one local stack to the next is a {{PLACEHOLDER}} that
    `fill` replaces: the bench, the warm-up and events/ all make their calls from this."""
    visitor = {"authorization": "Bearer {{VISITOR_TOKEN}}"}
    agent = {"authorization": "Bearer {{AGENT_TOKEN}}"}
    concrete = path.replace("{tenant}", "{{TENANT}}")
    if path == FALLBACK:
        return "POST", "/v1/{{TENANT}}/tools/no_such_tool", {}, {}, {}
    if path.endswith("/agent/insight"):
        return method, concrete, {"customer_id": "{{DEMO_ACTIVE_CUSTOMER}}"}, agent, None
    if path.endswith("/agent/portal_link"):
        return method, concrete, {}, agent, {"customer_id": "{{DEMO_ACTIVE_CUSTOMER}}"}
    if path.endswith("/agent/checkout"):
        # "Send a subscription" to someone not yet a customer: a link, nothing charged.
        return method, concrete, {}, agent, {"email": "newcomer@example.com",
                                             "price_id": "{{DEMO_PRICE_STARTER}}"}
    if path.endswith("/agent/approvals"):
        return method, concrete, {"status": "pending"}, agent, None
    if path.endswith("/agent/approvals/{id}"):
        return method, concrete.replace("{id}", UNKNOWN_APPROVAL), {}, agent, {"decision": "approve"}
    if path.endswith("/visitor/requests"):
        return method, concrete, {}, visitor, None
    if path.endswith("/agent/recovery"):
        return method, concrete, {"status": "open"}, agent, None
    if path.endswith("/visitor/tags"):
        return method, concrete, {}, visitor, None
    if path.endswith("/mcp"):
        # What an MCP client sends for a tool: JSON-RPC `tools/call`, same visitor token.
        mcp = {**visitor, "accept": "application/json, text/event-stream",
               "mcp-protocol-version": "2025-11-25"}
        return method, concrete, {}, mcp, {
            "jsonrpc": "2.0", "id": 1, "method": "tools/call",
            "params": {"name": "get_subscription_status", "arguments": {}}}
    if PAY in path:
        # A link of the right shape that was never sent (the page says so, 404).
        return method, concrete.replace("{token}", UNKNOWN_PAY_LINK), {}, {}, None
    if path.endswith("/webhooks/stripe"):
        return method, concrete, {}, {"stripe-signature": "{{STRIPE_SIGNATURE}}"}, "{{WEBHOOK_BODY}}"
    if method == "GET":
        return method, concrete, {}, {}, None
    bodies = {
        "apply_coupon": ({"code": "welcome10"}, visitor),  # a preview: nothing changes
        "change_plan": ({"price_id": "{{DEMO_PRICE_SCALE}}"}, visitor),  # a preview
        # Already on file: a write that changes nothing.
        "update_billing_details": ({"phone": "+15555550100"}, visitor),
        "request_refund": ({"payment_id": "{{LATEST_CHARGE}}"}, visitor),  # a preview
        "retry_payment": ({}, {"authorization": "Bearer {{PAST_DUE_TOKEN}}"}),  # a preview
        # A range with no invoice yet: answered, and no email sent (one an hour is allowed).
        "email_invoices": ({"since": "2099-01-01T00:00:00Z"}, visitor),
        # A Checkout link for a user who is not a customer yet: nothing is charged.
        "start_subscription": ({"price_id": "{{DEMO_PRICE_STARTER}}"},
                               {"authorization": "Bearer {{NEWCOMER_TOKEN}}"}),
        "resend_invoice": ({"invoice_id": "{{DEMO_MANUAL_INVOICE}}"},
                           {"authorization": "Bearer {{MANUAL_TOKEN}}"}),
    }
    body, headers = bodies.get(path.rsplit("/", 1)[-1], ({}, visitor))
    return method, concrete, {}, headers, body


def fill(text: str, env: dict[str, str]) -> str:
    """`text` (a request or an event as JSON) with every placeholder replaced by this local
    stack's values; a webhook body becomes a fresh signed event."""
    doc = json.loads(text)
    if isinstance(doc, dict) and doc.get("body") == "{{WEBHOOK_BODY}}":
        body = json.dumps(subscription_event(env))
        doc["body"] = body
        doc["headers"]["stripe-signature"] = stripe_signature(env["WEBHOOK_SECRET"], body.encode())
        text = json.dumps(doc)
    values = {
        "TENANT": lambda: env.get("TENANT", TENANT),
        "REQUEST_ID": lambda: str(uuid.uuid4()),
        "VISITOR_TOKEN": lambda: mint(env["IDENTITY_SECRET"], env["DEMO_ACTIVE_USER"]),
        "PAST_DUE_TOKEN": lambda: mint(env["IDENTITY_SECRET"], env["DEMO_PAST_DUE_USER"]),
        "MANUAL_TOKEN": lambda: mint(env["IDENTITY_SECRET"], env["DEMO_MANUAL_USER"]),
        "AGENT_TOKEN": lambda: mint(env["AGENT_SECRET"], "agent_demo", role="agent"),
        # A signed-in user who is not a Stripe customer yet (a checkout's visitor).
        "NEWCOMER_TOKEN": lambda: mint(env["IDENTITY_SECRET"], "newcomer", email="newcomer@example.com",
                                       email_verified=True),
        "DEMO_PRICE_STARTER": lambda: env["DEMO_PRICE_STARTER"],
        "DEMO_ACTIVE_CUSTOMER": lambda: env["DEMO_ACTIVE_CUSTOMER"],
        "DEMO_PRICE_SCALE": lambda: env["DEMO_PRICE_SCALE"],
        "DEMO_MANUAL_INVOICE": lambda: env["DEMO_MANUAL_INVOICE"],
        "LATEST_CHARGE": lambda: latest_charge(env, env["DEMO_ACTIVE_CUSTOMER"]),
    }
    for name, value in values.items():
        if "{{" + name + "}}" in text:
            text = text.replace("{{" + name + "}}", value())
    return text


def sample_call(env: dict[str, str], method: str, path: str, timeout: float = 30) -> requests.Response:
    """The route's sample request (`sample_request`), filled and sent."""
    method, concrete, query, headers, body = sample_request(method, path)
    req = json.loads(fill(json.dumps({"path": concrete, "query": query, "headers": headers,
                                      "body": None if body is None else json.dumps(body)
                                      if not isinstance(body, str) else body}), env))
    if req["body"] is not None:
        req["headers"].setdefault("content-type", "application/json")
    return requests.request(method, env["API_URL"] + req["path"], params=req["query"] or None,
                            headers=req["headers"], data=req["body"], timeout=timeout)


def stripe_signature(secret: str, body: bytes, at: int | None = None) -> str:
    """The `Stripe-Signature` header Stripe sends with `body`."""
    t = int(time.time()) if at is None else at
    mac = hmac.new(secret.encode(), f"{t}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={t},v1={mac}"


def subscription_event(env: dict[str, str]) -> dict:
    """A fresh `customer.subscription.updated` event of the active demo visitor's
    subscription, as Stripe would send it (a new event id each time). The subscription is
    read once, so a benchmark counts only the webhook's own Stripe requests."""
    key = env["DEMO_ACTIVE_CUSTOMER"]
    if key not in _SUBSCRIPTIONS:
        _SUBSCRIPTIONS[key] = _active_subscription(env)
    return {"id": f"evt_{uuid.uuid4().hex}", "object": "event", "api_version": "2025-09-30.clover",
            "created": int(time.time()), "livemode": False, "pending_webhooks": 1,
            "request": {"id": None, "idempotency_key": None}, "type": "customer.subscription.updated",
            "data": {"object": _SUBSCRIPTIONS[key], "previous_attributes": {}}}


_SUBSCRIPTIONS: dict[str, dict] = {}


def _active_subscription(env: dict[str, str]) -> dict:
    r = requests.get(f"{env['STRIPE_API_BASE']}/v1/subscriptions", params={"customer": env["DEMO_ACTIVE_CUSTOMER"]},
                     headers={"Authorization": f"Bearer {env['STRIPE_API_KEY']}"}, timeout=10)
    r.raise_for_status()
    return r.json()["data"][0]


def mint(secret: str, user: str, ttl: int = 3600, **claims) -> str:
    now = int(time.time())
    return jwt.encode({"sub": user, "aud": TENANT, "iat": now, "exp": now + ttl, **claims}, secret, algorithm="HS256")


# The one page origin the demo tenant lets browsers call it from (the widget's demo page).
DEMO_ALLOWED_ORIGIN = "http://localhost:8080"
# The helpdesk origin that may frame the demo tenant's agent panel (Chatwoot's local port).
DEMO_PANEL_ORIGIN = "http://localhost:3000"
TEST_RATE_LIMITS = {"per_visitor_per_minute": 1_000_000, "per_tenant_per_minute": 1_000_000}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("mode", choices=["dev", "run"])
    ap.add_argument("cmd", nargs=argparse.REMAINDER)
    args = ap.parse_args()
    profile = os.environ.get("PROFILE", "debug")
    if args.mode == "dev":
        ports = {"stripe": 12111, "moto": 5000, "api": 9000, "runtime": 9010, "page": 8080}
        fn_env = {}
    else:
        # Apart from a running `make dev`, and with Stripe timeouts short enough that the
        # fault tests finish quickly.
        ports = {"stripe": 12112, "moto": 5001, "api": 9001, "runtime": 9011, "page": 8081}
        fn_env = {"STRIPE_TIMEOUT_MS": "1000", "STRIPE_DEADLINE_MS": "3000"}
    # The tests call far faster than visitors; their own tenant checks the default limits.
    tenant_config = {} if args.mode == "dev" else {"rate_limits": TEST_RATE_LIMITS}
    stack = Stack(ports, profile, fn_env, tenant_config)
    # Ctrl-C and a plain kill both stop everything this script started; SIGINT is set
    # explicitly because a shell starting us in the background would have it ignored.
    signal.signal(signal.SIGINT, signal.default_int_handler)
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    try:
        env = stack.up()
        if args.mode == "run":
            cmd = args.cmd[1:] if args.cmd[:1] == ["--"] else args.cmd
            return subprocess.call(cmd, cwd=ROOT, env={**os.environ, **env})
        token = mint(env["IDENTITY_SECRET"], env["DEMO_ACTIVE_USER"], ttl=24 * 3600)
        retry_token = mint(env["IDENTITY_SECRET"], env["DEMO_RETRY_USER"], ttl=24 * 3600)
        print(f"""
Demo tenant "{TENANT}" is seeded; its settings and customers are in .local/demo.env.

The demo merchant's page, its visitor signed in, with the billing widget:
  {env['DEMO_PAGE_URL']}
The agent panel for the active demo customer (its key is in the fragment):
  {env['DEMO_PANEL_URL']}&customer_id={env['DEMO_ACTIVE_CUSTOMER']}

Ask for the active demo visitor's subscription (token valid 24 h):

curl -s -X POST {env['API_URL']}/v1/{TENANT}/tools/get_subscription_status \\
  -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{}}'

A write is two calls: the first previews (nothing changes) and returns a confirmation
token; the second, with that token, does exactly what the preview said, once:

curl -s -X POST {env['API_URL']}/v1/{TENANT}/tools/cancel_subscription \\
  -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{"reason": "unused"}}'
curl -s -X POST {env['API_URL']}/v1/{TENANT}/tools/cancel_subscription \\
  -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' -d '{{"confirm": "<confirmation.token>"}}'

(resume_subscription undoes it; change_plan {{"price_id": ...}}, pause_subscription,
apply_coupon {{"code": "WELCOME10"}} and update_billing_details work the same way.)

A refund of $5.00 of the active visitor's last payment, within the demo's default caps
(14 days, $500.00 per customer in 30 days, 20 an hour), the same two calls:

curl -s -X POST {env['API_URL']}/v1/{TENANT}/tools/request_refund \\
  -H 'Authorization: Bearer {token}' -H 'Content-Type: application/json' \\
  -d '{{"payment_id": "{latest_charge(env, env['DEMO_ACTIVE_CUSTOMER'])}", "amount": 500}}'

A past-due demo visitor retries their unpaid invoice (two calls again). Their card
declines, so the answer says why and links to the Billing Portal to change it:

curl -s -X POST {env['API_URL']}/v1/{TENANT}/tools/retry_payment \
  -H 'Authorization: Bearer {retry_token}' -H 'Content-Type: application/json' -d '{{}}'
curl -s -X POST {env['API_URL']}/v1/{TENANT}/tools/retry_payment \
  -H 'Authorization: Bearer {retry_token}' -H 'Content-Type: application/json' -d '{{"confirm": "<confirmation.token>"}}'

Change their card as the portal would, then the same two calls pay the invoice:

.venv/bin/python infra/update_card.py {env['DEMO_RETRY_CUSTOMER']}

Stripe (the emulator) delivers every event of the demo account to the demo tenant's
webhook route. Move its clock a month: the past-due visitor's renewal fails again, and
within seconds the recovery queue, their tags and the bot's answer say so:

curl -s -X POST {env['STRIPE_API_BASE']}/_emulator/clock/advance -H 'Content-Type: application/json' -d '{{"seconds": 2678400}}'
curl -s {env['API_URL']}/v1/{TENANT}/agent/recovery -H 'Authorization: Bearer {mint(env["AGENT_SECRET"], "agent_demo", ttl=24 * 3600, role="agent")}'
curl -s {env['API_URL']}/v1/{TENANT}/visitor/tags -H 'Authorization: Bearer {mint(env["IDENTITY_SECRET"], env["DEMO_PAST_DUE_USER"], ttl=24 * 3600)}'

MCP: point any MCP client (Streamable HTTP) at the demo visitor's tools, with this header:

  URL:    {env['API_URL']}/v1/{TENANT}/mcp
  Header: Authorization: Bearer {token}

  e.g. {{"mcpServers": {{"billing": {{"type": "http", "url": "{env['API_URL']}/v1/{TENANT}/mcp",
        "headers": {{"Authorization": "Bearer <the token above>"}}}}}}}}
  or by hand:
curl -s -X POST {env['API_URL']}/v1/{TENANT}/mcp -H 'Authorization: Bearer {token}' \
  -H 'Content-Type: application/json' -H 'MCP-Protocol-Version: 2025-11-25' \
  -d '{{"jsonrpc": "2.0", "id": 1, "method": "tools/call", "params": {{"name": "get_subscription_status", "arguments": {{}}}}}}'

From a browser page at {DEMO_ALLOWED_ORIGIN} (the demo tenant's allowed origin) the same calls
pass CORS; the legacy widget headers X-User-Id and X-User-Hash (HMAC-SHA256 of the user id
with USER_HASH_SECRET from .local/demo.env) work too.

Mint another token:  .venv/bin/python infra/mint_token.py USER_ID [--email E] [--customer cus_...]
                     .venv/bin/python infra/mint_token.py --agent AGENT_ID
Logs: .local/logs/   Stop: Ctrl-C
""")
        print("ready", flush=True)
        while True:
            for name, proc in stack.procs:
                if proc.poll() is not None:
                    print(f"{name} stopped; see .local/logs/{name}.log", file=sys.stderr)
                    return 1
            time.sleep(1)
    except KeyboardInterrupt:
        return 0
    finally:
        stack.down()


if __name__ == "__main__":
    sys.exit(main())
