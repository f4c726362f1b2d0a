"""One pass over health/: names grouped by task, and safe reads of the few files a
decision needs. The folder may hold anything (garbage, symlinks, folders, FIFOs, huge
files, names that are not UTF-8): nothing here raises on what it finds.
"""
import gc
import os
import re
import stat
from bisect import bisect_left
from dataclasses import dataclass, field

from . import heartbeat
from .errors import BrokenHome

MAX_HEARTBEAT_BYTES = 1 << 20  # 1 MiB: a bigger file is flagged, never read


@dataclass
class Listing:
    """What one listing of health/ found, by name only (no stat, no read)."""
    folder: str
    canonical: list = field(default_factory=list)   # every canonical name, in string order
    newest: dict = field(default_factory=dict)      # task -> its newest canonical name
    latest: dict = field(default_factory=dict)      # task -> name of <task>_latest.json
    legacy: list = field(default_factory=list)      # bare-name *.json files
    temp: list = field(default_factory=list)        # dot-files (temp files of writers)
    other: list = field(default_factory=list)       # anything else
    dates: list = field(default_factory=list)       # the dates of canonical names, newest first


# heartbeat.parse_name's rules as one multi-line pattern, so the whole listing is matched
# in C (100,000 names is a year of a few 15-minute jobs): group 1 the task (in a
# look-ahead, so it comes first), group 2 the whole name. It checks the shape of the date
# and time, not their range: an impossible date is caught when the name is about to be read.
_CANONICAL_ALL = re.compile(
    r"^(?=[0-9]{4}-[0-9]{2}-[0-9]{2}_([A-Za-z0-9][A-Za-z0-9._-]{0,127})_[0-9]{4}(?:-(?:"
    + heartbeat.SUFFIX_RE + r"))?\.json$)(.*)$", re.M)


def list_health(folder):
    # Hundreds of thousands of small objects and no cycles: the cyclic GC would only
    # re-walk them again and again while they are built.
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        return _list_health(folder)
    finally:
        if gc_was_on:
            gc.enable()


def _list_health(folder):
    """Sorted names make a task's files of one day neighbours, so a task's history is a
    few bisections per day instead of a Python pass over every name (see task_files)."""
    listing = Listing(folder=os.fspath(folder))
    try:
        names = os.listdir(folder)
    except FileNotFoundError:
        if not os.path.lexists(folder):
            return listing              # no run has written one yet: an empty fleet
        # a link to a folder that is gone (an unmounted volume)
        problem = f"is a symbolic link to {display_name(os.readlink(folder))}, which does not exist"
    except NotADirectoryError:
        problem = "is not a folder"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
    else:
        problem = None
    if problem:
        raise BrokenHome(f"health folder {display_name(listing.folder)} {problem}", problem)
    names.sort()
    joined = "\n".join(names)
    if joined.count("\n") != max(len(names) - 1, 0):
        # A name with a newline in it would fool the multi-line pattern: set those aside.
        listing.other += [n for n in names if "\n" in n]
        names = [n for n in names if "\n" not in n]
        joined = "\n".join(names)
    pairs = _CANONICAL_ALL.findall(joined)
    # In string order, the last name of a task is its newest minute: dict() keeps it.
    newest = dict(pairs)
    listing.canonical = [name for _, name in pairs] if len(pairs) < len(names) else names
    listing.newest = {task: settle_minute(listing.canonical, name) for task, name in newest.items()}
    listing.dates = distinct_dates(listing.canonical)
    # A plain suffix test beats a second regex pass over the whole listing.
    latest = [n for n in names if n[-12:] == "_latest.json" and heartbeat.valid_task_id(n[:-12])]
    listing.latest = {name[:-12]: name for name in latest}
    if len(pairs) + len(latest) < len(names):  # the rare rest, one by one
        known = set(listing.canonical).union(latest)
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


def sort_key(name):
    """(YYYY-MM-DD, HHMM, n) of a canonical name: the order of started_at. String order
    agrees except inside one minute ('HHMM.json' after 'HHMM-2.json', '-10' before '-9')."""
    stem = name[:-5]
    tail = stem[stem.rindex("_") + 1:]
    hhmm, _, n = tail.partition("-")
    return (name[:10], hhmm, int(n) if n else 1)


def newest_first(names):
    """Canonical names of one task, newest first (the order of started_at)."""
    return sorted(names, key=sort_key, reverse=True)


def _minute_range(canonical, stem):
    """The names that start with `stem` ('<date>_<task>_HHMM'): that minute's files.
    '-' and '.' are the only characters that follow a stem, and both sort before '/'."""
    return canonical[bisect_left(canonical, stem):bisect_left(canonical, stem + "/")]


def settle_minute(canonical, name):
    """The true newest of the files in `name`'s minute (usually just `name`)."""
    stem = name[:name.rindex("_") + 5]
    same = _minute_range(canonical, stem)
    return max(same, key=sort_key) if len(same) > 1 else name


def distinct_dates(canonical):
    """The dates present, newest first: one bisection per date, not a pass over every name."""
    dates, i = [], len(canonical)
    while i:
        date = canonical[i - 1][:10]
        dates.append(date)
        i = bisect_left(canonical, date)
    return dates


def task_files(listing, task):
    """A task's canonical names, newest first, walking back one date at a time: a day's
    files of a task sit together in the sorted listing. Lazy: most decisions stop at one."""
    top = listing.newest.get(task)
    if top is None:
        return
    canonical = listing.canonical
    start = listing.dates.index(top[:10])
    for date in listing.dates[start:]:
        prefix = f"{date}_{task}_"
        # '`' follows '_' in ASCII: [prefix, prefix[:-1] + '`') is every name starting with prefix.
        day = canonical[bisect_left(canonical, prefix):bisect_left(canonical, prefix[:-1] + "`")]
        # A task named '<task>_x' shares the prefix; its rest holds another '_'.
        own = [n for n in day if "_" not in n[len(prefix):]]
        yield from sorted(own, key=sort_key, reverse=True)


def grouped(listing):
    """task -> its canonical names, oldest first: every name looked at (prune, lint)."""
    out = {}
    for name in listing.canonical:
        stem = name[:-5]
        out.setdefault(stem[11:stem.rindex("_")], []).append(name)
    return {task: sorted(names, key=sort_key) for task, names in out.items()}


def impossible_time(name):
    """The problem with a canonical name's date or time, or None when it is a real one."""
    date, hhmm, _ = sort_key(name)
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
