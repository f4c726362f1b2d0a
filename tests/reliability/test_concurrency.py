"""Many alive processes at once on one ALIVE_HOME: real processes, real fcntl locks, real sockets.

1. A hundred `alive write` processes, released at the same instant, write the same task for
   the same minute: a hundred distinct, valid heartbeats, none lost, no temp file left.
2. Two `alive watchdog` ticks and two `alive check --notify` released at the same instant,
   an `alive triggers --loop` runner and `alive serve` under waves of 20 concurrent requests
   (GET /, GET /status.json, POST /trigger/<source> with the bearer token), round after round:
   - no source is refreshed twice at once or twice in one tick or pass (each producer run
     appends one O_APPEND line: source, pid, parent, start, end);
   - no state update is lost: watchdog.json's failures in a row of an always-failing source
     equal its producer runs, and every source's last_refresh_by is what its last run was;
     one alive-watchdog heartbeat per tick; every queued trigger taken and removed;
   - notifications: each queued message reaches each channel exactly once;
   - serve answers every request (200 / 303), nothing crashes, every JSON file parses.
Counts scale with ALIVE_SOAK_FACTOR (`make soak` sets 10); every wait is bounded.
"""
import http.client
import json
import os
import random
import re
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from .test_crash import (COMMAND, PY, Ledger, StandIn, audit_home, child_env, command_received, final_colors,
                         install, notify_state_matches, queued_counts, wait_until)
from .test_write_crash import ALIVE, LIB, RACER, SOAK, STEP_TIMEOUT_S, finish, wait_line

sys.path.insert(0, str(LIB))
from alive.write import heartbeat  # noqa: E402

WRITERS = 100
ROUNDS = 3 * SOAK
WAVE = 20                       # concurrent HTTP requests per wave
TOKEN = "concurrency-test-bearer-token"
GOOD = ("w1", "w2", "w3", "w4")
SOURCES = GOOD + ("bad",)


def racer(home, *args):
    """A process that imports alive, says ready, waits for SIGUSR1, then runs bin/alive args."""
    return subprocess.Popen([PY, "-S", "-c", RACER, str(LIB), str(ALIVE), *map(str, args)], env=child_env(home),
                            cwd=home, stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def release(procs):
    for n, proc in enumerate(procs):
        assert wait_line(proc, STEP_TIMEOUT_S) == "ready\n", f"process {n} never got ready: {proc.args}"
    for proc in procs:
        proc.send_signal(signal.SIGUSR1)


def stop_all(procs):
    for proc in procs:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=STEP_TIMEOUT_S)


# ---------------------------------------------------------------- 1. a hundred writers

def test_a_hundred_alive_write_processes_at_once_same_task_same_minute(tmp_path):
    home = tmp_path / "home"
    (home / "health").mkdir(parents=True)
    task = "many.writers"
    writers = [racer(home, "write", task, "--started-at", "2026-05-02T03:07:00Z", "--summary", f"writer {n}",
                     "--metric", f"n={n}") for n in range(WRITERS)]
    try:
        t0 = time.monotonic()
        release(writers)
        outcomes = [finish(proc) + (proc.returncode,) for proc in writers]
        elapsed = time.monotonic() - t0
    finally:
        stop_all(writers)
    assert [(code, err) for _, err, code in outcomes] == [(0, "")] * WRITERS
    paths = [out.strip() for out, _, _ in outcomes]
    stem = f"2026-05-02_{task}_0307"
    expected = {f"{stem}.json"} | {f"{stem}-{k}.json" for k in range(2, WRITERS + 1)}
    assert len(set(paths)) == WRITERS and {os.path.basename(p) for p in paths} == expected
    assert sorted(os.listdir(home / "health")) == sorted(expected | {f"{task}_latest.json"})   # no temp file
    for n, path in enumerate(paths):
        hb, errors, warnings = heartbeat.loads(Path(path).read_bytes())
        assert errors == [] and warnings == [], (path, errors, warnings)
        assert hb["summary"] == f"writer {n}" and hb["metrics"] == {"n": n} and hb["task_id"] == task
    latest, errors, _ = heartbeat.loads((home / "health" / f"{task}_latest.json").read_bytes())
    assert errors == [] and latest["summary"] in {f"writer {n}" for n in range(WRITERS)}
    lint = subprocess.run([PY, "-S", str(ALIVE), "lint", "--home", str(home)], capture_output=True, text=True,
                          env=child_env(home), timeout=STEP_TIMEOUT_S)
    assert lint.returncode == 0, lint.stdout + lint.stderr
    print(f"\n{WRITERS} alive write at once: {WRITERS} distinct valid heartbeats in {elapsed:.1f}s")


# ---------------------------------------------------------------- 2. everything at once

# A producer that takes a little time, then appends one line for its run (one O_APPEND write).
PRODUCER = f"""#!{PY} -S
import json, os, sys, time
name, t0 = sys.argv[1], time.monotonic()
time.sleep(0.12)
ok = name != "bad" and not os.path.exists("fail." + name)
if ok:
    path = os.environ["ALIVE_SOURCE_PATH"]
    with open(f"{{path}}.{{os.getpid()}}.part", "w") as f:
        json.dump({{"captured_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}}, f)
    os.replace(f"{{path}}.{{os.getpid()}}.part", path)
line = f"{{name}} {{os.getpid()}} {{os.getppid()}} {{t0:.6f}} {{time.monotonic():.6f}} {{'ok' if ok else 'fail'}}\\n"
fd = os.open("runs.log", os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
os.write(fd, line.encode())
if not ok:
    print("upstream said no", file=sys.stderr)
    sys.exit(1)
"""


def fleet(stand_in):
    text = ('[settings]\ndefault_max_gap = "36h"\n[triggers]\npoll = "1s"\n'
            '[serve]\ntoken_env = "ALIVE_TEST_SERVE_TOKEN"\n'
            f'[notify]\nrenotify = "0"\n[notify.ntfy]\nserver = "{stand_in.url}"\ntopic = "everything"\n'
            '[notify.command]\nargv = ["./cmd.py"]\ntimeout = "20s"\n')
    for name in SOURCES:
        text += (f'[sources.{name}]\npath = "data/{name}.json"\nmax_age = "10m"\n'
                 f'producer = ["./producer.py", "{name}"]\ntimeout = "20s"\n'
                 f'alert_after = {2 if name == "bad" else 1}\n')
    return text


def make_stale(home):
    old = (datetime.now(timezone.utc) - timedelta(hours=3)).strftime("%Y-%m-%dT%H:%M:%SZ")
    for name in SOURCES:
        tmp = home / "data" / f"{name}.stale"
        tmp.write_text(json.dumps({"captured_at": old}))
        os.replace(tmp, home / "data" / f"{name}.json")


def start_serve(home):
    env = dict(child_env(home), ALIVE_TEST_SERVE_TOKEN=TOKEN)
    log = open(home.parent / "serve.log", "w")        # a file nobody must read for the server to go on
    proc = subprocess.Popen([PY, "-S", str(ALIVE), "serve", "--port", "0"], env=env, cwd=home,
                            stdout=subprocess.PIPE, stderr=log, text=True)
    ready, _, _ = select.select([proc.stdout], [], [], STEP_TIMEOUT_S)
    line = proc.stdout.readline() if ready else ""
    m = re.match(r"alive serve: http://127\.0\.0\.1:(\d+)/ ", line)
    assert m, f"alive serve did not start: {line!r}"
    return proc, int(m.group(1)), log


def request(port, method, path, headers=None):
    """-> (status, error or None). Never raises: every answer is checked by the caller."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=STEP_TIMEOUT_S)
    try:
        conn.request(method, path, body=b"" if method == "POST" else None, headers=headers or {})
        response = conn.getresponse()
        body = response.read()
        return response.status, None if response.status in (200, 303) else body[:200]
    except (OSError, http.client.HTTPException) as exc:
        return None, f"{type(exc).__name__}: {exc}"
    finally:
        conn.close()


def wave(port, n):
    """WAVE requests released together: GET /, GET /status.json, POST /trigger/<source>."""
    barrier = threading.Barrier(WAVE)
    plan = []
    for k in range(WAVE):
        kind = k % 3
        if kind == 0:
            plan.append(("GET", "/", {}))
        elif kind == 1:
            plan.append(("GET", "/status.json", {}))
        else:
            plan.append(("POST", f"/trigger/{SOURCES[(n + k) % len(SOURCES)]}",
                         {"Authorization": f"Bearer {TOKEN}"}))

    def one(item):
        barrier.wait(STEP_TIMEOUT_S)
        method, path, headers = item
        return (method, path) + request(port, method, path, headers)

    with ThreadPoolExecutor(WAVE) as pool:
        return list(pool.map(one, plan))


def runs_of(home):
    out = []
    path = home / "runs.log"
    for line in path.read_text().splitlines() if path.exists() else []:
        name, pid, ppid, t0, t1, result = line.split()
        out.append({"name": name, "pid": int(pid), "ppid": int(ppid), "start": float(t0), "end": float(t1),
                    "ok": result == "ok"})
    return out


def runner_idle(home):
    """No request waits in triggers/ and no run is in the journal."""
    folder, journal = home / "triggers", home / "state" / "triggers.json"
    if folder.exists() and [f for f in os.listdir(folder) if not f.startswith(".")]:
        return False
    return not journal.exists() or "run" not in json.loads(journal.read_text())


@pytest.fixture
def stand_in():
    s = StandIn()
    yield s
    s.close()


def test_two_watchdogs_a_trigger_runner_and_serve_under_load_at_once(tmp_path, stand_in):
    home = tmp_path / "home"
    (home / "data").mkdir(parents=True)
    install(home, "producer.py", PRODUCER)
    install(home, "cmd.py", COMMAND)
    (home / "fleet.toml").write_text(fleet(stand_in))
    serve, port, serve_log = start_serve(home)
    runner = subprocess.Popen([PY, "-S", str(ALIVE), "triggers", "--loop"], env=child_env(home), cwd=home,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    watchdogs, outputs, answers, t0 = [], [], [], time.monotonic()
    checkers, check_outputs = [], []
    rng = random.Random(7400)
    try:
        for n in range(ROUNDS):
            for name in GOOD:      # some sources start or stop failing: notifications to send
                if rng.random() < 0.4:
                    flag = home / f"fail.{name}"
                    flag.unlink() if flag.exists() else flag.touch()
            # the runner has taken the last round's triggers (else it may hold the lock through this round)
            assert wait_until(lambda: runner_idle(home), seconds=30), "the runner never took its requests"
            make_stale(home)
            pair = [racer(home, "watchdog"), racer(home, "watchdog")]
            checks = [racer(home, "check", "--notify"), racer(home, "check", "--notify")]
            watchdogs += pair
            checkers += checks
            release(pair + checks)
            answers += wave(port, n)          # while the ticks run
            answers += wave(port, n + 1)
            outputs += [finish(proc) for proc in pair]
            check_outputs += [finish(proc) for proc in checks]
        # the runner takes every queued request (it polls every second; busy while a tick runs)
        assert wait_until(lambda: runner_idle(home), seconds=30), f"requests left: {os.listdir(home / 'triggers')}"
        runner.send_signal(signal.SIGTERM)
        _, runner_err = (s.decode() for s in runner.communicate(timeout=STEP_TIMEOUT_S))
        serve.send_signal(signal.SIGTERM)
        serve.wait(timeout=STEP_TIMEOUT_S)
        elapsed = time.monotonic() - t0
    finally:
        stop_all(watchdogs + checkers + [runner, serve])
        serve_log.close()

    # nothing crashed, every request answered
    for proc, (out, err) in zip(watchdogs, outputs):
        assert proc.returncode in (0, 1) and "Traceback" not in err, (proc.returncode, out, err)
    for proc, (out, err) in zip(checkers, check_outputs):
        assert proc.returncode in (0, 1, 2) and "Traceback" not in err, (proc.returncode, out, err)
    assert runner.returncode == 0 and "Traceback" not in runner_err, runner_err
    assert serve.returncode == 0
    serve_text = (tmp_path / "serve.log").read_text()
    assert "Traceback" not in serve_text and " failed: " not in serve_text, serve_text[-2000:]
    bad_answers = [a for a in answers if a[3] is not None]
    assert bad_answers == [] and len(answers) == 2 * ROUNDS * WAVE, bad_answers[:5]
    posted = sum(1 for a in answers if a[0] == "POST")
    assert all(a[2] == (303 if a[0] == "POST" else 200) for a in answers)

    # no source refreshed twice at once, or twice by one tick or pass
    runs = runs_of(home)
    ticks = {p.pid for p in watchdogs}
    for name in SOURCES:
        mine = sorted((r for r in runs if r["name"] == name), key=lambda r: r["start"])
        for a, b in zip(mine, mine[1:]):
            assert b["start"] >= a["end"], f"{name} was refreshed twice at once: {a} {b}"
    per_tick = {}
    for r in runs:
        if r["ppid"] in ticks:
            per_tick.setdefault((r["ppid"], r["name"]), []).append(r)
    assert all(len(v) == 1 for v in per_tick.values()), "a tick ran a producer twice"
    assert {r["ppid"] for r in runs} <= ticks | {runner.pid}, "a producer run nobody accounts for"
    log = (home / "logs" / "triggers.log").read_text()
    for name in SOURCES:    # the runner's passes: one logged outcome per source run, one run per outcome
        passes = len(re.findall(rf" {name}: (?:refreshed|FAILED) \(", log))
        assert sum(1 for r in runs if r["ppid"] == runner.pid and r["name"] == name) == passes, (name, passes)
    by_tick = sum(1 for r in runs if r["ppid"] in ticks)
    by_trigger = sum(1 for r in runs if r["ppid"] == runner.pid)
    assert by_tick > 0 and by_trigger > 0, (by_tick, by_trigger)

    # no state update lost
    state = json.loads((home / "state" / "watchdog.json").read_text())["sources"]
    for name in SOURCES:    # every run recorded, in order: failures in a row = the failing runs since the last good one
        mine = sorted((r for r in runs if r["name"] == name), key=lambda r: r["end"])
        streak = 0
        for r in mine:
            streak = 0 if r["ok"] else streak + 1
        entry = state[name]
        assert entry["consecutive_failures"] == streak, (name, entry, streak, len(mine))
        assert (streak == 0) == (entry["last_error"] is None), entry
        assert entry["last_refresh_by"] == ("trigger" if mine[-1]["ppid"] == runner.pid else "watchdog"), \
            (name, entry, mine[-1])
    assert state["bad"]["consecutive_failures"] == sum(1 for r in runs if r["name"] == "bad")
    beats = [p for p in (home / "health").iterdir() if heartbeat.parse_name(p.name)
             and heartbeat.parse_name(p.name)[0] == "canonical"]
    assert len(beats) == len(watchdogs), f"{len(beats)} alive-watchdog heartbeats for {len(watchdogs)} ticks"
    removed = sum(int(m) for m in re.findall(r"done: (\d+) requests? removed", log))
    assert removed == posted and "refused" not in log, (removed, posted)

    # notifications: a clean check delivers whatever still waits; then each message reached each
    # channel once, and per item they alternate RED / recovered and end with its color
    r = subprocess.run([PY, "-S", str(ALIVE), "check", "--notify"], env=child_env(home), cwd=home,
                       capture_output=True, text=True, timeout=STEP_TIMEOUT_S)
    assert r.returncode in (0, 1, 2) and "Traceback" not in r.stderr, r.stderr
    assert stand_in.bad == []
    colors = final_colors(home)
    notify_state_matches(home, colors)
    sent, _ = Ledger(home, stand_in, "everything").audit(colors)
    # no kill: each queued message reached each channel exactly once (an id queued twice is the
    # same flip again within one second: the ticks and checks here flip alive-watchdog that fast)
    queued = queued_counts(home)
    for channel, got in (("ntfy", stand_in.received("everything")), ("command", command_received(home))):
        counts = {}
        for mids, _ in got:
            for mid in mids:
                counts[mid] = counts.get(mid, 0) + 1
        assert counts == queued, f"{channel}: delivered {counts}, queued {queued}"
    checked, temps = audit_home(home)
    print(f"\nconcurrency: {ROUNDS} rounds of 2 watchdogs + 2 check --notify at once + trigger runner + serve under "
          f"{len(answers)} requests ({posted} triggers) in {elapsed:.1f}s: {by_tick} producer runs by ticks, "
          f"{by_trigger} by triggers, none twice at once; {sent} notifications, each once per channel; "
          f"{checked} JSON files whole")
