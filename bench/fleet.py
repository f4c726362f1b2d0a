"""The fleet-sized figures of `make bench`: check, report and the idle watchdog tick on
synthetic ALIVE_HOMEs (1,000 tasks x 10, 100 and 300 heartbeats; 200 fresh sources).

Each builds its folder once per bench run (shared between figures), then times the
subjects interleaved with their baseline, as bench.py does for the write figures.
"""
import os
import statistics
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from measure import ALIVE, BenchError, interleaved, row

SIZES = {"10k": (100, 100), "100k": (1000, 100), "300k": (1000, 300)}   # tasks x heartbeats
HEAVY_RUNS = 5        # the naive reader takes 2 s a run: fewer runs
_BUILT = {}           # size -> home, built once per bench run


def build_home(ctx, size):
    """A health/ of tasks x beats canonical heartbeats, 15 minutes apart, newest now (so
    every task is GREEN and `alive check` exits 0), plus one _latest.json per task."""
    if size in _BUILT:
        return _BUILT[size]
    tasks, beats = SIZES[size]
    home = ctx.home.parent / f"fleet-{size}"
    health = home / "health"
    health.mkdir(parents=True)
    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    stamps = [now - timedelta(minutes=15 * n) for n in range(beats)]
    texts = [(t.strftime("%Y-%m-%d"), t.strftime("%H%M"), t.strftime("%Y-%m-%dT%H:%M:%SZ")) for t in stamps]
    template = ('{"task_id": "%s", "status": "ok", "started_at": "%s", "completed_at": "%s", '
                '"summary": "%s ok", "warnings": [], "errors": [], "metrics": {"rows": %d}, '
                '"interval_s": 900, "schema": 1}\n')
    for t in range(tasks):
        task = f"task-{t:04d}"
        for n, (day, hhmm, iso) in enumerate(texts):
            data = (template % (task, iso, iso, task, n)).encode()
            fd = os.open(health / f"{day}_{task}_{hhmm}.json", os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
            os.write(fd, data)
            os.close(fd)
            if n == 0:
                (health / f"{task}_latest.json").write_bytes(data)
    _BUILT[size] = home
    return home


def peak_rss_mib(argv, env):
    """Peak resident memory of one run, from the kernel's own accounting (wait4)."""
    proc = subprocess.Popen(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode != 0:
        raise BenchError(f"{' '.join(map(str, argv))} -> exit {proc.returncode}")
    scale = 1 if sys.platform == "darwin" else 1024       # ru_maxrss: bytes on macOS, KiB on Linux
    return usage.ru_maxrss * scale / (1 << 20)


NAIVE = ("import json, os, sys\n"
         "d = os.path.join(sys.argv[1], 'health')\n"
         "for e in os.scandir(d):\n"
         "    with open(e.path, 'rb') as f:\n"
         "        json.load(f)\n")
SCANDIR = "import os, sys\nsum(1 for _ in os.scandir(os.path.join(sys.argv[1], 'health')))\n"


RACY_S = 3    # lib/alive/check/listcache.py: a folder changed more recently than this is always listed


def new_heartbeat(home, serial):
    """One more run of one task, now: what a fleet does between two checks."""
    return write_run(home, f"task-{serial % SIZES['10k'][0]:04d}", serial + 2)


def write_run(home, task, suffix, status="ok"):
    """A run of `task` that started now, in the file alive would name for it (a minute's
    `suffix`-th); -> its path."""
    now = datetime.now(timezone.utc)
    iso = now.strftime("%Y-%m-%dT%H:%M:%SZ")
    errors = '["boom"]' if status == "error" else "[]"
    path = home / "health" / f"{now:%Y-%m-%d}_{task}_{now:%H%M}-{suffix}.json"
    path.write_text(f'{{"task_id": "{task}", "status": "{status}", "started_at": "{iso}", "completed_at": "{iso}", '
                    f'"summary": "{task} {status}", "warnings": [], "errors": {errors}, "metrics": {{}}, '
                    f'"interval_s": 900, "schema": 1}}\n')
    return path


def wait_until_settled(home):
    """Until health/ was last changed more than RACY_S ago, as in a fleet between writes:
    only then may check trust its listing cache without listing the folder."""
    changed = (home / "health").stat().st_mtime
    time.sleep(max(0.0, changed + RACY_S + 0.2 - time.time()))


def figure_check(ctx):
    """alive check against a bare listing of health/, at three sizes, three ways: health/
    unchanged since the last check (its listing cache trusted without a listing), one new
    heartbeat since the last check (health/ listed, its names compared with the cache's),
    and no cache (a full scan, as after a prune). Memory; the naive way."""
    py, rows, serial = ctx.python, [], iter(range(10 ** 6))
    for size in SIZES:
        home = build_home(ctx, size)
        env = ctx.env(ALIVE_HOME=str(home))
        cache = home / "state" / "health-listing.cache"
        scandir, check = [py, "-c", SCANDIR, str(home)], [py, str(ALIVE), "check"]
        goal = None if size == "10k" else 2.0
        wait_until_settled(home)
        times = interleaved({"scandir": scandir, "check": check}, ctx.runs, env)
        base, unchanged = times["scandir"], times["check"]
        rows.append(row("check", f"os.scandir listing, {size} files (baseline)", base, base))
        rows.append(row("check", f"alive check, {size} files, unchanged since the last check", unchanged, base,
                        goal=goal))
        if size == "100k":
            # apart, and fewer runs: 2 s a run, and a pass over 100,000 files would slow
            # whatever runs next in the same round (the baseline above, for one)
            times = interleaved({"scandir": scandir, "naive": [py, "-c", NAIVE, str(home)]}, HEAVY_RUNS, env)
            faster = statistics.median(times["naive"]) / statistics.median(unchanged)
            rows.append(row("check", f"naive json.load of every file, {size}", times["naive"], times["scandir"],
                            note=f"alive check is {faster:.1f}x faster ({HEAVY_RUNS} runs)"))
        times = interleaved({"scandir": scandir, "new": check, "cold": check}, ctx.runs, env, before={
            "new": lambda: new_heartbeat(home, next(serial)), "cold": lambda: cache.unlink(missing_ok=True)})
        base = times["scandir"]
        rows.append(row("check", f"os.scandir listing, {size} files (baseline)", base, base))
        rows.append(row("check", f"alive check, {size} files, one new heartbeat since the last check",
                        times["new"], base, goal=goal))
        rows.append(row("check", f"alive check, {size} files, no listing cache (first check, after a prune)",
                        times["cold"], base))
        if size == "100k":
            rows += failing_task_rows(home, env, scandir, check, ctx.runs)
    home = build_home(ctx, "100k")
    peaks = [peak_rss_mib([py, str(ALIVE), "check"], ctx.env(ALIVE_HOME=str(home))) for _ in range(3)]
    mem = row("check", "alive check, 100k files: peak memory (MiB, goal in ratio: x 64 MiB)", peaks,
              [64.0] * len(peaks), goal=1.0, note=f"peak resident memory {statistics.median(peaks):.1f} MiB")
    mem["unit"] = "MiB"
    rows.append(mem)
    return rows


def failing_task_rows(home, env, scandir, check, runs):
    """One task whose newest run failed: check walks back through its runs (how many
    failed in a row), which needs the listing in name order. The file is taken away after."""
    failed = write_run(home, "task-0000", 9999, status="error")     # the newest of its minute
    wait_until_settled(home)
    try:
        times = interleaved({"scandir": scandir, "red": check}, runs, env, codes={"red": 2})
    finally:
        failed.unlink()
    base = times["scandir"]
    return [row("check", "os.scandir listing, 100k files (baseline)", base, base),
            row("check", "alive check, 100k files, one task failing (its runs walked back), RED", times["red"], base,
                goal=2.0)]


def figure_report(ctx):
    """The html dashboard against check, on the 100k folder."""
    home = build_home(ctx, "100k")
    out = ctx.home / "index.html"
    subjects = {"check": [ctx.python, str(ALIVE), "check"],
                "report": [ctx.python, str(ALIVE), "report", "--format", "html", "--out", str(out)]}
    times = interleaved(subjects, ctx.runs, ctx.env(ALIVE_HOME=str(home)))
    return [row("report", "alive check, 100k files (baseline)", times["check"], times["check"]),
            row("report", "alive report --format html, 100k files", times["report"], times["check"], goal=2.0,
                note="its run-strip cache (state/report-runs.json) is filled by the warm-up runs")]


def figure_watchdog(ctx):
    """An idle watchdog tick (200 fresh sources, nothing to refresh) against check."""
    home = ctx.home
    data = home / "data"
    data.mkdir()
    now = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    lines = []
    for n in range(200):
        (data / f"s{n:03d}.json").write_text(f'{{"captured_at": "{now}", "rows": {n}}}\n')
        lines.append(f'[sources.s{n:03d}]\npath = "data/s{n:03d}.json"\nmax_age = "1h"\nproducer = ["true"]\n')
    (home / "fleet.toml").write_text("\n".join(lines))
    # The watchdog goes first: until it has reported once, check is RED (exit 2).
    subjects = {"watchdog": [ctx.python, str(ALIVE), "watchdog"], "check": [ctx.python, str(ALIVE), "check"]}
    times = interleaved(subjects, ctx.runs, ctx.env())
    return [row("watchdog", "alive check, 200 sources (baseline)", times["check"], times["check"]),
            row("watchdog", "alive watchdog, idle tick, 200 fresh sources", times["watchdog"], times["check"],
                goal=1.5)]


FIGURES = [figure_check, figure_report, figure_watchdog]
