"""The local API and template.yaml must route the same paths to the same functions."""
import sys
import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "infra"))

import template as tpl  # noqa: E402


def test_every_template_route_is_served_locally_and_nothing_else():
    """Locally each path takes any method (its function answers a wrong one with 405) and a
    catch-all stands for the REST API's greedy `/{proxy+}` and `/`."""
    router = tomllib.loads((ROOT / "Cargo.toml").read_text())["workspace"]["metadata"]["lambda"]["watch"]["router"]
    local = {(path, fn) for path, fn in router.items()}
    template = set()
    for fn in tpl.functions(tpl.load()):
        for method, path in fn["routes"]:
            if path == tpl.FALLBACK:
                assert method == "ANY"
                template |= {("/", fn["binary"]), ("/{*rest}", fn["binary"])}
            else:
                template.add((path, fn["binary"]))
    assert local == template


def test_every_function_crate_is_in_the_template():
    crates = {p.parent.name for p in (ROOT / "functions").glob("*/Cargo.toml")}
    assert crates == {fn["binary"] for fn in tpl.functions(tpl.load())}


def test_what_outlives_the_stack_is_retained():
    """`sam delete` (and a replacement on update) keeps tenants' settings, their user ->
    customer mappings, the audit history and the key their Stripe keys are encrypted under
    (docs/OPERATING.md, Tearing down; make deploy-rehearsal deletes the stack on moto and
    checks these are still there)."""
    resources = tpl.load()["Resources"]
    for name in ("TenantsTable", "ContactsTable", "AuditTable", "TenantKey"):
        assert resources[name].get("DeletionPolicy") == "Retain", name
        assert resources[name].get("UpdateReplacePolicy") == "Retain", name
