#!/usr/bin/env python3
"""`make bench`: the figures alive promises, measured on this machine.

Each figure is a function taking the shared Context and returning rows; add one by
writing the function and listing it in FIGURES. A row names what was measured, its
timings in milliseconds, its ratio to the figure's baseline, and its goal (if any).

The run is a report: it exits 0 even when a goal is missed (and says so plainly), and 1
only when a measurement could not be made (a subject failed or wrote nothing).
Results also go to bench/results.json with the machine they were measured on.
`bench.py --breakdown` adds where a shim write spends its time, import by import.
"""
import argparse
import datetime
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from measure import (  # shared with fleet.py (bench/ is on sys.path: run as a script)
    ALIVE,
    BenchError,
    ROOT,
    WARMUP,
    interleaved,
    row)

SHIM = ROOT / "scripts" / "cron-heartbeat-write.sh"
RESULTS = ROOT / "bench" / "results.json"


class Context:
    def __init__(self, runs, home, pycache):
        self.runs = runs
        self.home = home
        self.pycache = pycache
        self.python = sys.executable
        self.bash = shutil.which("bash") or "/bin/bash"

    def env(self, **more):
        """The environment of every subject: ours, with ALIVE_HOME set and the real interpreter named.

        Bytecode is cached (in a private folder, warmed up before timing), as on a user's
        machine: a PYTHONDONTWRITEBYTECODE in our environment would make every run compile
        alive's modules from source and measure that instead."""
        env = dict(os.environ, ALIVE_HOME=str(self.home), ALIVE_PYTHON=self.python,
                   PYTHONPYCACHEPREFIX=str(self.pycache))
        env.update(more)
        for name in ("ALIVE_CONFIG", "PYTHONDONTWRITEBYTECODE"):
            env.pop(name, None)
        return env


def count_heartbeats(home, task):
    folder = Path(home) / "health"
    return sum(1 for p in folder.glob(f"*_{task}_*.json")) if folder.is_dir() else 0


# ---- figures -----------------------------------------------------------------

def figure_write(ctx):
    """What a heartbeat costs the job that writes it, against starting Python at all."""
    py = ctx.python
    subjects = {
        "baseline": [py, "-c", "pass"],
        "python -S": [py, "-S", "-c", "pass"],
        "shim": [ctx.bash, str(SHIM), "bench-shim", "60", "ok", "bench"],
        "alive write": [py, "-S", str(ALIVE), "write", "bench-write", "--interval", "60s"],
        "alive run": [py, str(ALIVE), "run", "BENCH", "--", "true"],
    }
    times = interleaved(subjects, ctx.runs, ctx.env())
    expected = WARMUP + ctx.runs
    for task in ("bench-shim", "bench-write", "BENCH"):
        found = count_heartbeats(ctx.home, task)
        if found != expected:
            raise BenchError(f"{task}: {found} heartbeats written, expected {expected}")
    base, bare = times["baseline"], times["python -S"]
    site_ms = statistics.median(base) - statistics.median(bare)
    return [
        row("write", "python -c pass (baseline)", base, base, bare=bare,
            note=f"site costs {site_ms:.1f} ms of it"),
        row("write", "python -S -c pass", bare, base, bare=bare),
        row("write", "cron-heartbeat-write.sh JOB 60", times["shim"], base, goal=1.5, bare=bare,
            note="bash + python -S bin/alive write"),
        row("write", "python -S bin/alive write", times["alive write"], base, bare=bare,
            note="the shim's Python part alone"),
        row("write", "bin/alive run BENCH -- true", times["alive run"], base, goal=1.5, bare=bare),
    ]


def figure_write_breakdown(ctx):
    """Where a shim write spends its time: one step more per subject, each its own process.

    The difference between one step and the one before is what that step costs; the
    imports follow the order in which `alive write` first needs them."""
    py, lib = ctx.python, str(ROOT / "lib")
    steps = [
        ("python -c pass (baseline)", [py, "-c", "pass"]),
        ("python -S -c pass", [py, "-S", "-c", "pass"]),
        ("+ import re (enum, functools, collections)", [py, "-S", "-c", "import re"]),
        ("+ json", [py, "-S", "-c", "import re, json"]),
        ("+ datetime", [py, "-S", "-c", "import re, json, datetime"]),
        ("+ pathlib (urllib.parse, ipaddress, fnmatch)", [py, "-S", "-c", "import re, json, datetime, pathlib"]),
        ("+ argparse (gettext, warnings)", [py, "-S", "-c", "import re, json, datetime, pathlib, argparse"]),
        ("+ one parser (shutil, bz2, lzma, locale)",
         [py, "-S", "-c", "import re, json, datetime, pathlib, argparse;"
                          "argparse.ArgumentParser().add_argument('--x')"]),
        ("+ alive.cli, alive.write.cmd_write, its parser",
         [py, "-S", "-c", f"import sys; sys.path.insert(0, {lib!r}); import alive.cli, alive.write.cmd_write;"
                          "alive.write.cmd_write.build_parser()"]),
        ("+ the write: python -S bin/alive write", [py, "-S", str(ALIVE), "write", "bench-breakdown"]),
        ("bash -c true", [ctx.bash, "-c", "true"]),
        ("cron-heartbeat-write.sh JOB 60", [ctx.bash, str(SHIM), "bench-breakdown-shim", "60"]),
    ]
    times = interleaved(dict(steps), ctx.runs, ctx.env())
    base = times[steps[0][0]]
    rows, previous = [], None
    for name, _ in steps:
        median = statistics.median(times[name])
        note = ""
        if previous is not None and name.startswith("+ "):
            note = f"{median - statistics.median(times[previous]):+.1f} ms over the step before"
        if name.startswith("cron-"):
            parts = statistics.median(times["bash -c true"]) + statistics.median(times[steps[9][0]])
            note = f"{median - parts:+.1f} ms over bash start + python -S bin/alive write"
        rows.append(row("write-breakdown", name, times[name], base, note=note))
        previous = name
    return rows


TRIGGER_SAMPLES = 10         # the figure: the median of 10
TRIGGER_POLL_S, TRIGGER_PRODUCER_S, TRIGGER_SLACK_S = 1.0, 0.2, 0.5
TRIGGER_WAIT_S = 15          # one trigger that takes longer than this is a failure, not a sample
TRIGGER_PRODUCER = """import datetime, json, os, time
time.sleep(%r)
now = datetime.datetime.now(datetime.timezone.utc).strftime("%%Y-%%m-%%dT%%H:%%M:%%S.%%fZ")
tmp = os.environ["ALIVE_SOURCE_PATH"] + ".tmp"
with open(tmp, "w") as f:
    json.dump({"captured_at": now}, f)
os.replace(tmp, os.environ["ALIVE_SOURCE_PATH"])
""" % TRIGGER_PRODUCER_S


def captured_at(path):
    try:
        return json.loads(path.read_text())["captured_at"]
    except (OSError, ValueError, KeyError):
        return None


def start_logged(argv, env, log):
    """A long-running subject, its output going to a file (read back if it fails)."""
    with open(log, "wb") as out:
        return subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)


def stop(proc):
    """SIGTERM, as launchd would; -> exit code (a process that will not stop is killed)."""
    if proc.poll() is None:
        proc.terminate()
    try:
        return proc.wait(timeout=15)
    except subprocess.TimeoutExpired:
        proc.kill()
        return proc.wait()


def serve_url(log, proc):
    """`alive serve --port 0` says where it listens on its first line."""
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and proc.poll() is None:
        first = log.read_text(errors="replace").partition("\n")
        if first[1] and "http://" in first[0]:
            return first[0].split()[2]
        time.sleep(0.01)
    raise BenchError(f"alive serve did not start: {log.read_text(errors='replace')[-300:]}")


def post_trigger(url, source, token):
    """POST /trigger/<source> with the bearer token; serve answers 303 (not followed)."""
    import http.client
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=10)
    try:
        conn.request("POST", f"/trigger/{source}", body=b"",
                     headers={"Authorization": f"Bearer {token}", "Content-Length": "0"})
        answer = conn.getresponse()
        answer.read()
        if answer.status != 303:
            raise BenchError(f"POST /trigger/{source} -> HTTP {answer.status}")
    finally:
        conn.close()


def figure_trigger_latency(ctx):
    """From POST /trigger/<source> on a real `alive serve` to the source's data file
    refreshed, with a real `alive triggers --loop` at poll = 1s and a producer that takes
    0.2 s. The triggers are sent at phases spread evenly over one poll, so the samples
    cover a request that just misses a pass as well as one that just makes it."""
    home, token = ctx.home, "bench-serve-token"
    (home / "produce.py").write_text(TRIGGER_PRODUCER)
    (home / "fleet.toml").write_text(
        f'[triggers]\npoll = "{TRIGGER_POLL_S:g}s"\n\n[serve]\ntoken_env = "ALIVE_BENCH_SERVE_TOKEN"\n\n'
        f'[sources.bench]\npath = "bench.json"\nmax_age = "1h"\nproducer = {json.dumps([ctx.python, "produce.py"])}\n')
    data = home / "bench.json"
    data.write_text(json.dumps({"captured_at": datetime.datetime.now(datetime.timezone.utc).strftime(
        "%Y-%m-%dT%H:%M:%SZ")}))
    env = ctx.env(ALIVE_BENCH_SERVE_TOKEN=token)
    serve_log, loop_log = home / "serve.log", home / "triggers.out"
    serve = start_logged([ctx.python, str(ALIVE), "serve", "--port", "0"], env, serve_log)
    loop = start_logged([ctx.python, str(ALIVE), "triggers", "--loop"], env, loop_log)
    samples = []
    try:
        url = serve_url(serve_log, serve)
        for n in range(WARMUP + TRIGGER_SAMPLES):
            time.sleep(TRIGGER_POLL_S * (n % TRIGGER_SAMPLES) / TRIGGER_SAMPLES)
            before = captured_at(data)
            t0 = time.perf_counter()
            post_trigger(url, "bench", token)
            deadline = t0 + TRIGGER_WAIT_S
            while captured_at(data) == before:
                if time.perf_counter() > deadline or loop.poll() is not None:
                    raise BenchError(f"trigger {n + 1}: the data file was not refreshed within {TRIGGER_WAIT_S}s: "
                                     f"{loop_log.read_text(errors='replace')[-300:]}")
                time.sleep(0.01)
            if n >= WARMUP:
                samples.append((time.perf_counter() - t0) * 1000)
    finally:
        codes = stop(loop), stop(serve)
    if codes != (0, 0):
        raise BenchError(f"alive triggers --loop / alive serve exited {codes[0]} / {codes[1]} on SIGTERM")
    budget_ms = (TRIGGER_POLL_S + TRIGGER_PRODUCER_S + TRIGGER_SLACK_S) * 1000
    return [row("trigger", "POST /trigger -> data refreshed", samples, [budget_ms], goal=1.0,
                note=f"ratio to the budget poll {TRIGGER_POLL_S * 1000:.0f} + producer "
                     f"{TRIGGER_PRODUCER_S * 1000:.0f} + {TRIGGER_SLACK_S * 1000:.0f} ms = {budget_ms:.0f} ms "
                     f"(median of {TRIGGER_SAMPLES}; real serve and triggers --loop)")]


PING_BURST = 1000          # every host's cron pinging at :00
PING_BURST_TIMEOUT_S = 30  # curl -m / a client library's timeout: an answer later than this is a timeout


def ping_burst(host, port, paths, timeout_s=PING_BURST_TIMEOUT_S):
    """One GET per path, all at once: every connection is opened before any answer is read
    (one thread, a selector). -> ({path: HTTP status}, [paths not answered in time], wall s)."""
    import selectors
    import socket

    sel, answers, started = selectors.DefaultSelector(), {}, time.monotonic()
    for path in paths:
        sock = socket.socket()
        sock.setblocking(False)
        sock.connect_ex((host, port))
        sel.register(sock, selectors.EVENT_WRITE, [path, b""])
    try:
        while len(answers) < len(paths) and time.monotonic() - started < timeout_s:
            for key, events in sel.select(timeout=0.5):
                sock, (path, got) = key.fileobj, key.data
                if events & selectors.EVENT_WRITE:
                    if sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR):
                        answers[path] = None        # refused: lost
                        sel.unregister(sock)
                        sock.close()
                        continue
                    sock.send(f"GET {path} HTTP/1.1\r\nHost: {host}\r\nConnection: close\r\n\r\n".encode())
                    sel.modify(sock, selectors.EVENT_READ, key.data)
                    continue
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    chunk = b""
                key.data[1] = got + chunk
                if not chunk:
                    head = key.data[1].split(b"\r\n", 1)[0].split()
                    answers[path] = int(head[1]) if len(head) > 1 and head[1].isdigit() else None
                    sel.unregister(sock)
                    sock.close()
    finally:
        for key in list(sel.get_map().values()):
            key.fileobj.close()
        sel.close()
    late = [p for p in paths if p not in answers]
    return answers, late, time.monotonic() - started


def figure_ping_burst(ctx):
    """1,000 concurrent healthchecks-style pings (distinct tasks, ?create=1) into a real
    `alive serve`: how long until the last is answered, how many timed out, how many
    heartbeats are missing."""
    home, key = ctx.home, "bench-ping-key-0123456789"
    env = ctx.env(ALIVE_PING_KEY=key)
    log = home / "serve-burst.log"
    serve = start_logged([ctx.python, str(ALIVE), "serve", "--port", "0"], env, log)
    try:
        url = serve_url(log, serve)
        host, port = url.split("//")[1].rstrip("/").rsplit(":", 1)
        paths = [f"/ping/{key}/burst-{n:04d}?create=1" for n in range(PING_BURST)]
        answers, late, wall = ping_burst(host, int(port), paths)
    finally:
        stop(serve)
    written = sum(1 for _ in (home / "health").glob("*_burst-*_[0-9][0-9][0-9][0-9].json"))
    ok = sum(1 for code in answers.values() if code in (200, 201))
    lost = PING_BURST - written
    r = row("ping-burst", f"{PING_BURST:,} concurrent pings -> all answered", [wall * 1000],
            [PING_BURST_TIMEOUT_S * 1000], goal=1.0,
            note=f"{len(late)} timed out (>{PING_BURST_TIMEOUT_S}s), {PING_BURST - ok - len(late)} refused, "
                 f"{lost} heartbeats lost; one wall time, ratio to the clients' {PING_BURST_TIMEOUT_S}s timeout")
    r["pass"] = r["pass"] and not late and not lost and ok == PING_BURST
    return [r]


def fleet_figures():
    import fleet  # bench/fleet.py: check, report and watchdog on synthetic fleets

    return fleet.FIGURES


FIGURES = [figure_write, figure_trigger_latency, figure_ping_burst]
OPTIONAL_FIGURES = {"breakdown": figure_write_breakdown}


# ---- report ------------------------------------------------------------------

def machine():
    info = {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "python": platform.python_version(),
        "python_executable": sys.executable,
        "cpu_count": os.cpu_count(),
    }
    if hasattr(os, "getloadavg"):
        info["load_average"] = [round(x, 2) for x in os.getloadavg()]
    info["site_pth_imports"] = pth_imports()
    return info


def pth_imports():
    """site-packages .pth files that run code at every start of this interpreter (they
    inflate the `python -c pass` baseline)."""
    import site
    found = []
    for folder in site.getsitepackages() if hasattr(site, "getsitepackages") else []:
        for pth in sorted(Path(folder).glob("*.pth")):
            try:
                lines = pth.read_text(errors="replace").splitlines()
            except OSError:
                continue
            if any(ln.startswith(("import ", "import\t")) for ln in lines):
                found.append(str(pth))
    return found


def table(rows):
    head = ("figure", "what", "median ms", "min", "max", "ratio", "vs -S", "goal", "result")
    lines = [head]
    for r in rows:
        lines.append((
            r["figure"], r["name"], f"{r['median_ms']:.1f}", f"{r['min_ms']:.1f}", f"{r['max_ms']:.1f}",
            "" if r["ratio"] is None else f"{r['ratio']:.2f}",
            "" if r["ratio_vs_no_site"] is None else f"{r['ratio_vs_no_site']:.2f}",
            "" if r["goal"] is None else f"<= {r['goal']}",
            "" if r["pass"] is None else ("PASS" if r["pass"] else "FAIL"),
        ))
    widths = [max(len(line[i]) for line in lines) for i in range(len(head))]
    numeric = {2, 3, 4, 5, 6}
    out = []
    for n, line in enumerate(lines):
        cells = [c.rjust(w) if i in numeric else c.ljust(w) for i, (c, w) in enumerate(zip(line, widths))]
        out.append("  ".join(cells).rstrip())
        if n == 0:
            out.append("  ".join("-" * w for w in widths))
    notes = [f"  {r['name']}: {r['note']}" for r in rows if r["note"]]
    return "\n".join(out + (["", "notes:"] + notes if notes else []))


def main(argv=None):
    p = argparse.ArgumentParser(description="Measure alive's figures on this machine.")
    p.add_argument("--runs", type=int, default=20, help="timed runs of each subject (default 20; at least 5)")
    p.add_argument("--out", default=str(RESULTS), help=f"results file (default {RESULTS.relative_to(ROOT)})")
    p.add_argument("--breakdown", action="store_true",
                   help="also measure where a shim write spends its time, import by import")
    p.add_argument("--only", metavar="FIGURE", help="measure only the figures whose name holds this "
                   "(write, trigger, check, report, watchdog); the README's figures come from a whole run")
    args = p.parse_args(argv)
    if args.runs < 5:
        p.error("--runs must be at least 5")

    info = machine()
    started = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    print(f"alive bench, {started}: {args.runs} runs per subject, interleaved; {info['platform']}, "
          f"Python {info['python']} ({sys.executable}), {info['cpu_count']} CPUs"
          + (f", load {info['load_average']}" if "load_average" in info else ""))
    scratch = Path(tempfile.mkdtemp(prefix="alive-bench-"))
    rows, failures = [], []
    started = time.monotonic()
    try:
        figures = FIGURES + fleet_figures() + ([OPTIONAL_FIGURES["breakdown"]] if args.breakdown else [])
        for figure in [f for f in figures if not args.only or args.only in f.__name__]:
            home = scratch / figure.__name__
            home.mkdir(exist_ok=True)
            try:
                rows += figure(Context(args.runs, home, scratch / "pycache"))
            except (BenchError, subprocess.TimeoutExpired) as exc:
                failures.append(f"{figure.__name__}: {exc}")
    finally:
        shutil.rmtree(scratch, ignore_errors=True)

    if rows:
        print()
        print(table(rows))
    missed = [r for r in rows if r["pass"] is False]
    print()
    for failure in failures:
        print(f"NOT MEASURED  {failure}")
    if missed:
        for r in missed:
            print(f"GOAL MISSED   {r['name']}: ratio {r['ratio']:.2f} > {r['goal']}")
    elif rows and not failures:
        print("all goals met")
    base = next((r for r in rows if r["name"].endswith("(baseline)")), None)
    if base and base["ratio_vs_no_site"] and base["ratio_vs_no_site"] > 1.5:
        print(f"CAUTION       the baseline spends {base['ratio_vs_no_site']:.1f}x a bare start in site; "
              f"ratios look better than they are (see 'vs -S')"
              + (f"; .pth files that import: {', '.join(info['site_pth_imports'])}" if info["site_pth_imports"] else ""))

    result = {
        "generated_at": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "duration_s": round(time.monotonic() - started, 1),
        "runs": args.runs, "warmup": WARMUP, "machine": info,
        "figures": rows, "not_measured": failures,
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    os.replace(tmp, out)
    print(f"results: {out}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
