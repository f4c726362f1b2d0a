"""`alive report --format text|markdown|json|html [--out FILE]`: what a person needs to see.

The report reads more than check does (the last HISTORY_DEPTH heartbeats of each task,
for the strip of runs) and nothing more. It builds one View from the facts and the
health result; render_markdown and render_html turn a View into text and share the
plain-words helpers below (times, advice), so the brief and the page say the same thing.
It writes no alerts and sends nothing; its one write is a cache of runs already read,
in state/ (see history), which only ever saves time.
"""
import json
import sys
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from . import facts as facts_mod
from . import health
from .scan import display_name
from .timeutil import format_duration, parse_iso, seconds_between

HISTORY_DEPTH = 20
FORMATS = ("text", "markdown", "json", "html")
SUCCESS = ("ok", "skipped", "partial")
STATUSES = frozenset(SUCCESS + ("error",))
TRIGGER_RECENT_S = 3600        # "refreshed 12s ago by a trigger" is shown for this long


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
    from . import queue, triggers

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
        from .notify import recent_refusals

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

    from . import paths, scan, statefile

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

    from . import atomic

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

    from . import paths, scan

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


def instant(text):
    """A validated heartbeat time -> aware datetime. fromisoformat takes the 'Z' in 3.11
    and is many times faster than parse_iso; the report parses 20 of these per task."""
    return datetime.fromisoformat(text)


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
    from . import scan

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


def ordered(items):
    """RED first, then YELLOW, GREEN, GREY; by name within a color."""
    return sorted(items, key=lambda i: (-health.RANK.get(i.color, 0), i.name))


# ---------------------------------------------------------------- words shared by the renderers


def clock(d):
    """07:05, on the 24-hour clock that schedules, check's reasons and the brief use too."""
    return f"{d:%H:%M}"


def local_time(dt):
    """2026-05-02 23:00 in the local zone (TZ)."""
    d = dt.astimezone()
    return f"{d:%Y-%m-%d} {clock(d)}"


def zoned(dt):
    """2026-05-02 23:00 CEST: an absolute time as the page shows it on hover."""
    d = dt.astimezone()
    return f"{local_time(d)} {d:%Z}".rstrip()


def short_time(dt, now):
    """07:05 CEST today, Fri 07:05 CEST within the week, else the date: for lists of runs."""
    d, n = dt.astimezone(), now.astimezone()
    zone = f" {d:%Z}".rstrip()
    if d.date() == n.date():
        return clock(d) + zone
    if abs((n.date() - d.date()).days) < 7:
        return f"{d:%a} {clock(d)}{zone}"
    return f"{d:%Y-%m-%d} {clock(d)}{zone}"


def iso_short(text, now):
    """An ISO time from a heartbeat or a state file in short local words; raw text when odd."""
    try:
        return short_time(instant(text) if text[-1:] == "Z" else parse_iso(text), now)
    except (ValueError, TypeError, OverflowError):
        return str(text)


def span(seconds):
    """45 s, 12 min, 3 h 5 min, 40 h, 2 d 4 h: how the page says a length of time. The
    page's script says ages in the same words (render_html.SCRIPT: keep the two alike)."""
    s = int(abs(seconds))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min"
    if s < 3 * 86400:
        h, m = divmod(s // 60, 60)
        return f"{h} h {m} min" if m and h < 10 else f"{h} h"
    d, h = divmod(s // 3600, 24)
    return f"{d} d {h} h" if h and d < 10 else f"{d} d"


def ago_words(seconds):
    """12 min ago, just now, in 5 min."""
    if abs(seconds) < 5:
        return "just now"
    return f"{span(seconds)} ago" if seconds > 0 else f"in {span(seconds)}"


def ago(text, now):
    """'12 min ago' for an ISO time, None when it is not one."""
    try:
        return ago_words(seconds_between(parse_iso(text), now))
    except (ValueError, TypeError, OverflowError):
        return None


def age_words(seconds):
    return "-" if seconds is None else format_duration(seconds)


def badge_counts(view):
    c = view.counts
    parts = [f"{len(view.result.items)} item{'s' if len(view.result.items) != 1 else ''}",
             f"{c[health.RED]} RED", f"{c[health.YELLOW]} YELLOW"]
    return parts + grey_counts(view)


def grey_counts(view):
    """The GREY items in words: ["1 paused", "2 waiting"] (a task waiting for its first
    expected run is GREY too, and is not paused); none when there are none."""
    paused = sum(1 for i in view.result.items if i.color == health.GREY and i.details.get("paused"))
    waiting = view.counts[health.GREY] - paused
    return [f"{n} {word}" for n, word in ((paused, "paused"), (waiting, "waiting")) if n]


def newest_notes(view, name):
    """(errors, warnings) of the task's newest readable run."""
    for run in view.runs.get(name, []):
        if run["status"] is not None:
            return run["errors"], run["warnings"]
    return [], []


def plain(value):
    """Untrusted text inside advice: its backticks become quotes, so that backticks in
    advice only ever mark our own commands (renderers show those as code)."""
    return str(value).replace("`", "'")


def advice(item, view):
    """What a person should do about a RED (or YELLOW) item, in plain words; `...` marks a
    command. Names are registry/task names (a restricted alphabet); other text goes through plain()."""
    d = item.details
    if item.kind == "source":
        name = item.name
        if d.get("probe") in ("expired", "no_tab"):
            source = view.registry.sources.get(name)
            probe = source.probe if source else "its probe"
            return (f"Re-authenticate: the {probe} session is {d['probe']} (log in again, "
                    f"then run `alive probe`).")
        if d.get("consecutive_failures"):
            n = d["consecutive_failures"]
            return (f"Check the producer: {n} refresh{'es' if n > 1 else ''} failed in a row "
                    f"(its last error is above); `alive refresh {name}` tries again.")
        if d.get("age_s") is None:
            return f"The data file is missing or unreadable: run `alive refresh {name}` or check its producer."
        if d.get("age_s") is not None and d.get("max_age_s") is not None and d["age_s"] > d["max_age_s"]:
            return f"The data is stale: check that `alive watchdog` is scheduled, or run `alive refresh {name}`."
        return "Check the producer and its data file."
    runs = view.runs.get(item.name, [])
    if d.get("running_since") and any(r.startswith("hung:") for r in item.reasons):
        since = plain(iso_short(d["running_since"], view.now))
        return f"A run has been going since {since}: look at the process, stop it if it hangs."
    if not runs:
        return "It has never reported: check that it is scheduled and that it writes a heartbeat."
    if runs[0]["status"] is None:
        return (f"Its newest heartbeat file ({plain(runs[0]['file'])}) is broken: fix its writer "
                f"(`alive lint` says what is wrong).")
    if d.get("age_s") is not None and d.get("max_gap_s") is not None and d["age_s"] > d["max_gap_s"] \
            and not d.get("complete"):
        return (f"It has not run since {plain(iso_short(d.get('last_completed_at'), view.now))}: check its schedule "
                f"(`alive schedule`) and its logs.")
    if d.get("last_status") == "error":
        return "Read the errors of the failed run (and its log), fix the cause, then run it again."
    if d.get("blocked_by"):
        return f"Fix {', '.join(d['blocked_by'])} first: this task depends on it."
    if d.get("last_status") == "partial" or d.get("consecutive_errors"):
        return "Read the warnings of the last run: the job needs a person."
    return "Read the reasons above."


def trigger_note(item, view):
    """'refreshed 12 s ago by a trigger' while a trigger is recent, else None."""
    life = trigger_life(item, view)
    return life[1] if life else None


def recent(text, now):
    """The ISO time when it is within the last TRIGGER_RECENT_S, else None."""
    try:
        at = parse_iso(text)
    except (ValueError, TypeError, OverflowError):
        return None
    return at if 0 <= seconds_between(at, now) <= TRIGGER_RECENT_S else None


def trigger_life(item, view, when=None):
    """A source's trigger as (state, words), newest fact first, or None:
    running   the trigger runner took the request ("refreshing now, asked 20 s ago");
    queued    a request waits for the runner ("queued 20 s ago"): not yet green;
    refreshed, failed, refused: how the newest trigger ended, for TRIGGER_RECENT_S
              ("not refreshed: login expired at vendor-portal").
    when(iso text) says a time (None when it is none): "20 s ago" unless given (the page gives its own)."""
    name, now = item.name, view.now
    when = when or (lambda text: ago(text, now))
    run = view.running.get(name)
    if run:
        asked = when(run.get("taken_at"))
        if run.get("started"):
            return "running", f"refreshing now (taken {asked})" if asked else "refreshing now"
        return "running", "taken by the trigger runner: its refresh starts soon"
    queued = view.pending.get(name)
    if queued:
        many = f" ({len(queued)} requests)" if len(queued) > 1 else ""
        asked = when(queued[0].get("requested_at"))
        return "queued", f"refresh queued{' ' + asked if asked else ''}{many}, waiting for the trigger runner"
    done = view.results.get(name) or {}
    d = item.details
    at = recent(done.get("at"), now)
    if at is not None and (not d.get("last_trigger_at") or recent(d["last_trigger_at"], now) is None
                           or parse_iso(d["last_trigger_at"]) <= at):
        said = when(done["at"])
        if done.get("result") == "refreshed":
            return "refreshed", f"refreshed {said} by a trigger"
        if done.get("result") == "failed":
            return "failed", f"refresh by a trigger failed {said}: {done.get('error') or 'no detail'}"
        return "refused", f"not refreshed: {refusal_words(item, view, done)} ({said})"
    return watchdog_trigger(d, now, when)


def refusal_words(item, view, done):
    """Why a trigger did not run the producer, in a person's words."""
    source = view.registry.sources.get(item.name)
    state = item.details.get("probe")
    if done.get("result") == "skipped" and source and source.probe and state in ("expired", "no_tab"):
        return (f"login expired at {source.probe}" if state == "expired"
                else f"no browser tab open for {source.probe}") + ", log in again, then trigger it again"
    return done.get("reason") or done.get("result") or "no reason given"


def watchdog_trigger(d, now, when):
    """From the watchdog's state alone (a trigger with no result noted, e.g. `alive refresh --by trigger`)."""
    triggered = recent(d.get("last_trigger_at"), now)
    if triggered is None:
        return None
    try:
        success = parse_iso(d["last_success_at"]) if d.get("last_success_at") else None
    except (ValueError, TypeError, OverflowError):
        success = None
    if success is not None and success >= triggered:
        return "refreshed", f"refreshed {when(d['last_success_at'])} by a trigger"
    return "failed", f"trigger received {when(d['last_trigger_at'])}; not refreshed"


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
    from .tokens import printable, scrub

    return (printable if fmt == "markdown" else scrub)(_render(view, fmt, color, **html_options))


def _render(view, fmt, color=False, **html_options):
    if fmt == "text":
        from . import textview

        return textview.table(view.result, color) + "\n"
    if fmt == "markdown":
        from . import render_markdown

        return render_markdown.render(view)
    if fmt == "json":
        return json.dumps(to_json(view), indent=2, ensure_ascii=False) + "\n"
    from . import render_html

    return render_html.render(view, **html_options)


def main(argv):
    from . import cliutil
    from .cmd_check import load
    from .errors import RuntimeFailure
    from .timeutil import utcnow

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
        from . import badges

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

    from . import atomic
    from .errors import UsageError

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
    from . import textview

    return textview.use_color(sys.stdout)
