"""`alive report --format text|markdown|json|html [--out FILE]`: what a person needs to see.

The report reads more than check does (the last HISTORY_DEPTH heartbeats of each task,
for the strip of runs) and nothing more. It builds one View from the facts and the
health result; render_markdown and render_html turn a View into text and share the
plain-words helpers of report/words.py (times, advice), so the brief and the page say the same thing.
It writes no alerts and sends nothing; its one write is a cache of runs already read,
in state/ (see history), which only ever saves time.
"""
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from alive.check import facts as facts_mod
from alive.check import health
from alive.check.scan import display_name
from alive.report.words import (  # noqa: F401 (report.advice & co. stay where callers find them)
    advice,
    age_words,
    ago_words,
    badge_counts,
    instant,
    iso_short,
    ordered,
    span,
    trigger_life)

HISTORY_DEPTH = 20
FORMATS = ("text", "markdown", "json", "html")
SUCCESS = ("ok", "skipped", "partial")
STATUSES = frozenset(SUCCESS + ("error",))


@dataclass
class View:
    """Everything a renderer shows. Strings in here are raw: renderers escape them."""
    result: health.Result
    now: datetime
    runs: dict                     # task -> [run dict], newest first
    runs_24h: dict                 # task -> int
    pending: dict                  # source -> [queued trigger requests not yet taken by the runner]
    registry: object
    home: object = None
    counts: dict = field(default_factory=dict)
    running: dict = field(default_factory=dict)     # source -> what the trigger runner is doing now
    results: dict = field(default_factory=dict)     # source -> how its newest trigger ended
    pending_problem: str | None = None              # the queue could not be read (http-kv down)
    refused: list = field(default_factory=list)     # messages a channel refused for good lately (notify)

    @property
    def pending_count(self):
        return sum(len(requests) for requests in self.pending.values())

    @property
    def running_count(self):
        """Tasks whose run is going on now (a live marker) and sources the trigger runner refreshes."""
        tasks = sum(1 for i in self.result.items if i.kind == "task" and i.details.get("running_since"))
        return tasks + sum(1 for r in self.running.values() if r.get("started"))


def gather(home, reg, now, depth=1):
    """(facts, result): check's evaluation (depth 1 reads exactly what check reads)."""
    f = facts_mod.gather(reg, home, now, depth)
    return f, health.evaluate(reg, f, now)


def build_view(home, reg, now, depth=HISTORY_DEPTH, pending=None):
    """The View. Decisions come from check's own reads; with depth > 1 each task's
    newest `depth` runs are added for the strip (see history). `pending`: the queue's
    ([request], problem) when the caller has it (serve caches a KV listing), else read here."""
    from alive.correct import queue, triggers

    f, result = gather(home, reg, now)
    cutoff = now - timedelta(hours=24)
    if depth > 1:
        runs, broken = history(home, reg, f, depth)
        seen = {entry["file"] for entry in result.invalid_files}
        result.invalid_files = result.invalid_files + [b for b in broken if b["file"] not in seen]
    else:
        runs = {name: [run_of(b) for b in t.history[:1]] for name, t in f.tasks.items()}
    runs_24h = {name: runs_since(f, name, cutoff) for name in f.tasks}
    view = View(result, now, runs, runs_24h, {}, reg, home, counts(result))
    if reg.notify.ntfy or reg.notify.command:
        from alive.notify.outbox import recent_refusals

        view.refused = recent_refusals(home, now)
    if reg.sources:
        view.running, view.results = triggers.progress(home)
        taken = {ref for r in view.running.values() for ref in r["refs"]}
        requests, view.pending_problem = pending if pending is not None else queue.pending_requests(home, reg)
        for request in requests:
            if request["ref"] not in taken:     # taken: the runner is at it (shown as running)
                view.pending.setdefault(request["source"], []).append(request)
    return view


# The strip of runs reads up to 20 files per task where check reads one: on a
# 1,000-task health/ that is 20,000 reads, too slow for a page rendered every few
# minutes. Canonical heartbeat files are written once and never rewritten (DESIGN §3,
# atomic.create_new), so what a run says is remembered by file name in this cache.
# Decisions never use it (they come from check's fresh reads), only the strip does;
# it is pruned to the files on show, holds only valid runs (a broken file is read
# every time, so fixing it shows), and a missing, corrupt or unwritable cache only
# costs time.
CACHE_NAME = "report-runs.json"
CACHE_VERSION = 2
RUN_FIELDS = ("status", "started_at", "completed_at", "duration_s", "summary", "problem", "exit_code")


def history(home, reg, f, depth):
    """-> ({task: [run, newest first]}, [broken files met]): the newest `depth` files of
    each task, from check's reads, the cache, or a fresh read (scan.read_beat)."""
    import os
    from itertools import islice

    from alive.base import paths, statefile
    from alive.check import scan

    folder = paths.health_dir(home)
    cache_path = paths.state_dir(home) / CACHE_NAME
    doc, warning = statefile.load(cache_path)     # the report writes it: a damaged one is set aside
    if warning:
        print(f"alive report: warning: {warning}", file=sys.stderr)
    cached = doc.get("runs") if doc.get("version") == CACHE_VERSION and isinstance(doc.get("runs"), dict) else {}
    keep, changed, runs, broken = {}, False, {}, []
    for name, t in f.tasks.items():
        read = {beat.name: beat for beat in t.history}
        rows = []
        for file in islice(facts_mod.task_files(f, name), depth):
            if not isinstance(file, str):
                if not scan.canonical_pairs([file.name]):   # legacy bare name, <task>_latest.json: read
                    rows.append(run_of(file))
                    continue
                read[file.name], file = file, file.name     # the newest, read for its mtime
            if file in read:
                row, packed = run_of(read[file]), None
            else:
                packed = cached.get(file)
                row = unpack(packed, file)
            if row is None:
                packed = None
                problem = scan.impossible_time(file)
                row = run_of(scan.Beat(file, None, [problem], []) if problem else scan.read_beat(folder, file, name))
                changed = True
            if row["problem"] is None:      # broken files are read again: one may be fixed in place
                keep[file] = packed or [row[k] for k in RUN_FIELDS]
            else:
                broken.append({"file": facts_mod.shown_path(os.path.join(folder, file), home),
                               "problem": row["problem"]})
            rows.append(row)
        runs[name] = rows
    if changed or len(keep) != len(cached):
        save_cache(cache_path, {"version": CACHE_VERSION, "runs": keep})
    return runs, broken


def unpack(packed, file):
    """A cached run back into a row, or None when the entry is not one we wrote."""
    if not isinstance(packed, list) or len(packed) != len(RUN_FIELDS):
        return None
    status, started, completed, took, summary, problem, exit_code = packed
    if type(status) is not str or status not in STATUSES or problem is not None or type(started) is not str \
            or type(completed) is not str or type(summary) is not str \
            or not (took is None or type(took) in (int, float)) or not (exit_code is None or type(exit_code) is int):
        return None
    return {"file": display_name(file), "status": status, "started_at": started, "completed_at": completed,
            "duration_s": took, "summary": summary, "problem": None, "errors": (), "warnings": (), "metrics": {},
            "exit_code": exit_code}


def save_cache(path, doc):
    import os

    from alive.base import atomic

    try:
        os.makedirs(os.path.dirname(path), exist_ok=True)
        # ASCII escapes: a legacy file name that is not UTF-8 (surrogates) still round-trips
        atomic.write_atomic(path, json.dumps(doc, separators=(",", ":")))
    except (OSError, ValueError):
        # An unwritable state/ only means the next report reads the files again.
        return


def counts(result):
    out = {c: 0 for c in (health.RED, health.YELLOW, health.GREEN, health.GREY)}
    for item in result.items:
        out[item.color] = out.get(item.color, 0) + 1
    return out


def run_of(beat, full=False):
    """One heartbeat as a row of the history (a broken file is a row too). full: with what
    only the run log shows (output_tail, host)."""
    if not beat.valid:
        return {"file": display_name(beat.name), "status": None, "started_at": None, "completed_at": None,
                "duration_s": None, "summary": None, "errors": [], "warnings": [], "metrics": {},
                "problem": beat.errors[0] if beat.errors else "invalid", "exit_code": None}
    hb = beat.data
    code = hb.get("exit_code")
    row = {"file": display_name(beat.name), "status": hb["status"], "started_at": hb["started_at"],
           "completed_at": hb["completed_at"], "duration_s": duration_of(hb), "summary": hb["summary"],
           "errors": hb["errors"], "warnings": hb["warnings"], "metrics": hb["metrics"], "problem": None,
           "exit_code": code if type(code) is int else None}
    if full:
        tail = hb.get("output_tail")
        row.update(output_tail=tail if isinstance(tail, str) else None,
                   host=hb.get("host") if isinstance(hb.get("host"), str) else None)
    return row


RUN_LOG_DEPTH = 50


def task_log(home, reg, name, now, depth=RUN_LOG_DEPTH):
    """/task/<id>: (the task's Item, its newest `depth` runs read whole, newest first), or
    None when no such task is judged (a name that is not a task is never used as a path:
    only the listing's own file names are read)."""
    from itertools import islice

    from alive.base import paths
    from alive.check import scan

    f, result = gather(home, reg, now)
    item = next((i for i in result.items if i.kind == "task" and i.name == name), None)
    if item is None:
        return None
    folder = paths.health_dir(home)
    rows = []
    for entry in islice(facts_mod.task_files(f, name), depth):
        beat = entry if not isinstance(entry, str) else scan.read_beat(folder, entry, name)
        rows.append(run_of(beat, full=True))
    return item, rows


def duration_of(hb):
    """duration_s when the writer gave it, else completed_at - started_at."""
    value = hb.get("duration_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return round(float(value), 3)
    try:
        return round((instant(hb["completed_at"]) - instant(hb["started_at"])).total_seconds(), 3)
    except (ValueError, TypeError, KeyError):
        return None


def runs_since(f, task, cutoff):
    """How many of a task's runs started at or after cutoff (and not in the future), from
    the names alone: no file is read for this."""
    from alive.check import scan

    since = facts_mod.minute_of(cutoff)
    if task not in f.legacy:
        if task not in f.latest_files:      # (check's walk has usually decided it)
            next(facts_mod.task_files(f, task), None)
        # a <task>_latest.json newer than every other file is one more run (a broken one
        # has no time to count by: check lists it as invalid)
        latest = f.latest_files[task]
        extra = latest is not None and latest.valid and facts_mod.entry_minute(latest) >= since
        return scan.count_between(f.listing, task, since, f.cutoff) + extra
    count = 0       # rare: legacy files, whose times are only inside them, walked in order
    for entry in facts_mod.task_files(f, task):
        if isinstance(entry, scan.Beat) and not entry.valid:
            continue                        # a broken <task>_latest.json: no time, no run
        if facts_mod.entry_minute(entry) < since:
            break
        count += 1
    return count


# ---------------------------------------------------------------- words shared by the renderers


# ---------------------------------------------------------------- json


def to_json(view):
    """check's JSON, plus each task's recent runs (newest first) and runs in the last 24 h."""
    doc = view.result.to_json()
    for item in doc["items"]:
        if item["kind"] == "task":
            item["runs_24h"] = view.runs_24h.get(item["name"], 0)
            item["history"] = [
                {k: r[k] for k in ("started_at", "completed_at", "status", "duration_s")} |
                ({"invalid": r["problem"], "file": r["file"]} if r["problem"] else {})
                for r in view.runs.get(item["name"], [])]
        elif item["kind"] == "source":
            item["pending_triggers"] = len(view.pending.get(item["name"], []))
    return doc


# ---------------------------------------------------------------- command line


def render(view, fmt, color=False, **html_options):
    """The report as text, scrubbed of alive's tokens (a job may have printed one into a
    heartbeat written by a tool that does not scrub, such as the shim's bash fallback).
    Markdown is read in a terminal too: its control characters are made visible (the text
    table's are, cell by cell, before its colors are painted)."""
    from alive.base.tokens import printable, scrub

    return (printable if fmt == "markdown" else scrub)(_render(view, fmt, color, **html_options))


def _render(view, fmt, color=False, **html_options):
    if fmt == "text":
        from alive.report import textview

        return textview.table(view.result, color) + "\n"
    if fmt == "markdown":
        from alive.report import render_markdown

        return render_markdown.render(view)
    if fmt == "json":
        return json.dumps(to_json(view), indent=2, ensure_ascii=False) + "\n"
    from alive.report import render_html

    return render_html.render(view, **html_options)


def main(argv):
    from alive import cliutil
    from alive.cliutil import load
    from alive.base.errors import RuntimeFailure
    from alive.base.timeutil import utcnow

    p = cliutil.parser("report", "Render the health of the fleet for people (text, markdown, html) or tools (json).")
    p.add_argument("--format", choices=FORMATS, default="text", help="text (default), markdown, json or html")
    p.add_argument("--out", help="write to this file (atomically) instead of standard output")
    args = p.parse_args(argv)
    import gc

    # A one-shot command that holds ~100k small objects on a big health/ (the listing, 20
    # runs per task): the cyclic collector would walk them again and again for nothing
    # (nothing here makes cycles that matter); reference counting still frees memory.
    # Worth ~15% of `alive report --format html` there. `alive serve` keeps the collector.
    gc.disable()
    home, reg = load(args)
    view = build_view(home, reg, utcnow(), HISTORY_DEPTH if args.format in ("json", "html") else 1)
    text = render(view, args.format, color=not args.out and args.format == "text" and _tty_color())
    if not args.out:
        sys.stdout.write(text)
        sys.stdout.flush()
        return 0
    write_out(args.out, text, RuntimeFailure, home)
    print(f"alive report: wrote {args.out} ({args.format})")
    if args.format == "html":
        from alive.report import badges

        try:
            badges.write_beside(args.out, view.result)
        except OSError as exc:
            raise RuntimeFailure(f"cannot write the badges beside {args.out}: {exc.strerror or exc}") from None
    return 0


def write_out(path, text, failure, home):
    """--out FILE: atomically. Inside ALIVE_HOME alive makes its folders (site/, ...) as
    everywhere; elsewhere the folder must exist: making a mistyped path's folders would
    leave the output where nothing reads it."""
    import os

    from alive.base import atomic
    from alive.base.errors import UsageError

    folder = os.path.dirname(os.path.abspath(path))
    inside = (folder + os.sep).startswith(os.path.abspath(home) + os.sep)
    if not os.path.lexists(folder):
        if not inside:
            raise UsageError(f"cannot write {path}: folder {folder} does not exist (create it first)")
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            raise failure(f"cannot create {folder}: {exc.strerror or exc}") from None
    try:
        atomic.write_atomic(path, text)
    except OSError as exc:
        raise failure(f"cannot write {path}: {exc.strerror or exc}") from None


def _tty_color():
    from alive.report import textview

    return textview.use_color(sys.stdout)
