"""Faults from outside, with real processes and real files: the notification server down,
slow, 500, 429; a producer that hangs (one that even ignores SIGTERM); a full disk.

Each fault must give one clear line (stderr or logs/notify.log), leave every file that was
already on disk byte-identical, leave no temp file behind, and the next run, once the
world is healthy again, must recover by itself: a queued notification is delivered
exactly once, a source is refreshed, an alert file written.

The disk is a real tmpfs of 1 MiB (the tests run as root) filled to the last byte, so a
write fails with ENOSPC for real; where mount is refused, RLIMIT_FSIZE = 0 on the
processes under test stands in (writes fail with EFBIG). The "only state/ unwritable"
variant needs the mount (state/ becomes its own read-only tmpfs) and is skipped without it.
"""
import errno
import json
import os
import re
import resource
import signal
import subprocess
import sys
import threading
import time
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
ALIVE = ROOT / "bin" / "alive"
sys.path.insert(0, str(LIB))
sys.path.insert(0, str(ROOT / "tests"))
from wdkit import HEAD  # noqa: E402
from helpers import iso  # noqa: E402

STEP_TIMEOUT_S = 60   # no single process in this file may take longer
TOKEN_ENV, TOKEN = "ALIVE_FAULT_NTFY_TOKEN", "tk_fault-0123456789abcdef"
SLOW_S = 4            # the slow server answers after this ...
CLIENT_TIMEOUT_S = 1  # ... and the client gives up after this (see alive_slow_client)


def run(home, *args, preexec=None, timeout=STEP_TIMEOUT_S, argv=None):
    """bin/alive as a real process, ALIVE_DEBUG and proxies unset, the ntfy token set."""
    env = {k: v for k, v in os.environ.items()
           if k not in ("ALIVE_CONFIG", "ALIVE_DEBUG") and not k.lower().endswith("_proxy")}
    env.update(ALIVE_HOME=str(home), **{TOKEN_ENV: TOKEN})
    r = subprocess.run((argv or [sys.executable, str(ALIVE)]) + [str(a) for a in args], capture_output=True,
                       text=True, env=env, timeout=timeout, preexec_fn=preexec)
    for stream in (r.stdout, r.stderr):
        assert "Traceback" not in stream and "internal error" not in stream, stream[-3000:]
        assert TOKEN not in stream
    return r


def alive_slow_client(seconds):
    """bin/alive's own code with the ntfy timeout shortened from 10 s (a constant, no option)."""
    code = ("import sys; sys.path.insert(0, sys.argv[1]); from alive import cli; from alive.notify import ntfy; "
            "ntfy.NTFY_TIMEOUT_S = float(sys.argv[2]); sys.exit(cli.main(sys.argv[3:]))")
    return [sys.executable, "-c", code, str(LIB), str(seconds)]


def snapshot(root, skip=()):
    """{relative path: bytes (files) or link target}: what must stay byte-identical."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in files + [d for d in dirs if os.path.islink(os.path.join(folder, d))]:
            path = os.path.join(folder, name)
            rel = os.path.relpath(path, root)
            if rel in skip:
                continue
            out[rel] = ("link", os.readlink(path)) if os.path.islink(path) else open(path, "rb").read()
    return out


def temp_files(root):
    return sorted(os.path.relpath(os.path.join(f, n), root) for f, ds, ns in os.walk(root) for n in ns + ds
                  if n.startswith("."))


def stderr_lines(r):
    return [ln for ln in r.stderr.splitlines() if ln.strip()]


# ================================================================ the ntfy stand-in

class Ntfy:
    """A real HTTP server on 127.0.0.1. mode: "200", "500", "429", "slow" (answers 200 after
    SLOW_S), "down" (the port is closed: stop() was called)."""

    def __init__(self):
        self.mode, self.port, self.requests = "200", 0, []
        self.release = threading.Event()
        self.server = self.thread = None

    def start(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode("utf-8")
                mode = fake.mode
                fake.requests.append({"mode": mode, "headers": dict(self.headers.items()), "body": body,
                                      "path": self.path})
                if mode == "slow":
                    fake.release.wait(SLOW_S)
                    mode = "200"
                code = int(mode)
                text = json.dumps({"id": "x", "code": code}).encode()
                try:
                    self.send_response(code)
                    self.send_header("Content-Length", str(len(text)))
                    self.end_headers()
                    self.wfile.write(text)
                except OSError:  # the client gave up first
                    pass

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self.thread.start()

    def stop(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(10)
        self.release.clear()
        self.server = None

    @property
    def url(self):
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture
def ntfy():
    fake = Ntfy()
    fake.start()
    yield fake
    if fake.server is not None:
        fake.stop()


REASON = {  # what the one line must say for each trouble
    "down": r"URLError: \[Errno 111\] Connection refused",
    "slow": r"timed out",
    "500": r"HTTP 500",
    "429": r"HTTP 429",
}


def outbox(home):
    path = home / "state" / "outbox.json"
    return json.loads(path.read_text())["messages"] if path.exists() else []


def notify_log(home):
    path = home / "logs" / "notify.log"
    return path.read_text().splitlines() if path.exists() else []


@pytest.mark.parametrize("trouble", ["down", "slow", "500", "429"])
def test_ntfy_trouble_is_one_line_keeps_the_message_and_the_next_healthy_run_delivers_it_once(
        tmp_path, ntfy, trouble):
    home = tmp_path / "home"
    home.mkdir()
    (home / "fleet.toml").write_text(
        '[tasks.backup]\nschedule = "daily 03:00"\n\n[notify]\nrenotify = "60m"\n\n'
        f'[notify.ntfy]\nserver = "{ntfy.url}"\ntopic = "fleet"\ntoken_env = "{TOKEN_ENV}"\npriority = "high"\n')
    assert run(home, "write", "backup", "--status", "error", "--summary", "nas: disk full").returncode == 0
    assert run(home, "write", "etl").returncode == 0
    before = snapshot(home)
    argv = alive_slow_client(CLIENT_TIMEOUT_S) if trouble == "slow" else None
    if trouble == "down":
        ntfy.stop()
    else:
        ntfy.mode = trouble

    # two runs in trouble: one clear line each, the message kept (once), nothing else touched
    for attempt in (1, 2):
        t0 = time.monotonic()
        r = run(home, "check", "--notify", argv=argv)
        took = time.monotonic() - t0
        assert r.returncode == 2, r.stderr          # the check still says RED
        assert re.search(r"^RED +task +backup ", r.stdout, re.M) and "overall: RED" in r.stdout
        assert "notifications: 0 sent, 1 waiting in the outbox, 0 dropped" in r.stdout
        lines = stderr_lines(r)
        assert len(lines) == 1 and lines[0].startswith("alive: notify: ntfy: not delivered, kept for the next run: ")
        assert re.search(REASON[trouble], lines[0]), lines[0]
        if trouble == "slow":
            assert CLIENT_TIMEOUT_S <= took < SLOW_S + 3, took  # it gave up at its timeout
        queued = outbox(home)
        assert len(queued) == 1 and queued[0]["attempts"] == attempt and queued[0]["delivered"] == {}
        assert re.search(REASON[trouble], queued[0]["last_error"])
        log = notify_log(home)
        assert sum(" queued task:backup/red/" in ln for ln in log) == 1
        assert sum(1 for ln in log if " retry-later ntfy task:backup/red/" in ln and re.search(REASON[trouble], ln)) \
            == attempt
        after = snapshot(home)
        assert {k: v for k, v in after.items() if k in before} == before  # heartbeats, fleet.toml: intact
        assert temp_files(home) == []
    assert len(ntfy.requests) == (0 if trouble == "down" else 2)
    alert = (home / "alerts" / "backup.alert").read_bytes()

    # healthy again: the next run delivers it by itself, once
    if trouble == "down":
        ntfy.start()                    # the same port
    ntfy.release.set()                  # a slow answer still pending is let go
    ntfy.mode = "200"
    seen = len(ntfy.requests)
    r = run(home, "check", "--notify", argv=argv)
    assert r.returncode == 2 and r.stderr == "", r.stderr
    assert "notifications: 1 sent, 0 waiting in the outbox, 0 dropped" in r.stdout
    new = ntfy.requests[seen:]
    assert len(new) == 1 and new[0]["mode"] == "200" and new[0]["path"] == "/fleet"
    assert new[0]["headers"]["Title"] == "RED: task backup" and "nas: disk full" in new[0]["body"]
    assert new[0]["headers"]["Authorization"] == f"Bearer {TOKEN}" and new[0]["headers"]["Priority"] == "high"
    assert outbox(home) == []
    assert sum(" sent ntfy task:backup/red/" in ln for ln in notify_log(home)) == 1

    # and never again
    r = run(home, "check", "--notify", argv=argv)
    assert r.returncode == 2 and "notifications: 0 sent, 0 waiting in the outbox, 0 dropped" in r.stdout
    assert len(ntfy.requests) == seen + 1
    assert (home / "alerts" / "backup.alert").read_bytes() == alert  # the same RED spell, the same since
    for path in [home / "state" / "outbox.json", home / "state" / "notify.json", home / "logs" / "notify.log"]:
        assert TOKEN not in path.read_text()


# ================================================================ a producer that hangs

STUBBORN = ('import signal, subprocess\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\n'
            'child = subprocess.Popen(["sleep", "60"])\n'
            'open(os.path.join(HOME, "stubborn.pids"), "w").write(f"{os.getpid()} {child.pid}")\n'
            'while True:\n    time.sleep(1)\n')
HANG = ('import subprocess\nchild = subprocess.Popen(["sleep", "60"])\n'
        'open(os.path.join(HOME, "hang.pids"), "w").write(f"{os.getpid()} {child.pid}")\n'
        'time.sleep(60)\n')
GOOD = 'write_data({"captured_at": now_iso(), "rows": 3})\n'


def producer(home, name, body):
    path = home / name
    path.write_text(HEAD + body)
    path.chmod(0o755)


def gone(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    try:  # a zombie is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] == "Z"
    except OSError:
        return True


def source_state(home, name):
    return json.loads((home / "state" / "watchdog.json").read_text())["sources"][name]


def test_a_hanging_producer_is_killed_at_its_timeout_and_the_tick_goes_on(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    producer(home, "hang.py", HANG)
    producer(home, "stubborn.py", STUBBORN)   # ignores SIGTERM: SIGKILL 5 s later
    producer(home, "good.py", GOOD)
    (home / "fleet.toml").write_text("".join(
        f'[sources.{name}]\npath = "{name}.json"\nmax_age = "15m"\nproducer = ["./{script}"]\ntimeout = "1s"\n\n'
        for name, script in (("a_hang", "hang.py"), ("b_stubborn", "stubborn.py"), ("c_good", "good.py"))))
    old = json.dumps({"captured_at": iso(datetime.now(timezone.utc) - timedelta(hours=2))}).encode()
    for name in ("a_hang", "b_stubborn", "c_good"):
        (home / f"{name}.json").write_bytes(old)

    t0 = time.monotonic()
    r = run(home, "watchdog", timeout=40)
    took = time.monotonic() - t0
    assert r.returncode == 1, r.stdout + r.stderr
    assert 2 <= took < 20, took              # 1 s + (1 s + 5 s grace), not 60 s
    killed = "producer timed out after 1s and was killed"
    for name in ("a_hang", "b_stubborn"):
        assert f"FAILED {name} after 1 attempt: {killed} (1 in a row, alert after 1)" in r.stdout
        assert source_state(home, name)["last_error"] == killed
        assert (home / f"{name}.json").read_bytes() == old   # the data on disk: untouched
    assert "refreshed c_good" in r.stdout and source_state(home, "c_good")["consecutive_failures"] == 0
    assert "3 sources: 0 fresh, 3 stale; 1 refreshed, 2 failed" in r.stdout
    beat = json.loads((home / "health" / "alive-watchdog_latest.json").read_text())
    # partial, not error: the failed sources are RED and notified themselves (issue 10.8)
    assert beat["status"] == "partial" and beat["errors"] == [f"a_hang: {killed}", f"b_stubborn: {killed}"]
    pids = [int(p) for f in ("hang.pids", "stubborn.pids") for p in (home / f).read_text().split()]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and not all(gone(p) for p in pids):
        time.sleep(0.05)
    assert all(gone(p) for p in pids), [p for p in pids if not gone(p)]   # producers and their children
    check = run(home, "check", "--json")
    colors = {i["name"]: i["color"] for i in json.loads(check.stdout)["items"]}
    assert colors == {"a_hang": "RED", "b_stubborn": "RED", "c_good": "GREEN", "alive-watchdog": "YELLOW"}

    # the producers are mended: the next tick refreshes them by itself
    producer(home, "hang.py", GOOD)
    producer(home, "stubborn.py", GOOD)
    r = run(home, "watchdog", timeout=40)
    assert r.returncode == 0 and r.stderr == "", r.stdout + r.stderr
    assert "3 sources: 1 fresh, 2 stale; 2 refreshed" in r.stdout
    for name in ("a_hang", "b_stubborn"):
        entry = source_state(home, name)
        assert entry["consecutive_failures"] == 0 and entry["last_error"] is None
    check = run(home, "check")
    assert check.returncode == 0 and "overall: GREEN" in check.stdout, check.stdout


# ================================================================ a full disk

class Disk:
    """A small filesystem that can be filled to the last byte and freed again."""

    def __init__(self, root, mode, why=None):
        self.root, self.mode, self.why = root, mode, why
        self.full = False
        self.strerror = os.strerror(errno.ENOSPC if mode == "tmpfs" else errno.EFBIG)

    def fill(self):
        if self.mode == "tmpfs":
            fd = os.open(self.root / ".filler", os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                for size in (1 << 16, 4096, 1):
                    try:
                        while True:
                            os.write(fd, b"\0" * size)
                    except OSError as exc:
                        assert exc.errno == errno.ENOSPC, exc
            finally:
                os.close(fd)
            with pytest.raises(OSError) as err:  # really full: one byte in a new file fails
                with open(self.root / "probe", "wb", buffering=0) as f:
                    f.write(b"x")
            assert err.value.errno == errno.ENOSPC
            os.unlink(self.root / "probe")
        self.full = True

    def free(self):
        if self.mode == "tmpfs":
            os.unlink(self.root / ".filler")
        self.full = False

    def preexec(self):
        """For subprocess: the RLIMIT_FSIZE stand-in while 'full' (nothing with a tmpfs)."""
        if self.mode != "rlimit" or not self.full:
            return None

        def limit():
            signal.signal(signal.SIGXFSZ, signal.SIG_IGN)   # EFBIG instead of being killed
            resource.setrlimit(resource.RLIMIT_FSIZE, (0, 0))
        return limit


def mount_tmpfs(path, size="1m"):
    """-> None when mounted, else why not."""
    try:
        r = subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size},mode=0755", "tmpfs", str(path)],
                           capture_output=True, text=True, timeout=20)
    except (OSError, subprocess.SubprocessError) as exc:
        return f"mount could not run: {exc}"
    return None if r.returncode == 0 else f"mount -t tmpfs refused: {r.stderr.strip() or r.returncode}"


def unmount(path):
    if subprocess.run(["umount", str(path)], capture_output=True, timeout=20).returncode != 0:
        subprocess.run(["umount", "-l", str(path)], capture_output=True, timeout=20)


@pytest.fixture
def disk(tmp_path):
    root = tmp_path / "disk"
    root.mkdir()
    why = mount_tmpfs(root)
    d = Disk(root, "tmpfs" if why is None else "rlimit", why)
    yield d
    if d.mode == "tmpfs":
        unmount(root)


MAKE_DATA = f"""#!{sys.executable}
# A careful producer: writes its data file atomically, and cleans up when it cannot.
import datetime, json, os, sys
path = os.environ["ALIVE_SOURCE_PATH"]
tmp = path + ".part"
stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
try:
    with open(tmp, "w") as f:
        json.dump({{"captured_at": stamp, "rows": 42}}, f)
    os.replace(tmp, path)
except OSError as exc:
    try:
        os.unlink(tmp)
    except OSError:
        pass
    print(f"cannot write {{path}}: {{exc.strerror}}", file=sys.stderr)
    sys.exit(1)
"""

NOTIFIED = f"""#!{sys.executable}
import sys
try:
    with open(sys.argv[1], "a") as f:
        f.write(sys.stdin.read().split("\\n", 1)[0] + "\\n")
except OSError as exc:
    sys.exit(f"cannot keep the message: {{exc.strerror}}")
"""


def make_fleet(home, notified):
    for name, text in (("make_data.py", MAKE_DATA), ("notified.py", NOTIFIED)):
        (home / name).write_text(text)
        (home / name).chmod(0o755)
    (home / "fleet.toml").write_text(
        '[tasks.nightly]\nschedule = "daily 07:00"\n\n'
        '[sources.feed]\npath = "feed.json"\nmax_age = "15m"\nproducer = ["./make_data.py"]\n\n'
        f'[notify]\nrenotify = "60m"\n\n[notify.command]\nargv = ["./notified.py", "{notified}"]\n')


def set_the_stage(home, notified):
    """A healthy fleet, then two things that need writing: a stale source and a new RED task."""
    make_fleet(home, notified)
    for args in (["write", "nightly"], ["write", "broke", "--status", "error", "--summary", "first failure"],
                 ["watchdog"], ["check", "--notify"],
                 ["report", "--format", "html", "--out", home / "site" / "index.html"],
                 ["export", "prometheus", "--out", home / "site" / "alive.prom"]):
        r = run(home, *args)
        assert r.returncode in (0, 2) and r.stderr == "", (args, r.returncode, r.stderr)
    assert json.loads((home / "feed.json").read_text())["rows"] == 42
    assert (home / "alerts" / "broke.alert").exists()
    old = json.dumps({"captured_at": iso(datetime.now(timezone.utc) - timedelta(hours=2)), "rows": 41})
    (home / "feed.json.new").write_text(old)
    os.replace(home / "feed.json.new", home / "feed.json")
    assert run(home, "write", "broke2", "--status", "error", "--summary", "second failure").returncode == 0
    return notified.read_text().splitlines()


def assert_intact(home, before, skip=(".filler",)):
    """Every file of `before` byte-identical, nothing new but empty lock files, no temp file.
    Lock files are the one exception: they hold the pid of whoever took the lock last, by design."""
    now = snapshot(home, skip)
    changed = sorted(k for k in before if now.get(k) != before[k] and not k.endswith(".lock"))
    assert not changed, f"changed or gone: {changed}" + "".join(
        f"\n{k}: {before[k][-300:]!r} -> {now.get(k, b'(gone)')[-300:]!r}" for k in changed)
    new = sorted(k for k in now if k not in before)
    # an empty lock file (open with O_CREAT needs no space) is the only thing allowed to appear
    assert all(k.endswith(".lock") and now[k] == b"" for k in new), new
    assert temp_files(home) == [], temp_files(home)


def one_line(r, *fragments):
    lines = stderr_lines(r)
    assert len(lines) == 1 and all(f in lines[0] for f in fragments), (r.returncode, lines, fragments)
    return lines[0]


def test_a_full_disk_fails_each_write_with_one_line_keeps_every_file_and_recovers_when_freed(disk, tmp_path):
    home = disk.root / "home"
    home.mkdir()
    notified = tmp_path / "notified.log"   # off the small disk
    told = set_the_stage(home, notified)
    # notify.log may grow by whole lines (a send that happened is logged); all else stays
    log_before = (home / "logs" / "notify.log").read_bytes()
    before = snapshot(home, skip=("logs/notify.log",))
    disk.fill()
    err, px = disk.strerror, disk.preexec()

    r = run(home, "write", "nightly", preexec=px)
    assert r.returncode == 1 and r.stdout == ""
    one_line(r, f"alive write: cannot write to health folder {home}/health: {err}")

    r = run(home, "check", preexec=px)            # a check: the verdict still decides the exit code
    assert r.returncode == 2 and "broke2" in r.stdout and "overall: RED" in r.stdout
    one_line(r, f"alive check: cannot write alerts in {home}/alerts: {err}")

    # nothing can be recorded, and the new flip is still tried (issue 10.7): with a real full
    # disk the command (writing off the disk) takes it; under RLIMIT_FSIZE it cannot either
    r = run(home, "check", "--notify", "--json", preexec=px)
    assert r.returncode == 2 and json.loads(r.stdout)["overall"] == "RED"
    lines = stderr_lines(r)
    assert lines[0].startswith(f"alive: notify: cannot write {home}/state: {err}; "), lines
    assert lines[-1] == f"alive check: cannot write alerts in {home}/alerts: {err}"
    tried = notified.read_text().splitlines()[len(told):]
    assert tried == (["RED: task broke2"] if disk.mode == "tmpfs" else []), tried

    r = run(home, "watchdog", preexec=px)
    assert r.returncode == 1
    one_line(r, f"alive watchdog: cannot use {home}/state: {err}")

    for args, target in ((["report", "--format", "html"], "site/index.html"),
                         (["export", "prometheus"], "site/alive.prom")):
        r = run(home, *args, "--out", home / target, preexec=px)
        assert r.returncode == 1 and r.stdout == ""
        one_line(r, f"alive {args[0]}: cannot write {home / target}: {err}")

    r = run(home, "pause", "nightly", preexec=px)
    assert r.returncode == 1
    one_line(r, f"alive pause: cannot write {home}/state/pauses.json: {err}")

    r = run(home, "run", "job", "--", "true", preexec=px)   # the job's own exit code wins
    assert r.returncode == 0
    lines = stderr_lines(r)
    assert len(lines) == 2 and all(err in ln for ln in lines), lines
    assert lines[0].startswith("alive run: could not write running marker: ")
    assert lines[1].startswith("alive run: could not write heartbeat for job: ")

    for args in (["lint", "--json"], ["report", "--format", "json"], ["check", "--json"]):  # reading still works
        r = run(home, *args, preexec=px)
        assert r.returncode in (0, 1, 2) and json.loads(r.stdout), args

    assert_intact(home, before, skip=(".filler", "logs/notify.log"))
    log_now = (home / "logs" / "notify.log").read_bytes()
    assert log_now.startswith(log_before) and log_now.endswith(b"\n")
    assert notified.read_text().splitlines() == told + tried      # nothing queued; only the tried flip sent

    # space again: every command recovers by itself
    disk.free()
    assert run(home, "write", "nightly").returncode == 0
    r = run(home, "watchdog")
    assert r.returncode == 0 and r.stderr == "" and "refreshed feed" in r.stdout, r.stdout + r.stderr
    assert json.loads((home / "feed.json").read_text())["rows"] == 42
    assert json.loads((home / "state" / "watchdog.json").read_text())["sources"]["feed"]["consecutive_failures"] == 0
    r = run(home, "check", "--notify")
    assert r.returncode == 2 and r.stderr == ""
    alert = json.loads((home / "alerts" / "broke2.alert").read_text())
    assert alert["color"] == "RED" and alert["reasons"] == ["latest run failed: second failure"]
    for args, target, needle in ((["report", "--format", "html"], "site/index.html", "broke2"),
                                 (["export", "prometheus"], "site/alive.prom", 'task="broke2"')):
        r = run(home, *args, "--out", home / target)
        assert r.returncode == 0 and r.stderr == "" and needle in (home / target).read_text()
    assert run(home, "pause", "nightly").returncode == 0
    assert run(home, "check", "--notify").returncode == 2
    new = notified.read_text().splitlines()[len(told) + len(tried):]
    assert new == ["RED: task broke2"], new                # recorded and delivered once by the first run that could
    assert temp_files(home) == []
    print(f"\nfull disk by {disk.mode}" + (f" ({disk.why})" if disk.why else "") + f": {err}")


def test_only_state_unwritable_the_checks_still_judge_and_each_writer_says_so(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    notified = tmp_path / "notified.log"
    state = home / "state"
    state.mkdir()
    why = mount_tmpfs(state)
    if why:
        pytest.skip(f"needs state/ on its own read-only filesystem: {why}")
    try:
        told = set_the_stage(home, notified)
        before = snapshot(home)
        r = subprocess.run(["mount", "-o", "remount,ro", str(state)], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        err = os.strerror(errno.EROFS)

        r = run(home, "write", "nightly")                 # health/ is fine
        assert r.returncode == 0 and r.stderr == ""
        r = run(home, "check")
        assert r.returncode == 2 and r.stderr == "" and (home / "alerts" / "broke2.alert").exists()
        r = run(home, "check", "--notify")                # sends, unrecorded (issue 10.7)
        assert r.returncode == 2
        one_line(r, f"alive: notify: cannot write {state}: {err}; 1 message of this run sent without being recorded")
        r = run(home, "watchdog")
        assert r.returncode == 1
        one_line(r, f"alive watchdog: cannot use {state}: {err}")
        r = run(home, "pause", "nightly")
        assert r.returncode == 1
        one_line(r, f"alive pause: cannot write {state}/pauses.json: {err}")
        r = run(home, "run", "job", "--", "true")
        assert r.returncode == 0
        one_line(r, "alive run: could not write running marker: ", err)
        for args, target in ((["report", "--format", "html"], "site/index.html"),
                             (["export", "prometheus"], "site/alive.prom")):
            r = run(home, *args, "--out", home / target)  # the report's cache in state/ only saves time
            assert r.returncode == 0 and r.stderr == "", r.stderr
        now = snapshot(state)
        assert now == {k[len("state/"):]: v for k, v in before.items() if k.startswith("state/")}
        assert notified.read_text().splitlines() == told + ["RED: task broke2"]

        r = subprocess.run(["mount", "-o", "remount,rw", str(state)], capture_output=True, text=True, timeout=20)
        assert r.returncode == 0, r.stderr
        r = run(home, "watchdog")
        assert r.returncode == 0 and r.stderr == "" and "refreshed feed" in r.stdout
        assert run(home, "check", "--notify").returncode == 2
        assert run(home, "pause", "nightly").returncode == 0
        assert run(home, "check", "--notify").returncode == 2
        # once more by the first run that could record it (nothing said it was told), then never again
        assert notified.read_text().splitlines()[len(told):] == ["RED: task broke2", "RED: task broke2"]
        assert temp_files(home) == []
    finally:
        unmount(state)
