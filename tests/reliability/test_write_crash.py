"""Crash and race safety of the heartbeat write path, with real processes and real files.

1. Writers are killed with SIGKILL at random moments (hundreds of times; ALIVE_SOAK_FACTOR
   multiplies the counts, `make soak` sets 10). Afterwards every heartbeat-named file in
   health/ is complete and valid, every write a writer reported as done is on disk with its
   own content, and the only debris is dot-named temp files, which readers skip.
2. Fifty processes write the same task for the same minute at once: fifty distinct files,
   none lost, while a reader process polling <task>_latest.json never sees a broken file.
"""
import json
import os
import random
import select
import signal
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "lib"
ALIVE = ROOT / "bin" / "alive"
sys.path.insert(0, str(LIB))
from alive.write import heartbeat  # noqa: E402


def soak_factor():
    raw = os.environ.get("ALIVE_SOAK_FACTOR", "1").strip() or "1"
    if not raw.isdigit() or int(raw) < 1:
        raise pytest.UsageError(f"ALIVE_SOAK_FACTOR={raw!r}: give a whole number >= 1")
    return int(raw)


SOAK = soak_factor()
TASKS = ("alpha", "beta", "gamma.db", "delta_2")
PARALLEL = 4  # writers alive at once: they also race each other for names
STEP_TIMEOUT_S = 20  # no single wait in this file lasts longer

# A writer that loops forever through alive.write.heartbeat.write, reporting each finished write.
LIB_WRITER = r"""
import datetime, os, random, sys
sys.path.insert(0, sys.argv[1])
from alive.write import heartbeat
health, seed = sys.argv[2], int(sys.argv[3])
rng = random.Random(seed)
base = datetime.datetime(2026, 5, 2, tzinfo=datetime.timezone.utc)
tasks = sys.argv[4].split(",")
print("ready", flush=True)
n = 0
while True:
    started = base + datetime.timedelta(minutes=rng.randrange(240))
    done = started + datetime.timedelta(seconds=rng.randrange(120))
    hb = heartbeat.build(rng.choice(tasks), done, status=rng.choice(heartbeat.STATUSES),
                         summary=f"lib {seed}.{n} " + "é" * rng.randrange(80),
                         started_at=started, completed_at=done, run_id=f"lib.{seed}.{n}",
                         metrics={"n": n, "pad": "x" * rng.randrange(6000)})
    path = heartbeat.write(health, hb)
    os.write(1, f"{path} {hb['run_id']}\n".encode())  # one write(): a kill cannot split the line
    n += 1
"""


def start(argv):
    """Popen with unbuffered byte pipes: wait_line must not read ahead of communicate()."""
    return subprocess.Popen([str(a) for a in argv], stdout=subprocess.PIPE, stderr=subprocess.PIPE, bufsize=0)


def wait_line(proc, timeout):
    """The next line of proc's stdout, read a byte at a time; None if none comes within timeout."""
    fd, line, end = proc.stdout.fileno(), b"", time.monotonic() + timeout
    while not line.endswith(b"\n"):
        left = end - time.monotonic()
        if left <= 0 or not select.select([fd], [], [], left)[0]:
            return None
        byte = os.read(fd, 1)
        if not byte:
            return None
        line += byte
    return line.decode()


def finish(proc):
    """communicate() as text, bounded."""
    out, err = proc.communicate(timeout=STEP_TIMEOUT_S)
    return out.decode(), err.decode()


def kill_lib_writer(health, seed):
    """Start a library writer, let it run a random moment after it is ready, SIGKILL it.

    -> (landed, [(path, run_id) it reported as written], problem or None)"""
    rng = random.Random(seed)
    proc = start([sys.executable, "-S", "-c", LIB_WRITER, LIB, health, seed, ",".join(TASKS)])
    try:
        line = wait_line(proc, STEP_TIMEOUT_S)
        if line != "ready\n":
            proc.kill()
            return False, [], f"writer {seed} never got ready: {line!r}"
        time.sleep(rng.uniform(0, 0.04))
        proc.send_signal(signal.SIGKILL)
        out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=STEP_TIMEOUT_S)
    if proc.returncode != -signal.SIGKILL:
        return False, [], f"writer {seed} ended by itself ({proc.returncode}): {err.strip()[-500:]}"
    return True, [tuple(ln.rsplit(" ", 1)) for ln in out.splitlines()], None


def kill_cli_writer(health, seed, full_run_s):
    """Run a real `bin/alive write` and SIGKILL it after a random delay that spans its run time.

    -> (landed, [(path, summary)] when it finished first, problem or None)"""
    rng = random.Random(seed)
    minute = 100 + rng.randrange(40)  # 01:40..02:19 on the day the library writers use
    started = f"2026-05-02T{minute // 60:02d}:{minute % 60:02d}:{rng.randrange(60):02d}Z"
    summary = f"cli {seed}"
    proc = start([sys.executable, "-S", ALIVE, "write", rng.choice(TASKS), "--home", health.parent,
                  "--started-at", started, "--summary", summary, "--metric", f"pad={'y' * rng.randrange(6000)}"])
    try:
        time.sleep(rng.uniform(0, 2.5 * full_run_s))  # runs are slower here: other writers share the CPUs
        proc.send_signal(signal.SIGKILL)
        out, err = finish(proc)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(timeout=STEP_TIMEOUT_S)
    if proc.returncode == -signal.SIGKILL:
        return True, [], None
    if proc.returncode == 0:
        return False, [(out.strip(), summary)], None
    return False, [], f"alive write {seed} failed ({proc.returncode}): {err.strip()[-500:]}"


def fastest_cli_run_s(home):
    """The fastest of a few unkilled `bin/alive write` runs here (the least load-dependent figure)."""
    times = []
    for n in range(5):
        t0 = time.perf_counter()
        r = subprocess.run([sys.executable, "-S", str(ALIVE), "write", "calibrate", "--home", str(home)],
                           capture_output=True, timeout=STEP_TIMEOUT_S)
        times.append(time.perf_counter() - t0)
        assert r.returncode == 0, r.stderr
    return min(times)


def audit(health):
    """Every file in health/: heartbeat-named ones valid, temp ones dot-named.

    -> ({canonical name: heartbeat}, {task: set of its canonical files' bytes}, {task: latest bytes}, [temp names])"""
    canonical, contents, latest, temps = {}, {}, {}, []
    for entry in os.scandir(health):
        name = entry.name
        assert entry.is_file(follow_symlinks=False), f"{name} is not a regular file"
        if name.startswith("."):
            temps.append(name)
            assert heartbeat.parse_name(name) is None and name.endswith(".tmp"), f"temp {name} looks like a heartbeat"
            continue
        kind = heartbeat.parse_name(name)
        assert kind is not None and kind[0] in ("canonical", "latest"), f"unexpected file {name}"
        data = Path(entry.path).read_bytes()
        hb, errors, warnings = heartbeat.loads(data)
        assert errors == [] and warnings == [], f"{name}: {errors} {warnings}"
        assert hb["task_id"] == kind[1], f"{name} holds task {hb['task_id']}"
        if kind[0] == "canonical":
            assert name.startswith(heartbeat.canonical_stem(hb)), f"{name} does not match started_at {hb['started_at']}"
            canonical[name] = hb
            contents.setdefault(kind[1], set()).add(data)
        else:
            latest[kind[1]] = data
    return canonical, contents, latest, temps


def test_writers_killed_at_random_moments_leave_only_valid_heartbeats(tmp_path):
    home = tmp_path / "home"
    health = home / "health"
    health.mkdir(parents=True)
    cli_s = fastest_cli_run_s(tmp_path / "calibration")
    lib_runs, cli_runs = 200 * SOAK, 60 * SOAK
    rng = random.Random(20260502)
    jobs = [("lib", 1000 + n) for n in range(lib_runs)] + [("cli", 10**6 + n) for n in range(cli_runs)]
    rng.shuffle(jobs)

    deadline = time.monotonic() + 90 * SOAK

    def one(job):
        if time.monotonic() > deadline:
            return job[0], False, [], "deadline passed before this run started"
        if job[0] == "lib":
            return ("lib", *kill_lib_writer(health, job[1]))
        return ("cli", *kill_cli_writer(health, job[1], cli_s))

    t0 = time.monotonic()
    with ThreadPoolExecutor(PARALLEL) as pool:
        results = list(pool.map(one, jobs))
    elapsed = time.monotonic() - t0

    problems = [p for _, _, _, p in results if p]
    assert problems == [], problems[:5]
    lib_kills = sum(1 for kind, landed, _, _ in results if kind == "lib" and landed)
    cli_kills = sum(1 for kind, landed, _, _ in results if kind == "cli" and landed)
    assert lib_kills == lib_runs
    assert cli_kills >= cli_runs // 10, f"only {cli_kills} of {cli_runs} kills hit a running alive write"

    canonical, contents, latest, temps = audit(health)
    # a latest file is always a copy of one of the task's canonical files (written after it)
    for task, data in latest.items():
        assert data in contents.get(task, set()), f"{task}_latest.json matches none of its canonical files"
    # every write a writer saw complete is on disk, under its own name, with its own content
    reported = 0
    cli_on_disk = sum(1 for hb in canonical.values() if hb["summary"].startswith("cli "))
    for kind, _, written, _ in results:
        for path, mark in written:
            hb = canonical.get(os.path.basename(path))
            assert hb is not None, f"reported write {path} is missing"
            assert (hb.get("run_id") if kind == "lib" else hb["summary"]) == mark, f"{path} was overwritten"
            reported += 1
    assert reported > 0 and len(canonical) >= reported
    # a kill leaves at most one temp file behind (each write holds one temp at a time)
    assert len(temps) <= lib_kills + cli_kills
    print(f"\n{lib_kills} library writers and {cli_kills} of {cli_runs} `alive write` killed in {elapsed:.1f}s "
          f"(fastest alive write {cli_s * 1000:.0f} ms); {len(canonical)} heartbeats ({cli_on_disk} by alive write, "
          f"{reported} reported complete), {len(temps)} temp files left")


# ---- fifty writers, one task, one minute -------------------------------------

# Warm up (imports), say ready, wait for SIGUSR1, then run the real bin/alive.
RACER = r"""
import runpy, signal, sys
sys.path.insert(0, sys.argv[1])
import alive.cli, alive.write.cmd_write, alive.write.heartbeat, alive.base.atomic, alive.base.paths, alive.base.timeutil  # noqa
signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGUSR1})
print("ready", flush=True)
if signal.sigtimedwait({signal.SIGUSR1}, 30) is None:
    sys.exit(99)
sys.argv = [sys.argv[2]] + sys.argv[3:]
runpy.run_path(sys.argv[0], run_name="__main__")
"""

# Poll <task>_latest.json as fast as possible until told to stop (or 60 s); report.
READER = r"""
import json, os, sys, time
sys.path.insert(0, sys.argv[1])
from alive.write import heartbeat
path, stop = sys.argv[2], sys.argv[3]
reads = vanished = 0
invalid, seen = [], set()
deadline = time.monotonic() + 60
print("ready", flush=True)
while time.monotonic() < deadline and not os.path.exists(stop):
    try:
        with open(path, "rb") as f:
            data = f.read()
    except FileNotFoundError:
        vanished += bool(seen)
        continue
    reads += 1
    hb, errors, _ = heartbeat.loads(data)
    if errors:
        invalid.append([errors, data[:200].decode("utf-8", "replace")])
    else:
        seen.add(hb["summary"])
print(json.dumps({"reads": reads, "vanished": vanished, "invalid": invalid[:5], "distinct": len(seen)}))
"""


def test_fifty_processes_same_task_same_minute(tmp_path):
    home = tmp_path / "home"
    health = home / "health"
    health.mkdir(parents=True)
    task, stop = "race.task", tmp_path / "stop-reader"
    reader = start([sys.executable, "-S", "-c", READER, LIB, health / f"{task}_latest.json", stop])
    racers = []
    try:
        assert wait_line(reader, STEP_TIMEOUT_S) == "ready\n"
        for n in range(50):
            racers.append(start([sys.executable, "-S", "-c", RACER, LIB, ALIVE, "write", task, "--home", home,
                                 "--started-at", "2026-05-02T01:55:00Z", "--summary", f"racer {n}",
                                 "--interval", "1h"]))
        for n, proc in enumerate(racers):
            assert wait_line(proc, STEP_TIMEOUT_S) == "ready\n", f"racer {n} never got ready"
        for proc in racers:  # release all fifty at once
            proc.send_signal(signal.SIGUSR1)
        outcomes = [finish(proc) + (proc.returncode,) for proc in racers]
    finally:
        stop.touch()
        for proc in racers:
            if proc.poll() is None:
                proc.kill()
                proc.wait(timeout=STEP_TIMEOUT_S)
        try:
            report_out, report_err = finish(reader)
        finally:
            if reader.poll() is None:
                reader.kill()
                reader.wait(timeout=STEP_TIMEOUT_S)
    assert reader.returncode == 0, report_err

    assert [(code, err) for _, err, code in outcomes] == [(0, "")] * 50
    paths = [out.strip() for out, _, _ in outcomes]
    assert len(set(paths)) == 50
    stem = "2026-05-02_race.task_0155"
    expected = {f"{stem}.json"} | {f"{stem}-{k}.json" for k in range(2, 51)}
    assert {os.path.basename(p) for p in paths} == expected
    assert sorted(os.listdir(health)) == sorted(expected | {f"{task}_latest.json"})  # no temp left
    for n, path in enumerate(paths):
        hb, errors, _ = heartbeat.loads(Path(path).read_bytes())
        assert errors == [] and hb["summary"] == f"racer {n}" and hb["interval_s"] == 3600
        assert hb["started_at"] == "2026-05-02T01:55:00Z"
    last = heartbeat.loads((health / f"{task}_latest.json").read_bytes())[0]
    assert last["summary"] in {f"racer {n}" for n in range(50)}

    report = json.loads(report_out)
    assert report["invalid"] == [] and report["vanished"] == 0, report
    assert report["reads"] > 0 and report["distinct"] >= 1, report
    print(f"\nreader: {report['reads']} reads of {task}_latest.json, {report['distinct']} distinct runs seen")
