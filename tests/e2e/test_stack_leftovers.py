"""infra/stack.py stops what a SIGKILLed earlier run left behind (listed in its pidfile),
and names, without touching it, any other process holding a port the stack needs. Plays
both with a throwaway HTTP server on ports apart from every stack's."""
import json
import socket
import subprocess
import sys
import time

import pytest

import stack as st

PORT_A, PORT_B = 12199, 5099


def listener(port: int) -> subprocess.Popen:
    """A long-running server in its own session, as the stack spawns its processes."""
    assert st.port_free(port), f"port {port} is taken before the test; free it to run this test"
    proc = subprocess.Popen([sys.executable, "-m", "http.server", str(port), "--bind", "127.0.0.1"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    deadline = time.monotonic() + 5
    while time.monotonic() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return proc
        time.sleep(0.05)
    proc.kill()
    raise AssertionError(f"the test server did not listen on {port}")


@pytest.fixture
def servers():
    """Starts test servers; stops whichever are still running at the end."""
    procs = []

    def start(port: int) -> subprocess.Popen:
        procs.append(listener(port))
        return procs[-1]

    yield start
    for p in procs:
        if p.poll() is None:
            p.kill()
        p.wait(timeout=5)


def test_a_leftover_is_stopped_and_its_port_freed(tmp_path, servers):
    pidfile = tmp_path / "stack.pids"
    st.record_process(pidfile, "owner", 999999999)  # the killed run: long gone
    left = servers(PORT_A)
    st.record_process(pidfile, "stripe-emulator", left.pid)

    st.stop_leftovers(pidfile)

    assert left.wait(timeout=5) is not None
    assert not pidfile.exists()
    st.check_ports_free({"stripe-emulator": PORT_A})


def test_a_foreign_listener_is_named_and_left_alone(tmp_path, servers):
    pidfile = tmp_path / "stack.pids"
    foreign = servers(PORT_B)
    # Its pid as recorded for an earlier process that had it: a recycled pid is no leftover.
    st.record_process(pidfile, "moto", foreign.pid)
    rec = json.loads(pidfile.read_text())
    pidfile.write_text(json.dumps({**rec, "start": rec["start"] - 1}) + "\n")

    st.stop_leftovers(pidfile)
    with pytest.raises(SystemExit) as e:
        st.check_ports_free({"stripe-emulator": PORT_A, "moto": PORT_B})

    msg = str(e.value)
    assert f"port {PORT_B} (moto)" in msg and f"pid {foreign.pid}" in msg and "http.server" in msg, msg
    assert str(PORT_A) not in msg
    assert foreign.poll() is None, "a process not started by the stack was stopped"


def test_a_running_stack_is_not_disturbed(tmp_path, servers):
    pidfile = tmp_path / "stack.pids"
    st.record_process(pidfile, "owner", servers(PORT_A).pid)  # stands in for a live stack.py
    child = servers(PORT_B)
    st.record_process(pidfile, "moto", child.pid)

    with pytest.raises(SystemExit, match="another stack"):
        st.stop_leftovers(pidfile)

    assert child.poll() is None
    assert pidfile.exists()
