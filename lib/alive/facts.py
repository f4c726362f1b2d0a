"""Gather, from disk, the facts health.py judges: the few heartbeats each decision
needs, running markers, pauses, watchdog and probe state, and each source's capture time.

Reads only: nothing here writes or sets anything aside.
"""
import json
import os

from . import health, paths, scan, statefile
from .timeutil import from_epoch, parse_iso

MAX_SOURCE_BYTES = 64 << 20


def health_folder(registry, home):
    return home / registry.settings.health_dir  # an absolute health_dir stays absolute


def shown_path(path, home):
    """health/x.json relative to ALIVE_HOME when inside it; never raises on odd names."""
    text = scan.display_name(os.fspath(path))
    root = os.fspath(home).rstrip("/") + "/"
    return text[len(root):] if text.startswith(root) else text


def gather(registry, home, now, depth=1):
    """-> health facts: {tasks, sources, invalid_files}. `depth` is how many of each
    task's newest heartbeats to read at least (check needs 1; the report shows more)."""
    folder = health_folder(registry, home)
    listing = scan.list_health(folder)
    invalid = []

    def note_invalid(name, problem):
        invalid.append({"file": shown_path(os.path.join(folder, name), home), "problem": problem})

    legacy = {}
    for name in listing.legacy:  # bare names: the task is only known from inside the file
        beat = scan.read_beat(folder, name)
        if not beat.valid:
            note_invalid(name, beat.errors[0])
            continue
        legacy.setdefault(beat.data["task_id"], []).append(beat)

    wanted = set(registry.tasks)
    if registry.sources:
        wanted.add(health.WATCHDOG_TASK)
    if registry.settings.discover:
        wanted |= set(listing.newest) | set(legacy)
    markers = running_markers(home, now)
    pauses = statefile.peek(paths.state_dir(home) / "pauses.json")
    gathered = Facts({}, gather_sources(registry, home, pauses), invalid, listing, legacy)
    for name in wanted:
        task = health.registry_task(registry, name)
        need = max(depth, health.ERROR_HISTORY_MIN, task.alert_after if task else 1)
        history = read_history(folder, name, task_files(gathered, name), need, depth, note_invalid)
        gathered.tasks[name] = health.TaskFacts(name, history, markers.get(name), pauses.get(f"task:{name}"))
    return gathered


class Facts(dict):
    """tasks / sources / invalid_files, as attributes (a dict keeps it printable), and the
    listing they came from, for whoever wants more of a task's files (the report)."""

    def __init__(self, tasks, sources, invalid_files, listing=None, legacy=None):
        super().__init__(tasks=tasks, sources=sources, invalid_files=invalid_files)
        self.tasks, self.sources, self.invalid_files = tasks, sources, invalid_files
        self.listing, self.legacy = listing, legacy or {}


def task_files(gathered, task):
    """A task's heartbeats, newest first, by name (str) or, for legacy bare-name files,
    as the Beat already read. Lazy: a decision usually stops at the first."""
    canonical = scan.task_files(gathered.listing, task)
    old = gathered.legacy.get(task)
    if not old:
        yield from canonical
        return
    # Rare: merge the legacy files in by started_at (their names say nothing).
    def key(entry):
        if isinstance(entry, str):
            return scan.sort_key(entry)
        t = entry.data["started_at"]
        return (t[0:10], t[11:13] + t[14:16], 0)

    yield from sorted(list(canonical) + old, key=key, reverse=True)


def read_history(folder, task, files, need, depth, note_invalid):
    """Newest first: read `depth` files, then keep going back only while the runs are
    errors (to count consecutive errors), at most `need` files. Stops at an invalid file;
    a name with an impossible date is reported and passed over (it must not mask the rest)."""
    history = []
    for entry in files:
        if len(history) >= need:
            break
        if isinstance(entry, str):
            problem = scan.impossible_time(entry)
            if problem:
                note_invalid(entry, problem)
                continue
            beat = scan.read_beat(folder, entry, task)
        else:
            beat = entry
        history.append(beat)
        if not beat.valid:
            note_invalid(beat.name, beat.errors[0])
            break
        if len(history) >= depth and beat.data["status"] != "error":
            break
    return history


def running_markers(home, now):
    """task -> marker, for runs whose process is still alive (on this host)."""
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
        if isinstance(pid, int) and (marker.get("host") not in (None, host) or pid_alive(pid)):
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
