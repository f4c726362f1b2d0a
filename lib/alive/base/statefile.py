"""Small JSON state files under state/: read tolerantly, written atomically.

A damaged file is never a crash and never silently lost. Damaged means: not JSON, not a
JSON object, or the wrong types where alive reads them (`"sources": []`,
`consecutive_failures: 1e400`, text where a number belongs, a pause that ends "soon").
Each state file's shape is checked here, in one place (SHAPES, found by the file's name),
by every reader:
  - load(), for commands that write state: the file is set aside as
    <name>.corrupt-<time> and the caller starts afresh with a warning it can report;
  - peek(), for commands that only read (check, report, serve): the file is ignored,
    one line on stderr says so, and it stays where it is for the next writer;
  - sweep(), run by the writers that run often (a watchdog tick, `check --notify`): sets
    aside every damaged file of state/ that no other writer of theirs reads, so the next
    run recovers by itself.
"""
import json
import os
import sys

from alive.base import atomic, regular
from alive.base.timeutil import parse_iso, utcnow

RUNNING = "running"        # state/running/<task>.json: markers of runs in progress
LOCK_WAIT_S = 5            # sweep(): how long to wait for a writer of a damaged file


# ---------------------------------------------------------------- shapes
# A check takes (value, where) and returns the problem ("sources.feed.consecutive_failures
# is Infinity, not a whole number") or None. Keys not named are allowed (a newer alive may
# add some); every key named is optional unless a reader cannot do without it.

def _shown(value):
    text = json.dumps(value, ensure_ascii=False, default=str)
    return text if len(text) <= 40 else text[:37] + "..."


def _expect(ok, what):
    def check(value, where):
        return None if ok(value) else f"{where} is {_shown(value)}, not {what}"
    return check


def _is_time(value):
    try:
        parse_iso(value)
        return True
    except ValueError:
        return False


text = _expect(lambda v: isinstance(v, str), "text")
flag = _expect(lambda v: isinstance(v, bool), "true or false")
count = _expect(lambda v: type(v) is int and 0 <= v < 1 << 53, "a whole number >= 0")
pid = _expect(lambda v: type(v) is int and 0 < v < 1 << 31, "a process id")
iso_time = _expect(_is_time, "an ISO 8601 time")
a_list = _expect(lambda v: isinstance(v, list), "a list")     # (its items checked by whoever reads it)


def one_of(*choices):
    return _expect(lambda v: v in choices, " or ".join(choices))


def nullable(check):
    return lambda value, where: None if value is None else check(value, where)


def list_of(check):
    def checked(value, where):
        if not isinstance(value, list):
            return f"{where} is {_shown(value)}, not a list"
        return next((p for p in (check(v, f"{where}[{n}]") for n, v in enumerate(value)) if p), None)
    return checked


def map_of(check):
    """An object whose keys are names (any text) and whose values all pass `check`."""
    def checked(value, where):
        if not isinstance(value, dict):
            return f"{where} is {_shown(value)}, not an object"
        return next((p for p in (check(v, f"{where}.{k}" if where else k) for k, v in value.items()) if p), None)
    return checked


def record(required=(), **fields):
    """An object with these keys, each of its own shape; only those in `required` must be there."""
    def checked(value, where):
        if not isinstance(value, dict):
            return f"{where} is {_shown(value)}, not an object"
        missing = next((k for k in required if k not in value), None)
        if missing:
            return f"{where or 'the file'} has no {missing}"
        found = (check(value[k], f"{where}.{k}" if where else k) for k, check in fields.items() if k in value)
        return next((p for p in found if p), None)
    return checked


COLOR = one_of("GREEN", "YELLOW", "RED", "GREY")
PART = record(id=text, key=text, event=text, color=text, red_since=text, at=text, title=text, body=text,
              line=text, reasons=list_of(text))                          # one flip a message tells
MESSAGE = record(required=("id", "title", "body", "created_at"),
                 id=text, key=text, event=text, color=text, red_since=text, created_at=text, title=text,
                 body=text, priority=text, tags=list_of(text), click=nullable(text), delivered=map_of(text),
                 dropped=map_of(text), attempts=count, last_error=nullable(text), parts=list_of(PART))
REQUEST = record(ref=text, source=text, attempt=count)
# Times are ISO 8601 where a decision reads them (a pause's end, a probe's age, a RED
# spell); watchdog.json's times are only shown (every reader parses them defensively), so
# there text is enough.
SOURCE_FACTS = record(last_attempt_at=text, last_success_at=text, last_trigger_at=text,
                      last_refresh_by=text, attempts=count, consecutive_failures=count,
                      last_error=nullable(text), last_stderr_tail=text)

SHAPES = {
    "notify.json": record(version=count, items=map_of(record(color=COLOR, red_since=iso_time,
                                                             notified_at=iso_time))),
    "outbox.json": record(version=count, messages=list_of(MESSAGE), cancelled=list_of(PART)),
    "refused.json": record(version=count, refused=list_of(record(
        required=("at", "channel", "title", "reason"), at=iso_time, channel=text, id=text, title=text, reason=text,
        reached=list_of(text)))),
    "watchdog.json": record(sources=map_of(SOURCE_FACTS)),
    "probes.json": map_of(record(state=one_of("alive", "expired", "no_tab", "error"), checked_at=iso_time,
                                 detail=text)),
    "pauses.json": map_of(record(since=iso_time, until=nullable(iso_time), reason=nullable(text))),
    "triggers.json": record(backend=text, run=record(id=text, taken_at=iso_time, ran=flag,
                                                     requests=list_of(REQUEST), started=list_of(text)),
                            done=list_of(REQUEST), gone=map_of(iso_time), problem=text),
    "report-runs.json": record(version=count, runs=map_of(a_list)),
    "ping-created.json": record(tasks=map_of(iso_time)),
}
MARKER = record(pid=pid, task_id=text, host=nullable(text), started_at=iso_time, run_id=text, command=list_of(text))
# What sweep() looks after: the files no writer that runs often reads through load() itself.
SWEPT = ("watchdog.json", "probes.json", "pauses.json", "report-runs.json")


def shape_of(path):
    """The shape check of a state file, by its name (a running marker by its folder)."""
    path = os.fspath(path)
    if os.path.basename(os.path.dirname(path)) == RUNNING:
        return MARKER
    return SHAPES.get(os.path.basename(path))


def problem_of(data, path):
    """Why `data` (parsed JSON) cannot be used as the file at `path`, else None."""
    if not isinstance(data, dict):
        return f"holds a JSON {type(data).__name__}, not an object"
    check = shape_of(path)
    wrong = check(data, "") if check else None
    return f"holds the wrong types: {wrong}" if wrong else None


def _read(path):
    """-> (parsed JSON or None, problem or None). A missing file is (None, None)."""
    try:
        data = json.loads(regular.read_regular(path))
    except FileNotFoundError:
        return None, None
    except regular.NotRegularFile as exc:        # a FIFO would hang every reader: damaged, not waited on
        return None, f"is {exc.strerror}"
    except (OSError, ValueError, RecursionError) as exc:
        return None, f"is not valid JSON ({exc})"
    return data, problem_of(data, path)


def inspect(path):
    """Why the file at path cannot be used, or None (missing counts as fine). Moves nothing."""
    return _read(path)[1]


# ---------------------------------------------------------------- reading

def load(path, now=None, salvage=None):
    """-> (dict, warning or None). A missing file is an empty dict, without warning. A
    damaged one is set aside, and the dict is empty, or what salvage(parsed JSON) -> (dict,
    note) kept of it (the note says what, in the warning)."""
    data, problem = _read(path)
    if problem is None:
        return data or {}, None
    kept, note = salvage(data) if salvage and data is not None else ({}, None)
    aside = set_aside(path, now)
    how = f"set aside as {os.path.basename(aside)}" if aside else "could not be set aside"
    return kept, f"{os.path.basename(path)} {problem}; {how}, " + (note or "starting afresh")


def set_aside(path, now=None):
    """Move a damaged file out of the way, keeping it for a person -> its new path, or None."""
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    for n in range(100):
        aside = f"{path}.corrupt-{stamp}" + (f"-{n}" if n else "")
        if not os.path.lexists(aside):
            try:
                os.replace(path, aside)
                return aside
            except OSError:
                return None
    return None


_told = set()      # (path, problem) already said by this process: serve reads every few seconds


def peek(path):
    """Read without setting anything aside (for read-only commands): dict or {}. A damaged
    file is ignored, and one line on stderr says so (once per process)."""
    data, problem = _read(path)
    if problem is None:
        return data or {}
    if (os.fspath(path), problem) not in _told:
        _told.add((os.fspath(path), problem))
        print(f"alive: {path} {problem}; ignored (the next `alive watchdog` or `alive check --notify` sets it aside)",
              file=sys.stderr)
    return {}


def damaged(state_dir):
    """[(path, problem)] of the files sweep() looks after that it would set aside."""
    paths = [os.path.join(state_dir, name) for name in SWEPT] + running_markers(state_dir)
    return [(path, problem) for path, problem in ((p, inspect(p)) for p in paths) if problem]


def running_markers(state_dir):
    """The paths of the running markers ([] when there is no running/ to list)."""
    running = os.path.join(state_dir, RUNNING)
    try:
        names = sorted(os.listdir(running))
    except OSError:
        return []
    return [os.path.join(running, n) for n in names if n.endswith(".json") and not n.startswith(".")]


def sweep(state_dir, now=None):
    """Set aside every damaged file of SWEPT and every damaged running marker -> warnings.
    Each is read again under its writers' lock before it is moved, so a file a writer has
    just replaced with a good one stays."""
    from alive.base import locks

    def writers_lock(lock):
        """The fd of the writers' lock when there is one; None when there is none, or it
        cannot be taken (an unwritable state/: load() below says the file could not be set aside)."""
        try:
            return locks.acquire(lock, LOCK_WAIT_S) if os.path.exists(lock) else None
        except OSError:
            return None

    warnings = []
    for path, _ in damaged(state_dir):
        fd = writers_lock(f"{path}.lock")
        try:
            _, warning = load(path, now)
        finally:
            if fd is not None:
                os.close(fd)
        if warning:
            warnings.append(warning)
    return warnings


# ---------------------------------------------------------------- writing

def save(path, data, durable=True):
    """Atomically; durable=False skips the fsyncs (for a mark whose loss in a power cut is harmless)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic.write_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", durable=durable)


def update(path, change):
    """Read-modify-write under an fcntl lock (path + '.lock'), so two commands at once
    cannot lose each other's update. change(dict) mutates the dict.
    -> (the dict, the warning when a damaged file was set aside first, or None)."""
    from alive.base import locks

    fd = locks.acquire(f"{path}.lock", wait_s=None)
    try:
        data, warning = load(path)
        change(data)
        save(path, data)
        return data, warning
    finally:
        os.close(fd)
