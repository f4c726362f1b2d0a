"""Real peers of the ping endpoint: a healthchecks client library from PyPI, in a throwaway
venv, pointed at a real `alive serve`; and a burst of 1,000 concurrent pings (every host's
cron at :00) against the listen backlog."""
import json
import os
import selectors
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from conftest import run_alive
from test_ping import HC_UUID, KEY, beats
from test_serve import serving

from alive.serve import handler, serve

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "bench"))
from bench import PING_BURST, ping_burst  # noqa: E402  (the same burst `make bench` measures)

# healthchecks-io (PyPI, "A python client package for Healthchecks.io API", 2025): its
# Client.start_ping / success_ping / fail_ping / exit_code_ping POST to <ping_url><key>/<slug>
# or <ping_url><uuid>, plus /start, /fail or /<code>, with no ?rid (client/_abstract.py
# _get_ping_url); 404 or "not found" in the answer raises CheckNotFoundError.
HC_CLIENT = "healthchecks-io==0.4.4"
VENV = Path(os.environ.get("ALIVE_TEST_VENVS", "/tmp/alive-test-venvs")) / "healthchecks-io-0.4.4"


def client_python():
    """The venv's python with the client installed (made once, reused); skip when pip cannot."""
    python = VENV / "bin" / "python"
    if python.exists() and subprocess.run([python, "-c", "import healthchecks_io"], capture_output=True).returncode == 0:
        return python
    made = subprocess.run([sys.executable, "-m", "venv", str(VENV)], capture_output=True, text=True, timeout=120)
    if made.returncode != 0:
        pytest.skip(f"cannot make a venv for {HC_CLIENT}: {made.stderr.strip()[-200:]}")
    pip = subprocess.run([python, "-m", "pip", "install", "-q", HC_CLIENT], capture_output=True, text=True,
                         timeout=300)
    if pip.returncode != 0:
        pytest.skip(f"pip cannot install {HC_CLIENT} (no index reachable?): {pip.stderr.strip()[-200:]}")
    return python


SCRIPT = textwrap.dedent("""
    import json, sys
    from healthchecks_io import Client
    from healthchecks_io.client.exceptions import CheckNotFoundError
    base, key, uuid, step = sys.argv[1:5]
    with Client(ping_key=key, ping_url=base) as hc:
        if step == "start":
            print(json.dumps([hc.start_ping(slug="backup", data="copying\\n")[1]]))
        elif step == "finish":
            print(json.dumps([hc.success_ping(slug="backup", data="42 files\\n")[1],
                              hc.start_ping(uuid=uuid)[1],
                              hc.fail_ping(uuid=uuid, data="Traceback ...\\nOSError: disk full\\n")[1],
                              hc.exit_code_ping(3, slug="backup")[1]]))
        else:
            try:
                hc.success_ping(slug="nosuch")
            except CheckNotFoundError as exc:
                print(json.dumps(["not found"]))
""")


def test_the_healthchecks_io_client_starts_then_succeeds_then_fails_against_alive(home, tmp_path):
    python = client_python()
    script = tmp_path / "hc_client.py"
    script.write_text(SCRIPT)
    (home / "fleet.toml").write_text(f'[tasks.backup]\nmax_runtime = "1h"\nping_uuid = "{HC_UUID}"\n')

    def client(server, step):
        r = subprocess.run([python, str(script), f"http://{server[0]}:{server[1]}/ping/", KEY, HC_UUID, step],
                           capture_output=True, text=True, timeout=60)
        assert r.returncode == 0, r.stderr[-2000:]
        return json.loads(r.stdout)

    with serving(home, env={"ALIVE_PING_KEY": KEY}) as s:
        assert client(s, "start") == ["OK"]                                 # a plain /start, no rid
        marker = json.loads((home / "state" / "running" / "backup@ping.json").read_text())
        check = json.loads(run_alive("check", "--json", home=home).stdout)
        [item] = check["items"]
        assert item["running_since"] == marker["started_at"] and item["color"] == "GREEN"
        time.sleep(1.1)
        assert client(s, "finish") == ["OK"] * 4
        assert client(s, "unknown") == ["not found"]
    done, failed, exited = beats(home)
    assert done["status"] == "ok" and done["started_at"] == marker["started_at"] and done["duration_s"] >= 1
    assert done["output_tail"] == "copying\n42 files\n" and done["run_id"] == marker["run_id"]
    assert failed["status"] == "error" and failed["errors"] == ["OSError: disk full"]
    assert failed["duration_s"] is not None and failed["duration_s"] >= 0
    assert (exited["status"], exited["exit_code"]) == ("error", 3)
    assert not (home / "state" / "running" / "backup@ping.json").exists()
    assert not list((home / "state").glob("running/*.corrupt-*"))


# ---- a burst at :00 ---------------------------------------------------------------------

def established(server_address, n, wait_s=2.0):
    """How many of n connections the kernel completes while nobody accepts them."""
    sel, socks = selectors.DefaultSelector(), []
    try:
        for _ in range(n):
            sock = socket.socket()
            sock.setblocking(False)
            sock.connect_ex(server_address)
            sel.register(sock, selectors.EVENT_WRITE)
            socks.append(sock)
        done, deadline = set(), time.monotonic() + wait_s
        while len(done) < n and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=0.1):
                if key.fileobj.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR) == 0:
                    done.add(key.fileobj)
                sel.unregister(key.fileobj)
        return len(done)
    finally:
        for sock in socks:
            sock.close()
        sel.close()


def test_the_listen_backlog_holds_a_burst_while_the_server_is_busy():
    # socketserver's default backlog is 5: the 6th connection of a burst waits for SYN retries
    server = serve.Server(("127.0.0.1", 0), handler.Handler, bind_and_activate=True)
    try:
        assert established(server.server_address, 300) == 300
    finally:
        server.server_close()


def test_a_burst_of_1000_concurrent_pings_is_answered_and_recorded_every_one(home):
    with serving(home, env={"ALIVE_PING_KEY": KEY}) as s:
        paths = [f"/ping/{KEY}/host-{n:04d}?create=1" for n in range(PING_BURST)]
        answers, late, wall = ping_burst(s[0], s[1], paths, timeout_s=60)
    assert late == [] and sorted(set(answers.values())) == [201], (len(late), wall)
    assert len(list((home / "health").glob("*_host-*_[0-9][0-9][0-9][0-9].json"))) == PING_BURST
