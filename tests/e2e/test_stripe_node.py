"""The emulator driven by Stripe's official Node library too (tests/node, stripe-node
pinned in its package-lock.json): create, list with auto-paging, an idempotent replay, an
error, and webhooks.constructEvent. infra/bootstrap.sh installs it."""
import os
import shutil
import subprocess
from pathlib import Path

import pytest

from test_stripe_fidelity import BASE

NODE_DIR = Path(__file__).resolve().parents[1] / "node"


def test_stripe_node_drives_the_emulator():
    node = shutil.which("node")
    if not node or not (NODE_DIR / "node_modules" / "stripe").exists():
        pytest.fail("stripe-node is not installed: run infra/bootstrap.sh (it needs node and npm)")
    run = subprocess.run([node, "--test", "sdk.test.js"], cwd=NODE_DIR, capture_output=True, text=True,
                         timeout=120, env={**os.environ, "STRIPE_API_BASE": BASE})
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
