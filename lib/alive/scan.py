"""One pass over health/: names grouped by task, and safe reads of the few files a
decision needs. The folder may hold anything (garbage, symlinks, folders, FIFOs, huge
files, names that are not UTF-8): nothing here raises on what it finds.
"""
import os
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


def list_health(folder):
    listing = Listing(folder=os.fspath(folder))
    try:
        entries = os.scandir(folder)
    except FileNotFoundError:
        return listing
    canonical = listing.canonical
    with entries:
        for entry in entries:
            name = entry.name
            kind = heartbeat.parse_name(name)
            if kind is None:
                (listing.temp if name.startswith(".") else listing.other).append(name)
            elif kind[0] == "canonical":
                canonical.setdefault(kind[1], []).append((kind[2], name))
            elif kind[0] == "latest":
                listing.latest[kind[1]] = name
            else:
                listing.legacy.append(name)
    return listing


def newest_first(files):
    """A task's (sort_key, name) pairs, newest first (the order of started_at)."""
    return sorted(files, reverse=True)


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
