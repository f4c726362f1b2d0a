"""What bench.py and fleet.py both measure with: run a subject, interleave subjects with
their baseline, make a row of figures. Imports neither of them."""
import statistics
import subprocess
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
ALIVE = ROOT / "bin" / "alive"
WARMUP = 2  # runs of each subject before timing starts (page cache, pyc files)


class BenchError(Exception):
    """A subject could not be measured (it failed, or did not do its work)."""


def run_once(argv, env, code=0):
    """Wall time of one run in ms; BenchError if it exits other than `code` or complains."""
    t0 = time.perf_counter()
    proc = subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, timeout=60)
    elapsed = (time.perf_counter() - t0) * 1000
    if proc.returncode != code or proc.stderr.strip():
        raise BenchError(f"{' '.join(map(str, argv))} -> exit {proc.returncode}: "
                         f"{proc.stderr.decode(errors='replace').strip()[:300]}")
    return elapsed


def interleaved(subjects, runs, env, before=None, codes=None):
    """{name: [ms, ...]}: the subjects run round-robin, so drift and noise hit them alike.
    before: {name: function} called (untimed) before each run of that subject; codes:
    {name: the exit code it must end with} (else 0)."""
    before, codes = before or {}, codes or {}
    times = {name: [] for name in subjects}
    for n in range(WARMUP + runs):
        for name, argv in subjects.items():
            before.get(name, lambda: None)()
            ms = run_once(argv, env, codes.get(name, 0))
            if n >= WARMUP:
                times[name].append(ms)
    return times


def row(figure, name, samples, baseline=None, goal=None, note="", bare=None):
    """bare: samples of an interpreter started without site (-S), a second yardstick that
    site-packages .pth files cannot inflate; shown as 'vs -S', never judged."""
    median = statistics.median(samples)
    ratio = median / statistics.median(baseline) if baseline else None
    return {
        "figure": figure, "name": name, "runs": len(samples),
        "median_ms": round(median, 2), "min_ms": round(min(samples), 2), "max_ms": round(max(samples), 2),
        "ratio": round(ratio, 3) if ratio is not None else None,
        "ratio_vs_no_site": round(median / statistics.median(bare), 3) if bare else None,
        "goal": goal, "pass": None if goal is None else ratio <= goal, "note": note,
        "samples_ms": [round(x, 2) for x in samples],
    }
