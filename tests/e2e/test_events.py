"""events/: one API Gateway (REST API, proxy integration) event per function, filled by infra/event.py and run
through `cargo lambda invoke` against the local stack's function processes, as `sam local
invoke -e` would run them: each answers as its route does over HTTP."""
import json
import subprocess
import tempfile
from urllib.parse import urlparse

import pytest
from conftest import ENV

import event as ev
import stack as st
import template as tpl

FUNCTIONS = tpl.functions(tpl.load())


def test_there_is_one_event_per_function_and_it_matches_the_generator():
    names = sorted(p.stem for p in ev.EVENTS.glob("*.json"))
    assert names == sorted(f["binary"] for f in FUNCTIONS)
    for fn in FUNCTIONS:
        doc = json.loads((ev.EVENTS / f"{fn['binary']}.json").read_text())
        assert doc == ev.of(fn), f"events/{fn['binary']}.json is stale: run infra/event.py --write"


@pytest.mark.parametrize("fn", FUNCTIONS, ids=lambda f: f["binary"])
def test_each_event_runs_through_cargo_lambda_invoke(fn):
    filled = ev.fill((ev.EVENTS / f"{fn['binary']}.json").read_text(), dict(ENV))
    assert "{{" not in filled
    port = str(urlparse(ENV["API_URL"]).port)
    with tempfile.NamedTemporaryFile("w", suffix=".json") as f:
        f.write(filled)
        f.flush()
        out = subprocess.run(
            [str(st.VENV_BIN / "cargo-lambda"), "lambda", "invoke", fn["binary"],
             "--invoke-address", "127.0.0.1", "--invoke-port", port, "--data-file", f.name,
             "--output-format", "json"],
            capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    answer = json.loads(out.stdout)
    if not fn["routes"]:
        # A scheduled scan answers its report.
        assert answer["errors"] == 0 and answer["tenants"] >= 1, answer
        return
    heads = {**{k: v[0] for k, v in (answer.get("multiValueHeaders") or {}).items()}, **(answer.get("headers") or {})}
    kind = heads.get("content-type", "")
    route = fn["routes"][0][1]
    if st.is_page(route):
        # The faces and the pay-now page are a page or a script, not JSON.
        assert answer["statusCode"] == st.expected_status(route), answer
        assert st.answered_well(route, answer["body"]), answer
        assert kind.startswith("text/javascript" if fn["binary"] == "widget-script" else "text/html"), kind
        return
    body = json.loads(answer["body"])
    route = fn["routes"][0][1]
    assert answer["statusCode"] == st.expected_status(route), body
    if fn["binary"] == "route-fallback":
        assert body["error"]["code"] == "not_found", body
    else:
        assert st.answered_well(route, body), body
