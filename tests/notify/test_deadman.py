"""`[notify.deadman]`: every completed `alive check` / `alive watchdog` GETs an outside URL,
so a dead machine is noticed from outside. A loopback stand-in (a real http.server in this
process) plays healthchecks.io; the commands are the real bin/alive."""
import contextlib
import socket
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from conftest import run_alive

UUID = "5f2a8c4e-1b7d-4c39-9e0a-2d6b8f1c7a30"


@contextlib.contextmanager
def stand_in(status=200):
    """A healthchecks stand-in on 127.0.0.1: yields (base URL, list of (method, path, headers))."""
    seen = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(("GET", self.path, dict(self.headers)))
            body = b"OK"
            self.send_response(status)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        do_POST = do_GET

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", seen
    finally:
        server.shutdown()
        server.server_close()


@contextlib.contextmanager
def silent_listener():
    """A port that accepts connections and never answers (a hung outside service)."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()


def closed_port():
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    sock.close()
    return f"http://127.0.0.1:{port}"


def fleet(home, url, extra=""):
    """One task whose last run failed: the check's verdict is RED (exit 2) whatever the ping does."""
    (home / "fleet.toml").write_text(
        '[tasks.backup]\nschedule = "daily 03:00"\n'
        f'[notify.deadman]\nurl = "{url}/ping/{UUID}"\n{extra}')
    assert run_alive("write", "backup", "--status", "error", home=home).returncode == 0


def test_a_completed_check_pings_the_switch_once_and_keeps_its_own_exit_code(home):
    with stand_in() as (base, seen):
        fleet(home, base)
        r = run_alive("check", home=home)
    assert r.returncode == 2, r.stderr                  # backup's last run failed: RED, as without a deadman
    assert [(m, p) for m, p, _ in seen] == [("GET", f"/ping/{UUID}")]
    assert seen[0][2]["User-Agent"] == "alive deadman"
    assert r.stderr == ""


def test_check_json_and_a_watchdog_tick_ping_too_but_a_dry_run_does_not(home):
    with stand_in() as (base, seen):
        fleet(home, base)
        assert run_alive("check", "--json", home=home).returncode == 2
        assert run_alive("watchdog", home=home).returncode == 0
        assert len(seen) == 2
        r = run_alive("watchdog", "--dry-run", home=home)
        assert r.returncode == 0 and len(seen) == 2     # nothing ran: nothing to vouch for


def test_without_a_deadman_nothing_is_sent(home):
    with stand_in() as (base, seen):
        (home / "fleet.toml").write_text('[tasks.backup]\nschedule = "daily 03:00"\n')
        run_alive("check", home=home)
        run_alive("watchdog", home=home)
    assert seen == []


@pytest.mark.parametrize("answer", ["http 500", "refused"])
def test_a_failed_ping_is_one_line_naming_the_host_never_the_url(home, answer):
    with stand_in(status=500) as (base, seen):
        fleet(home, base if answer == "http 500" else closed_port())
        r = run_alive("check", home=home)
    assert r.returncode == 2                            # the verdict's code, not the ping's
    lines = r.stderr.splitlines()
    assert len(lines) == 1 and lines[0].startswith(
        "alive check: the dead man's switch at 127.0.0.1 was not pinged: ")
    assert ("HTTP 500" in lines[0]) == (answer == "http 500")
    assert UUID not in r.stderr and UUID not in r.stdout


def test_a_switch_that_never_answers_holds_the_check_only_for_its_timeout(home):
    with silent_listener() as base:
        fleet(home, base, 'timeout = "1s"\n')
        r = run_alive("watchdog", home=home, timeout=30)
    assert r.returncode == 0
    assert "alive watchdog: the dead man's switch at 127.0.0.1 was not pinged: " in r.stderr
    assert "timed out" in r.stderr


@pytest.mark.parametrize("table, problem", [
    ('[notify.deadman]\ntimeout = "5s"\n', "notify.deadman.url: missing (required"),
    ('[notify.deadman]\nurl = "hc-ping.com/x"\n', "notify.deadman.url: \"hc-ping.com/x\" is not a URL"),
    ('[notify.deadman]\nurl = "https://hc-ping.com/x"\ntimeout = "2m"\n',
     "notify.deadman.timeout: \"2m\" is too long"),
    ('[notify.deadman]\nurl = "https://hc-ping.com/x"\nmethod = "POST"\n', "notify.deadman.method: unknown key"),
])
def test_a_broken_deadman_table_is_refused_with_its_line(home, table, problem):
    (home / "fleet.toml").write_text(table)
    r = run_alive("check", home=home)
    assert r.returncode == 3 and problem in r.stderr, r.stderr
    assert "fleet.toml:" in r.stderr and "Traceback" not in r.stderr


@contextlib.contextmanager
def trickler(every_s=1.5, for_s=12):
    """An endpoint that answers its headers at once, then one byte of its body every
    `every_s` seconds, for at most `for_s` seconds (the test's own bound): each read of the
    client gets a byte well within a per-read timeout, so only an overall deadline ends it."""
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen(8)
    stop = threading.Event()

    def serve():
        sock.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = sock.accept()
            except OSError:
                continue
            threading.Thread(target=drip, args=(conn,), daemon=True).start()

    def drip(conn):
        with conn:
            try:
                conn.recv(65536)
                conn.sendall(b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\nContent-Type: text/plain\r\n\r\n")
                ends = time.monotonic() + for_s
                while not stop.is_set() and time.monotonic() < ends:
                    conn.sendall(b"x")
                    stop.wait(every_s)
            except OSError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        stop.set()
        thread.join(5)
        sock.close()


def test_a_switch_that_trickles_its_answer_is_cut_off_at_one_overall_deadline(home):
    # The per-read timeout (2s) is never hit: a byte comes every 1.5 s. One deadline for
    # the whole request ends it at about 2 s instead of at the end of the trickle.
    with trickler() as base:
        fleet(home, base, 'timeout = "2s"\n')
        started = time.monotonic()
        r = run_alive("check", home=home, timeout=60)
        took = time.monotonic() - started
    assert r.returncode == 2, r.stderr                  # the verdict's code, not the ping's
    assert took < 2 + 4, f"check ran {took:.1f}s with a 2s deadman timeout"   # 4 s: interpreter start-up
    assert "alive check: the dead man's switch at 127.0.0.1 was not pinged: " in r.stderr
    assert "no complete answer within 2s" in r.stderr
