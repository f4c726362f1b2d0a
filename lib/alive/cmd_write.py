"""`alive write TASK ...`: one heartbeat from the command line (the shim's workhorse)."""
import math
import os
import sys

from . import cliutil, heartbeat, paths
from .errors import RuntimeFailure, UsageError
from .timeutil import parse_iso, utcnow


def metric_value(text):
    """'42' -> 42, '3.5' -> 3.5, 'true' -> True; anything else stays a string."""
    low = text.strip().lower()
    if low in ("true", "false"):
        return low == "true"
    try:
        return int(text)
    except ValueError:
        pass
    try:
        value = float(text)
    except ValueError:
        return text
    return value if math.isfinite(value) else text  # NaN/inf are not JSON


def parse_metrics(pairs):
    metrics = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or not key.strip():
            raise UsageError(f"--metric {pair!r} must be KEY=VALUE")
        metrics[key.strip()] = metric_value(value)
    return metrics


def build_parser():
    p = cliutil.parser("write", "Write one heartbeat for TASK.")
    p.add_argument("task")
    p.add_argument("--status", default="ok")
    p.add_argument("--summary")
    p.add_argument("--started-at")
    p.add_argument("--completed-at")
    p.add_argument("--warning", action="append", default=[])
    p.add_argument("--error", action="append", default=[])
    p.add_argument("--metric", action="append", default=[])
    p.add_argument("--interval", type=cliutil.duration_arg)
    p.add_argument("--complete", action="store_true")
    return p


def _time(option, text):
    if text is None:
        return None
    try:
        return parse_iso(text, naive_as_local=True)
    except ValueError as exc:
        raise UsageError(f"{option}: {exc}") from None


def main(argv):
    args = build_parser().parse_args(argv)
    try:
        hb = heartbeat.build(
            args.task, utcnow(), status=args.status, summary=args.summary,
            started_at=_time("--started-at", args.started_at),
            completed_at=_time("--completed-at", args.completed_at),
            warnings=args.warning, errors=args.error, metrics=parse_metrics(args.metric),
            interval_s=args.interval, complete=True if args.complete else None,
        )
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    folder = paths.health_dir(paths.resolve_home(args.home))
    try:
        path = heartbeat.write(folder, hb)
    except OSError as exc:
        raise RuntimeFailure(f"cannot write to health folder {folder}: {exc.strerror or exc}") from None
    sys.stdout.write(os.fspath(path) + "\n")
    return 0
