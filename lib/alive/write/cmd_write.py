"""`alive write TASK ...`: one heartbeat from the command line (the shim's workhorse).

This is the hottest path alive has (every job, every run), so it parses its few options
with args.parse instead of argparse, and imports datetime only when a time is given.
"""
import math
import os
import sys
import time

from alive.base import paths, tokens
from alive.write import args, heartbeat
from alive.base.errors import RuntimeFailure, UsageError

USAGE = """usage: alive write TASK [--status ok|partial|skipped|error] [--summary TEXT]
                   [--started-at ISO] [--completed-at ISO] [--warning W]... [--error E]...
                   [--metric KEY=VALUE]... [--interval DUR] [--complete] [--home DIR] [--config FILE]

Write one heartbeat for TASK. Defaults: status ok, started_at = completed_at = now,
summary "<task> <status>". Times without a zone are local time."""

VALUED = {"--status", "--summary", "--started-at", "--completed-at", "--interval", "--home", "--config"}
REPEATED = {"--warning", "--error", "--metric"}
FLAGS = {"--complete"}


def metric_value(key, raw):
    """'42' -> 42, '3.5' -> 3.5, 'true' -> True; anything else stays a string. A number
    written with digits other than 0-9 ('５', '٣') is refused: int() would quietly read
    it as 5 or 3, and a dashboard would show a value nobody wrote."""
    low = raw.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    value = _number(raw)
    if value is None:
        return raw
    if not raw.isascii():
        raise UsageError(f"--metric {key}: {raw!r} is written with digits other than 0-9; write it with 0-9")
    return value


def _number(raw):
    """int or finite float, or None when raw is not a number (NaN/inf are not JSON)."""
    try:
        return int(raw)
    except ValueError:
        pass
    try:
        value = float(raw)
    except ValueError:
        return None
    return value if math.isfinite(value) and abs(value) <= heartbeat.NUMBER_MAX else None


def parse_metrics(pairs):
    metrics = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--metric {pair!r} must be KEY=VALUE")
        metrics[key.strip()] = metric_value(key.strip(), value)
    return metrics


def _time(option, raw):
    if raw is None:
        return None
    from alive.base.timeutil import parse_iso

    try:
        return parse_iso(raw, naive_as_local=True)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def main(argv):
    opts = args.parse(argv, "alive write", USAGE, VALUED, REPEATED, FLAGS)
    home = paths.home_text(opts.get("home"))
    # known before the heartbeat is built: its summary is scrubbed before it is cut to 200
    tokens.remember_config(paths.config_text(home, opts.get("config")), home)   # scrubbed from the file
    now = time.time()
    started = _time("--started-at", opts.get("started-at"))
    completed = _time("--completed-at", opts.get("completed-at"))
    problem = (heartbeat.future_problem("--started-at", started, now)
               or heartbeat.future_problem("--completed-at", completed, now))
    if problem:
        raise UsageError(problem)
    try:
        hb = heartbeat.build(
            opts["positional"], now, status=opts.get("status", "ok"), summary=opts.get("summary"),
            started_at=started, completed_at=completed,
            warnings=opts["warning"], errors=opts["error"], metrics=parse_metrics(opts["metric"]),
            interval_s=args.duration("alive write", "--interval", opts.get("interval")), complete=True if opts.get("complete") else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    folder = os.path.join(home, "health")
    new_home = not os.path.isdir(home)
    try:
        path = heartbeat.write(folder, hb)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write to health folder {folder}: {exc.strerror or exc}") from None
    if new_home:   # once: a mistyped ALIVE_HOME would otherwise fill a folder nobody watches
        paths.say_created("alive write", home)
    sys.stdout.write(path + "\n")
    return 0
