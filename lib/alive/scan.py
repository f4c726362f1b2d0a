"""One pass over health/: names grouped by task, and safe reads of the few files a
decision needs. The folder may hold anything (garbage, symlinks, folders, FIFOs, huge
files, names that are not UTF-8): nothing here raises on what it finds.
"""
import gc
import os
import re
import stat
from dataclasses import dataclass, field

from . import heartbeat

MAX_HEARTBEAT_BYTES = 1 << 20  # 1 MiB: a bigger file is flagged, never read


@dataclass
class Listing:
    """What one os.scandir of health/ found, by name only (no stat, no read)."""
    folder: str
    canonical: dict = field(default_factory=dict)   # task -> list of (sort_key, name)
    latest: dict = field(default_factory=dict)      # task -> name of <task>_latest.json
    legacy: list = field(default_factory=list)      # bare-name *.json files
    temp: list = field(default_factory=list)        # dot-files (temp files of writers)
    other: list = field(default_factory=list)       # anything else


# heartbeat.parse_name's rules as one multi-line pattern: a C-level pass over the whole
# listing instead of a Python call per name (100,000 names is a year of a few 15-minute
# jobs). Group 1 is the whole name. It checks the shape of the date and time, not their
# range: a name with an impossible date is caught when it is about to be read.
_CANONICAL_ALL = re.compile(
    r"^(([0-9]{4}-[0-9]{2}-[0-9]{2})_([A-Za-z0-9][A-Za-z0-9._-]{0,127})_([0-9]{4})(?:-([0-9]+))?\.json)$", re.M)


def list_health(folder):
    # Hundreds of thousands of small tuples and no cycles: the cyclic GC would only
    # re-walk them again and again while they are built.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _list_health(folder)
    finally:
        if gc_was_on:
            gc.enable()


def _list_health(folder):
    listing = Listing(folder=os.fspath(folder))
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return listing
    joined = "\n".join(names)
    if joined.count("\n") != len(names) - 1 if names else False:
        # A name with a newline in it would fool the multi-line patterns: set those aside.
        listing.other += [n for n in names if "\n" in n]
        names = [n for n in names if "\n" not in n]
        joined = "\n".join(names)
    canonical = listing.canonical
    matched = 0
    for name, date, task, hhmm, n in _CANONICAL_ALL.findall(joined):
        entries = canonical.get(task)
        if entries is None:
            entries = canonical[task] = []
        entries.append(((date, hhmm, int(n) if n else 1), name))
        matched += 1
    # A plain suffix test beats a second regex pass over the whole listing.
    latest = [n for n in names if n[-12:] == "_latest.json" and heartbeat.valid_task_id(n[:-12])]
    listing.latest = {name[:-12]: name for name in latest}
    if matched + len(latest) < len(names):  # the rare rest, one by one
        known = {n for entries in canonical.values() for _, n in entries} | set(listing.latest.values())
        for name in names:
            if name in known:
                continue
            if name.startswith("."):
                listing.temp.append(name)
            elif name.endswith(".json") and "_" in name:
                listing.legacy.append(name)
            else:
                listing.other.append(name)
    return listing


def newest_first(files):
    """A task's (sort_key, name) pairs, newest first (the order of started_at)."""
    return sorted(files, reverse=True)


def impossible_time(sort_key):
    """The problem with a canonical name's date or time, or None when it is a real one."""
    date, hhmm, _ = sort_key
    if not heartbeat.plausible_time(date, hhmm):
        return f"name has an impossible date or time ({date} {hhmm[:2]}:{hhmm[2:]})"
    return None


def read_bytes(path, limit=MAX_HEARTBEAT_BYTES):
    """(data, None) or (None, problem). Never follows a symlink, never blocks on a FIFO,
    never reads more than `limit` bytes."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if os.path.islink(path):
            return None, "is a symbolic link (not followed)"
        return None, f"cannot be read ({exc.strerror or exc})"
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None, "is a folder, not a file"
        if not stat.S_ISREG(info.st_mode):
            return None, "is not a regular file"
        if info.st_size > limit:
            return None, f"is {info.st_size} bytes (over the {limit}-byte limit; not read)"
        chunks, size = [], 0
        while size <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, f"grew over the {limit}-byte limit while read"
        return b"".join(chunks), None
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})"
    finally:
        os.close(fd)


@dataclass
class Beat:
    """One heartbeat file as read: the dict (legacy status mapped) or its problems."""
    name: str
    data: dict | None
    errors: list
    warnings: list

    @property
    def valid(self):
        return self.data is not None and not self.errors


def read_beat(folder, name, task=None):
    raw, problem = read_bytes(os.path.join(folder, name))
    if problem:
        return Beat(name, None, [f"file {problem}"], [])
    data, errors, warnings = heartbeat.loads(raw)
    if task is not None and isinstance(data, dict) and isinstance(data.get("task_id"), str) \
            and data["task_id"] != task:
        errors = errors + [f"task_id {data['task_id']!r} does not match the file name's task {task!r}"]
    return Beat(name, data if not errors else None, errors, warnings)


def display_name(name):
    """A file name safe to print and put in JSON, even when it is not UTF-8."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
