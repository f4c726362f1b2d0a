"""Gather, from disk, the facts health.py judges: the few heartbeats each decision
needs, running markers, pauses, watchdog and probe state, and each source's capture time.

Reads only: nothing here writes or sets anything aside, but for the listing cache
(listcache.py), which only ever makes a listing faster.
"""
import json
import os
from datetime import timedelta

from alive.base import paths, statefile
from alive.check import health, listcache, runs, scan
from alive.write.pingstate import created_by_pings
from alive.base.timeutil import format_iso, from_epoch, parse_iso

MAX_SOURCE_BYTES = 64 << 20


def shown_path(path, home):
    """health/x.json relative to ALIVE_HOME when inside it; never raises on odd names."""
    text = scan.display_name(os.fspath(path))
    root = os.fspath(home).rstrip("/") + "/"
    return text[len(root):] if text.startswith(root) else text


def gather(registry, home, now, depth=1):
    """-> health facts: {tasks, sources, invalid_files}. `depth` is how many of each
    task's newest heartbeats to read at least (check needs 1; the report shows more)."""
    with scan.gc_paused():
        return _gather(registry, home, now, depth)


def _gather(registry, home, now, depth):
    folder = paths.health_dir(home)
    listing = listcache.listing(folder, paths.state_dir(home) / listcache.NAME)
    invalid = []

    def note_invalid(name, problem):
        invalid.append({"file": shown_path(os.path.join(folder, name), home), "problem": problem})

    legacy = {}
    for name in listing.legacy:  # bare names: the task is only known from inside the file
        beat = scan.read_beat(folder, name)
        if not beat.valid:
            note_invalid(name, beat.errors[0])
        elif not name.startswith(beat.data["task_id"] + "_"):
            # Only <task-id>_<anything>.json is a legacy name: any other *_*.json (a backup,
            # a copy, a near-canonical name) must not count as a run of the task inside it.
            note_invalid(name, f"not a heartbeat name: neither <YYYY-MM-DD>_<task-id>_<HHMM>.json nor the "
                               f"legacy {beat.data['task_id']}_<anything>.json; not counted")
        else:
            legacy.setdefault(beat.data["task_id"], []).append(beat)

    wanted = set(registry.tasks)
    if registry.sources:
        wanted.add(health.WATCHDOG_TASK)
    markers = running_markers(home, now)
    created = created_by_pings(home)
    logged = {n[:-5] for n in listed(paths.state_dir(home) / "ping-logs") if n.endswith(".json")}
    if logged:
        from alive.write.pingstate import log_events
    if registry.settings.discover:
        # a task whose first run is in progress (a /start?create=1 ping) is judged too: hung after its max
        # runtime; so is one a ping made (?create=1 on any route) before its first run: waiting, then RED
        wanted |= set(listing.newest) | set(legacy) | set(listing.latest) | set(markers) | set(created)
    pauses = statefile.peek(paths.state_dir(home) / "pauses.json")
    gathered = Facts({}, gather_sources(registry, home, pauses), invalid, listing, legacy, now)
    seen = first_seen(registry, home)
    for name in wanted:
        task = health.registry_task(registry, name)
        future = []
        history = read_history(folder, name, task_files(gathered, name, future.append), task, depth, note_invalid)
        for entry in future:
            date, hhmm = entry_minute(entry)
            note_invalid(entry_name(entry), f"dated {date} {hhmm[:2]}:{hhmm[2:]} UTC, more than "
                                            f"{health.SKEW_S // 60} minutes in the future (clock skew?): not counted")
        gathered.tasks[name] = health.TaskFacts(name, history, markers.get(name), pauses.get(f"task:{name}"),
                                                future=[entry_name(e) for e in future],
                                                first_seen=seen.get(name) if task is not None else created.get(name),
                                                log_events=log_events(home, name) if name in logged else None)
    return gathered


FIRST_SEEN_FILE = "first-seen.json"


def listed(folder):
    try:
        return os.listdir(folder)
    except OSError:
        return []




def first_seen(registry, home):
    """task -> when it was first known (aware datetime), for registered tasks: the time
    state/first-seen.json recorded (record_first_seen), else fleet.toml's mtime (a task is
    in the file at the latest since then), so a task nobody has checked yet still waits
    only one expected run."""
    recorded = statefile.peek(paths.state_dir(home) / FIRST_SEEN_FILE).get("tasks")
    recorded = recorded if isinstance(recorded, dict) else {}
    try:
        fallback = from_epoch(os.stat(registry.path).st_mtime) if registry.path else None
    except OSError:
        fallback = None
    out = {}
    for name in registry.tasks:
        try:
            out[name] = parse_iso(recorded[name])
        except (KeyError, TypeError, ValueError):
            if fallback is not None:
                out[name] = fallback
    return out


def record_first_seen(registry, home, now):
    """Note when each registered task was first seen (state/first-seen.json), once: the
    start of its onboarding wait. Tasks gone from the registry are forgotten."""
    path = paths.state_dir(home) / FIRST_SEEN_FILE
    known = statefile.peek(path).get("tasks")
    known = known if isinstance(known, dict) else {}
    if set(known) == set(registry.tasks):
        return
    fallback = first_seen(registry, home)

    def change(doc):
        tasks = doc.get("tasks") if isinstance(doc.get("tasks"), dict) else {}
        doc["tasks"] = {name: tasks.get(name) or format_iso(min(fallback.get(name, now), now))
                        for name in registry.tasks}

    statefile.update(path, change)


class Facts(dict):
    """tasks / sources / invalid_files, as attributes (a dict keeps it printable), and the
    listing they came from, for whoever wants more of a task's files (the report)."""

    def __init__(self, tasks, sources, invalid_files, listing=None, legacy=None, now=None):
        super().__init__(tasks=tasks, sources=sources, invalid_files=invalid_files)
        self.tasks, self.sources, self.invalid_files = tasks, sources, invalid_files
        self.listing, self.legacy = listing, legacy or {}
        # A run dated after this minute is in the future beyond the skew allowance.
        self.cutoff = minute_of(now + timedelta(seconds=health.SKEW_S)) if now else ("9999-12-31", "2359")
        self.latest_files = {}   # task -> its newer <task>_latest.json as a Beat, or None (read once)
        self.newest_beats = {}   # task -> its newest canonical file, read for the test above (once)


def minute_of(dt):
    """(YYYY-MM-DD, HHMM) in UTC: the resolution of a canonical name."""
    text = format_iso(dt)
    return text[:10], text[11:13] + text[14:16]


def entry_minute(entry):
    """The start minute of a task_files entry: from the name, or from the file read."""
    if isinstance(entry, str):
        return scan.sort_key(entry)[:2]
    return minute_of(parse_iso(entry.data["started_at"]))


def entry_name(entry):
    return entry if isinstance(entry, str) else entry.name


def task_files(gathered, task, on_future=None):
    """A task's heartbeats, newest first, by name (str) or as the Beat already read
    (legacy bare names, <task>_latest.json). Lazy: a decision usually stops at the first.

    Left out, and handed to on_future: runs dated beyond the skew allowance. A clock that
    stepped forward once must not leave a file that outranks every real run after it.
    Put first: a <task>_latest.json newer than every other file (a writer that keeps only
    that file must not be ignored)."""
    newest, in_order = None, type(entries := _merged(gathered, task)) is not list
    for entry in entries:
        # (an impossible name is no time at all: read_history reports it)
        minute = entry_minute(entry)
        if in_order and newest is not None and minute <= gathered.cutoff:
            # Canonical names come newest first in name order: none after this one can be
            # in the future (an impossible one is yielded anyway), so no more tests.
            yield entry
            yield from entries
            return
        impossible = isinstance(entry, str) and scan.impossible_time(entry)
        if minute > gathered.cutoff and not impossible:
            if on_future:
                on_future(entry)
            continue
        if newest is None:
            newest = entry
            read = None
            if isinstance(entry, str) and not impossible and task in gathered.listing.latest:
                # read now: the read's fstat gives its mtime, for the <task>_latest.json test
                read = gathered.newest_beats.get(task)
                if read is None or read.name != entry:
                    read = gathered.newest_beats[task] = scan.read_beat(gathered.listing.folder, entry, task)
            latest = newer_latest_file(gathered, task, read or entry, minute, on_future)
            if read is not None and read.valid:
                entry = read        # (an invalid one goes on by name: read_history reports it)
            if latest is not None:
                yield latest
        yield entry
    if newest is None:
        latest = newer_latest_file(gathered, task, None, None, on_future)
        if latest is not None:
            yield latest


def _merged(gathered, task):
    canonical = scan.task_files(gathered.listing, task)
    old = gathered.legacy.get(task)
    if not old:
        return canonical
    # Rare: merge the legacy files in by started_at (their names say nothing).
    return sorted(list(canonical) + old, key=lambda e: (*entry_minute(e), 0 if isinstance(e, scan.Beat) else
                                                         scan.sort_key(e)[2]), reverse=True)


LATEST_SLACK_S = 2   # alive writes <task>_latest.json right after the canonical file


def newer_latest_file(gathered, task, newest, newest_minute, on_future=None):
    """<task>_latest.json as a Beat when it says more than the other files: it is the only
    one, or it was written after the newest of them (mtime) and holds a later run (than
    `newest_minute`). A stat of each (the newest's from its read, when it was read); read
    only when the times say it may be newer. Memoized."""
    if task in gathered.latest_files:
        return gathered.latest_files[task]
    gathered.latest_files[task] = None
    name = gathered.listing.latest.get(task)
    if name is None:
        return None
    folder = gathered.listing.folder
    if newest is not None:
        try:
            written = os.lstat(os.path.join(folder, name)).st_mtime
            other = getattr(newest, "mtime", None)
            if other is None:
                other = os.lstat(os.path.join(folder, entry_name(newest))).st_mtime
            if written <= other + LATEST_SLACK_S:
                return None
        except OSError:
            return None
    beat = scan.read_beat(folder, name, task)
    if beat.valid:
        if entry_minute(beat) > gathered.cutoff:
            if on_future:
                on_future(beat)
            return None
        if newest is not None and entry_minute(beat) <= newest_minute:
            return None
    gathered.latest_files[task] = beat
    return beat


def read_history(folder, name, files, task, depth, note_invalid):
    """Newest first: read `depth` files, then keep going back only while an older run
    could change a verdict (runs.read_more: errors in a row, a RED spell before ok runs,
    the runs a median needs), at most runs.needed(). Stops at an invalid file; a name with
    an impossible date is reported and passed over (it must not mask the rest)."""
    history = []
    need = runs.needed(task, depth)
    for entry in files:
        if len(history) >= need:
            break
        if isinstance(entry, str):
            problem = scan.impossible_time(entry)
            if problem:
                note_invalid(entry, problem)
                continue
            beat = scan.read_beat(folder, entry, name)
        else:
            beat = entry
        history.append(beat)
        if not beat.valid:
            note_invalid(beat.name, beat.errors[0])
            break
        if not runs.read_more(task, history, depth):
            break
    return history


def running_markers(home, now):
    """task -> marker, for runs whose process is still alive (on this host), and runs a
    /start ping opened (their process is elsewhere: they end with the finishing ping)."""
    folder = paths.running_dir(home)
    out = {}
    try:
        names = os.listdir(folder)
    except OSError:
        return out
    host = os.uname().nodename
    for name in names:
        if not name.endswith(".json") or name.startswith("."):
            continue
        marker = statefile.peek(folder / name)
        task = marker.get("task_id") or name[:-5]
        pid = marker.get("pid")
        if marker.get("via") == "ping" or (isinstance(pid, int) and (marker.get("host") not in (None, host)
                                                                       or pid_alive(pid))):
            # `alive run`'s marker and the pings' (<task>@ping.json) both open: the older run may hang
            if task not in out or str(marker.get("started_at")) < str(out[task].get("started_at")):
                out[task] = marker
    return out


def pid_alive(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def gather_sources(registry, home, pauses):
    watchdog = statefile.peek(paths.state_dir(home) / "watchdog.json").get("sources", {})
    probes = statefile.peek(paths.state_dir(home) / "probes.json")
    out = {}
    for name, source in registry.sources.items():
        captured, problem, status_value = capture_time(source, shown_path(source.path, home))
        out[name] = health.SourceFacts(
            name, captured, problem, status_value,
            watchdog.get(name) if isinstance(watchdog.get(name), dict) else {},
            probes.get(source.probe) if source.probe and isinstance(probes.get(source.probe), dict) else None,
            pauses.get(f"source:{name}"))
    return out


def capture_time(source, shown=None):
    """-> (aware datetime or None, problem or None, value of status_field or None).
    `shown` is how the path is named in problems (default: as configured)."""
    path = source.path
    shown = shown or str(path)
    if source.timestamp == "mtime":
        try:
            return from_epoch(os.stat(path).st_mtime), None, None
        except FileNotFoundError:
            return None, f"is missing ({shown})", None
        except OSError as exc:
            return None, f"cannot be read ({shown}: {exc.strerror})", None
    raw, problem = scan.read_bytes(path, MAX_SOURCE_BYTES)
    if problem:
        missing = not os.path.lexists(path)
        return None, f"is missing ({shown})" if missing else f"{problem} ({shown})", None
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None, f"is not valid JSON ({shown})", None
    if not isinstance(doc, dict):
        return None, f"holds no JSON object ({shown})", None
    status_value = doc.get(source.status_field) if source.status_field else None
    field = source.timestamp
    if field not in doc:
        return None, f"has no {field} field ({shown})", status_value
    value = doc[field]
    try:
        return time_value(value), None, status_value
    except ValueError:
        return None, f"has {field} = {json.dumps(value)[:60]}, not a time ({shown})", status_value


def time_value(value):
    """ISO 8601 with Z or an offset, or seconds since the epoch."""
    if isinstance(value, bool) or value is None:
        raise ValueError(value)
    if isinstance(value, (int, float)):
        try:
            return from_epoch(value)
        except (OverflowError, OSError, ValueError):
            raise ValueError(value) from None
    return parse_iso(value)


def run_check(home, reg, now, depth=1):
    return health.evaluate(reg, gather(reg, home, now, depth), now)
