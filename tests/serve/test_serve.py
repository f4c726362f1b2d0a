"""`alive serve`: a real server process on 127.0.0.1, port 0, spoken to over real sockets."""
import contextlib
import http.client
import json
import os
import re
import select
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timezone

import pytest
from conftest import ALIVE, run_alive
from helpers import queued

from alive.write import heartbeat

FLEET = ('[sources.track]\npath = "track.json"\nmax_age = "15m"\n'
         '[sources."sales.eu"]\npath = "sales.json"\nmax_age = "1h"\n'
         '[serve]\ntoken_env = "TEST_SERVE_TOKEN"\n')
TOKEN = "s3cret-bearer-token"


@contextlib.contextmanager
def serving(home, *args, env=None):
    """Start `alive serve --port 0`; yield (host, port, process); stop it with SIGTERM."""
    full = dict(os.environ, ALIVE_HOME=str(home), **(env or {}))
    full.pop("ALIVE_CONFIG", None)
    log = open(home.parent / "serve.log", "w")      # a file, not a pipe nobody reads: never blocks the server
    proc = subprocess.Popen([sys.executable, str(ALIVE), "serve", "--port", "0", *args], stdout=subprocess.PIPE,
                            stderr=log, text=True, env=full)
    try:
        ready, _, _ = select.select([proc.stdout], [], [], 20)
        assert ready, "alive serve printed nothing in 20 s"
        line = proc.stdout.readline()
        m = re.match(r"alive serve: http://127\.0\.0\.1:(\d+)/ ", line)
        assert m, line
        yield "127.0.0.1", int(m.group(1)), proc
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=15)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=5)
        log.close()


@pytest.fixture
def server(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, env={"TEST_SERVE_TOKEN": TOKEN}) as s:
        yield s


def request(server, method, path, body=None, headers=None, timeout=10):
    """(status, headers, body text) of one request, the path sent exactly as given."""
    host, port, _ = server
    conn = http.client.HTTPConnection(host, port, timeout=timeout)
    try:
        conn.putrequest(method, path, skip_accept_encoding=True, skip_host="Host" in (headers or {}))
        data = body.encode() if isinstance(body, str) else body
        for k, v in (headers or {}).items():
            conn.putheader(k, v)
        if data is not None:
            conn.putheader("Content-Length", str(len(data)))
            conn.putheader("Content-Type", "application/x-www-form-urlencoded")
        conn.endheaders(data)
        r = conn.getresponse()
        return r.status, dict(r.getheaders()), r.read().decode()
    finally:
        conn.close()


def csrf(server):
    status, _, page = request(server, "GET", "/")
    assert status == 200
    tokens = set(re.findall(r'<input type="hidden" name="csrf" value="([^"]+)"><button type="submit" id="trigger-', page))
    assert len(tokens) == 1
    return tokens.pop()


# ---- pages ------------------------------------------------------------------------

def test_healthz_status_json_and_the_dashboard(server, home):
    assert request(server, "GET", "/healthz")[::2] == (200, "ok\n")
    status, headers, body = request(server, "GET", "/status.json")
    doc = json.loads(body)
    assert status == 200 and headers["Content-Type"] == "application/json"
    assert {i["name"] for i in doc["items"]} == {"track", "sales.eu", "alive-watchdog"}
    status, headers, page = request(server, "GET", "/?utm=x")
    assert status == 200 and headers["Content-Type"] == "text/html; charset=utf-8"
    assert 'id="badge"' in page and '<meta http-equiv="refresh"' not in page and 'data-poll="15"' in page
    assert "frame-ancestors 'none'" in headers["Content-Security-Policy"]
    assert request(server, "GET", "/nope")[0] == 404


def test_every_form_carries_the_same_token_and_it_differs_per_process(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home) as one:
        first = csrf(one)
        assert csrf(one) == first and len(first) >= 32
    with serving(home) as two:
        assert csrf(two) != first


def test_the_page_is_rendered_again_after_at_most_2_seconds(server, home):
    request(server, "GET", "/")
    heartbeat.write(home / "health", heartbeat.build("late-task", datetime.now(timezone.utc)))
    time.sleep(2.1)
    assert 'data-item="task:late-task"' in request(server, "GET", "/")[2]


def test_a_foreign_host_header_is_refused_while_bound_to_loopback(server):
    assert request(server, "GET", "/", headers={"Host": "evil.example:8765"})[0] == 403
    assert request(server, "GET", "/healthz", headers={"Host": "localhost:1"})[0] == 200


# ---- POST /trigger/<source> ---------------------------------------------------------

def test_a_form_post_with_the_token_queues_and_redirects_back(server, home):
    token = csrf(server)
    status, headers, _ = request(server, "POST", "/trigger/track", body=f"csrf={token}")
    assert status == 303 and headers["Location"] == "/#trigger-track"     # the focus back on the button
    [name] = queued(home)
    request_doc = json.loads((home / "triggers" / name).read_text())
    assert request_doc["source"] == "track" and request_doc["origin"] == "serve/form"
    assert "refresh queued" in request(server, "GET", "/")[2]       # the cache was dropped


def test_a_post_without_or_with_a_wrong_token_is_403(server, home):
    token = csrf(server)
    assert request(server, "POST", "/trigger/track", body="")[0] == 403
    assert request(server, "POST", "/trigger/track", body="csrf=")[0] == 403
    assert request(server, "POST", "/trigger/track", body="csrf=" + token[:-1] + "x")[0] == 403
    assert request(server, "POST", "/trigger/track", body="other=" + token)[0] == 403
    assert request(server, "POST", "/trigger/track", body=f"csrf={token}",
                   headers={"Authorization": "Bearer wrong"})[0] == 403      # a bad bearer is not rescued
    assert queued(home) == []


def test_a_bearer_token_from_the_environment_works_without_a_form(server, home):
    assert request(server, "POST", "/trigger/sales.eu", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 303
    assert request(server, "POST", "/trigger/sales.eu", headers={"Authorization": f"Basic {TOKEN}"})[0] == 403
    assert request(server, "POST", "/trigger/sales.eu", headers={"Authorization": f"Bearer {TOKEN}x"})[0] == 403
    [name] = queued(home)
    assert json.loads((home / "triggers" / name).read_text())["origin"] == "serve/bearer"


def test_no_bearer_is_accepted_when_no_token_is_configured(home):
    (home / "fleet.toml").write_text(FLEET)
    with serving(home, env={"TEST_SERVE_TOKEN": ""}) as s:
        assert request(s, "POST", "/trigger/track", headers={"Authorization": "Bearer "})[0] == 403
        assert request(s, "POST", "/trigger/track", headers={"Authorization": "Bearer"})[0] == 403
    assert queued(home) == []


def test_an_unknown_source_is_404_before_any_token_check(server, home):
    assert request(server, "POST", "/trigger/nope")[0] == 404
    assert request(server, "POST", "/trigger/nope", headers={"Authorization": f"Bearer {TOKEN}"})[0] == 404
    assert queued(home) == []


@pytest.mark.parametrize("path", [
    "/trigger/../../x", "/trigger/..%2F..%2Fx", "/trigger/%2e%2e", "/trigger/track/../../x",
    "/trigger/track%2F..%2F..%2Fx", "/trigger/", "/trigger", "/trigger//track", "/trigger/track/",
    "/trigger/TRACK", "/trigger/track%00", "/trigger/sales%2Eeu", "/trigger/./track", "/x/../trigger/track"])
def test_path_tricks_never_touch_the_filesystem(server, home, path):
    before = sorted(p.relative_to(home.parent) for p in home.parent.rglob("*"))
    status, _, _ = request(server, "POST", path, body="", headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 404
    after = sorted(p.relative_to(home.parent) for p in home.parent.rglob("*"))
    assert after == before                             # not a file more, anywhere around the home
    assert queued(home) == []


def test_bodies_over_16_KiB_are_refused_before_they_are_read(server, home):
    token = csrf(server)
    exactly = f"csrf={token}&pad=" + "x" * (16 * 1024 - len(f"csrf={token}&pad="))
    assert len(exactly) == 16 * 1024
    assert request(server, "POST", "/trigger/track", body=exactly)[0] == 303
    # one byte more: the headers alone get the answer (the server reads no body at all)
    host, port, _ = server
    with socket.create_connection((host, port), timeout=5) as s:
        s.sendall(f"POST /trigger/track HTTP/1.1\r\nHost: {host}\r\nContent-Length: {16 * 1024 + 1}\r\n\r\n".encode())
        started = time.monotonic()
        answer = s.recv(4096).decode()
    assert answer.startswith("HTTP/1.0 413") and time.monotonic() - started < 3
    assert len(queued(home)) == 1


def test_a_bad_content_length_is_400(server):
    assert request(server, "POST", "/trigger/track", headers={"Content-Length": "-5"})[0] == 400
    assert request(server, "POST", "/trigger/track", headers={"Content-Length": "abc"})[0] == 400


# ---- slow and hostile clients ---------------------------------------------------------

def test_a_client_that_connects_and_says_nothing_does_not_block_others(server):
    host, port, _ = server
    silent = [socket.create_connection((host, port), timeout=30) for _ in range(3)]
    half = socket.create_connection((host, port), timeout=30)
    half.sendall(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n")          # headers never finished
    try:
        started = time.monotonic()
        assert request(server, "GET", "/healthz", timeout=5)[0] == 200
        assert request(server, "GET", "/", timeout=5)[0] == 200
        assert time.monotonic() - started < 3
    finally:
        for s in silent + [half]:
            s.close()


def test_a_silent_connection_is_closed_by_the_server_after_its_timeout(server):
    host, port, _ = server
    with socket.create_connection((host, port), timeout=20) as s:
        started = time.monotonic()
        assert s.recv(1024) == b""                      # the server hung up on us
        assert 8 < time.monotonic() - started < 16      # after its 10 s timeout, not at once


# ---- binding and stopping -----------------------------------------------------------------

@pytest.mark.parametrize("bind", ["0.0.0.0", "192.168.1.5", "::", "example.com"])
def test_a_non_loopback_bind_is_refused_without_allow_remote(home, bind):
    r = run_alive("serve", "--bind", bind, "--port", "0", home=home, timeout=20)
    assert r.returncode == 3 and r.stderr.count("\n") == 1
    assert "not a loopback address" in r.stderr and "--allow-remote" in r.stderr and r.stdout == ""


def test_allow_remote_needs_a_token(home):
    r = run_alive("serve", "--bind", "0.0.0.0", "--port", "0", "--allow-remote", home=home, timeout=20)
    assert r.returncode == 3 and "serve.token_env is not set" in r.stderr
    (home / "fleet.toml").write_text(FLEET)
    r = run_alive("serve", "--bind", "0.0.0.0", "--port", "0", "--allow-remote", home=home, timeout=20,
                  env={"TEST_SERVE_TOKEN": ""})
    assert r.returncode == 3 and "$TEST_SERVE_TOKEN is empty" in r.stderr


def test_a_port_in_use_is_exit_1_in_one_line(home):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen(1)
        r = run_alive("serve", "--port", str(taken.getsockname()[1]), home=home, timeout=20)
    assert r.returncode == 1 and "cannot listen on 127.0.0.1" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_sigterm_and_sigint_stop_it_cleanly(home, sig):
    with serving(home) as (host, port, proc):
        assert request((host, port, proc), "GET", "/healthz")[0] == 200
        proc.send_signal(sig)
        assert proc.wait(timeout=10) == 0
        assert "alive serve: stopped" in proc.stdout.read()
    with pytest.raises(OSError):
        socket.create_connection((host, port), timeout=2).close()


def test_a_trigger_queue_that_cannot_be_reached_is_503_with_a_line_in_the_log(home):
    """http-kv whose token variable is unset: the button gets 503, the log says why."""
    (home / "fleet.toml").write_text(FLEET + '[triggers]\nbackend = "http-kv"\n[triggers.http_kv]\n'
                                     'url = "http://127.0.0.1:9/kv"\ntoken_env = "TEST_KV_TOKEN_UNSET"\n')
    with serving(home, env={"TEST_SERVE_TOKEN": TOKEN}) as s:
        status, _, body = request(s, "POST", "/trigger/track", body="",
                                  headers={"Authorization": f"Bearer {TOKEN}"})
    assert status == 503 and "cannot reach the trigger queue" in body
    log = (home.parent / "serve.log").read_text()
    assert "TEST_KV_TOKEN_UNSET" in log and "Traceback" not in log
