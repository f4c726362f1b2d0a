"""`alive export prometheus [--out FILE]`: the fleet's health as Prometheus gauges, in the
text exposition format node_exporter's textfile collector reads (written atomically, so the
collector never scrapes half a file).

Reads what check reads: each task's newest heartbeat, and further back only while the runs
are errors (at most max(10, alert_after) files, the walk check does to count consecutive
errors). So the last success is the newest ok/skipped/partial run within that walk; a task
whose walk holds no success (10+ errors in a row, or a broken newest file) has no
alive_task_last_success_timestamp_seconds sample: alert on its absence or on
alive_task_consecutive_errors. Times are completed_at, in seconds since the epoch.

Timestamps rather than ages where Prometheus can do the subtraction itself: a source's
capture time and a task's last run are exported as they are, so `time() - ...` keeps
counting between two exports, and alive_export_timestamp_seconds says when this file was
written (an export that stopped is then an alert of its own). examples/prometheus/
alive.rules.yml holds the alerts built on them, tested by `promtool test rules`.
"""
from alive.check import facts as facts_mod
from alive.check import health
from alive.check.health import SKEW_S
from alive.report.report import SUCCESS, duration_of
from alive.base.timeutil import parse_iso

COLORS = (health.GREEN, health.YELLOW, health.RED, health.GREY)

FAMILIES = (
    ("alive_task_last_success_timestamp_seconds", "When the task's newest successful run (ok, skipped or partial) completed."),
    ("alive_task_last_run_timestamp_seconds", "When the task's newest readable run completed."),
    ("alive_task_last_duration_seconds", "How long the task's newest readable run took."),
    ("alive_task_consecutive_errors", "Runs in a row, newest first, whose status is error."),
    ("alive_task_max_gap_seconds", "Seconds without a heartbeat before the task is RED (its max gap)."),
    ("alive_task_deadline_timestamp_seconds", "When the task is late unless a new run starts: its expected run + "
                                              "grace, or its last run + max gap, whichever alive judges first."),
    ("alive_task_waiting", "1 while a registered task waits for its first expected run + grace, else 0."),
    ("alive_item_paused_until_timestamp_seconds", "When the item's pause ends (+Inf: until resumed); "
                                                  "no sample when it is not paused."),
    ("alive_item_status", "1 for the item's current health color, 0 for the other colors."),
    ("alive_item_complete", "1 when the item is finished for good (its newest heartbeat says complete), else 0."),
    ("alive_source_age_seconds", "Age of the source's data (now minus its capture time)."),
    ("alive_source_capture_timestamp_seconds", "When the source's data was captured."),
    ("alive_source_max_age_seconds", "The source's max_age from fleet.toml."),
    ("alive_overall_status", "1 for the fleet's overall health color, 0 for the other colors."),
    ("alive_export_timestamp_seconds", "When alive wrote these metrics."),
)


def label_value(value):
    """Exposition-format escaping of a label value: backslash, double quote, newline."""
    return str(value).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def labels(**pairs):
    return "{" + ",".join(f'{k}="{label_value(v)}"' for k, v in pairs.items()) + "}"


def number(value):
    value = float(value)
    if value == float("inf"):
        return "+Inf"        # https://prometheus.io/docs/instrumenting/exposition_formats/ (value: +Inf)
    return str(int(value)) if value.is_integer() and abs(value) < 2 ** 53 else repr(value)


def epoch(iso):
    return parse_iso(iso).timestamp()


def samples(facts, result):
    """{family: [(labels text, value)]}, in FAMILIES order."""
    out = {name: [] for name, _ in FAMILIES}
    for item in result.items:
        for color in COLORS:
            out["alive_item_status"].append((labels(kind=item.kind, name=item.name, color=color),
                                             1 if item.color == color else 0))
        out["alive_item_complete"].append((labels(kind=item.kind, name=item.name),
                                           1 if item.details.get("complete") else 0))
        if item.details.get("paused"):
            until = item.details["paused"].get("until")
            out["alive_item_paused_until_timestamp_seconds"].append(
                (labels(kind=item.kind, name=item.name), epoch(until) if until else float("inf")))
        if item.kind == "task":
            task_samples(out, item, facts.tasks.get(item.name), result.checked_at)
        elif item.kind == "source":
            lab = labels(source=item.name)
            if item.details.get("age_s") is not None:
                out["alive_source_age_seconds"].append((lab, item.details["age_s"]))
            if item.details.get("captured_at") is not None:
                out["alive_source_capture_timestamp_seconds"].append((lab, epoch(item.details["captured_at"])))
            out["alive_source_max_age_seconds"].append((lab, item.details["max_age_s"]))
    for color in COLORS:
        out["alive_overall_status"].append((labels(color=color), 1 if result.overall == color else 0))
    out["alive_export_timestamp_seconds"].append(("", result.checked_at.timestamp()))
    return out


def trusted_end(hb, now):
    """-> (when the run ended, as an epoch, whether completed_at was trusted). A completed_at
    beyond the skew allowance is not (check counts such a run's age from its start too)."""
    completed = epoch(hb["completed_at"])
    if completed <= now.timestamp() + SKEW_S:
        return completed, True
    return epoch(hb["started_at"]), False


def task_samples(out, item, task_facts, now):
    lab = labels(task=item.name)
    readable = [b.data for b in (task_facts.history if task_facts else []) if b.valid]
    if readable:
        ended, trusted = trusted_end(readable[0], now)
        out["alive_task_last_run_timestamp_seconds"].append((lab, ended))
        took = duration_of(readable[0]) if trusted else None
        if took is not None:
            out["alive_task_last_duration_seconds"].append((lab, took))
    success = next((hb for hb in readable if hb["status"] in SUCCESS), None)
    if success is not None:
        out["alive_task_last_success_timestamp_seconds"].append((lab, trusted_end(success, now)[0]))
    out["alive_task_consecutive_errors"].append((lab, item.details.get("consecutive_errors") or 0))
    if item.details.get("max_gap_s") is not None:
        out["alive_task_max_gap_seconds"].append((lab, item.details["max_gap_s"]))
    if item.details.get("deadline_at") is not None:
        out["alive_task_deadline_timestamp_seconds"].append((lab, epoch(item.details["deadline_at"])))
    out["alive_task_waiting"].append((lab, 1 if item.details.get("waiting") else 0))


def render(facts, result):
    lines = []
    series = samples(facts, result)
    for name, text in FAMILIES:
        lines.append(f"# HELP {name} {text}")
        lines.append(f"# TYPE {name} gauge")
        lines += [f"{name}{lab} {number(value)}" for lab, value in series[name]]
    return "\n".join(lines) + "\n"


def main(argv):
    from alive import cliutil
    from alive.cliutil import load
    from alive.base.errors import RuntimeFailure
    from alive.report.report import write_out
    from alive.base.timeutil import utcnow

    p = cliutil.parser("export", "Export the fleet's health for monitoring systems.")
    p.add_argument("target", choices=["prometheus"], help="prometheus: node_exporter textfile format")
    p.add_argument("--out", help="write to this file (atomically), e.g. "
                                 "/var/lib/node_exporter/textfile_collector/alive.prom; default: standard output")
    args = p.parse_args(argv)
    home, reg = load(args)
    now = utcnow()
    f = facts_mod.gather(reg, home, now, 1)
    from alive.base.tokens import scrub

    text = scrub(render(f, health.evaluate(reg, f, now)))
    if args.out:
        write_out(args.out, text, RuntimeFailure, home)
        print(f"alive export: wrote {args.out} ({args.target})")   # as report --out says
    else:
        import sys

        sys.stdout.write(text)
    return 0
