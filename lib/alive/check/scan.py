"""One pass over health/: names grouped by task, and safe reads of the few files a
decision needs. The folder may hold anything (garbage, symlinks, folders, FIFOs, huge
files, names that are not UTF-8): nothing here raises on what it finds.
"""
import contextlib
import gc
import os
import re
import stat
from bisect import bisect_left
from alive.base.record import record

from alive.write import heartbeat
from alive.base.errors import BrokenHome

MAX_HEARTBEAT_BYTES = 1 << 20  # 1 MiB: a bigger file is flagged, never read


class Listing:
    """What one listing of health/ found, by name only (no stat, no read).

    names: every entry, in the order the folder listed them. newest: task -> its newest
    canonical name (all a check of a healthy fleet needs). latest: task -> its
    <task>_latest.json. legacy (bare-name *.json), temp (dot-files: writers' temp files),
    other (anything else): sorted. canonical (every canonical name, in string order) and
    dates (theirs, newest first): only a walk back through a task's history needs them,
    so they are made when first asked for (from names, or as listcache.py kept them)."""

    def __init__(self, folder, names=(), newest=None, latest=None, legacy=None, temp=None, other=None,
                 canonical=None):
        self.folder = folder
        # names and canonical: a list, or a function that makes it (listcache)
        self._names, self._canonical = names, canonical
        self.newest, self.latest = newest or {}, latest or {}
        self.legacy, self.temp, self.other = legacy or [], temp or [], other or []
        self._dates = None

    @property
    def names(self):
        if callable(self._names):
            self._names = self._names()
        return self._names

    @property
    def canonical(self):
        if self._canonical is None:
            self._canonical = [name for _, name in canonical_pairs(sorted(n for n in self.names if "\n" not in n))]
        elif callable(self._canonical):
            self._canonical = self._canonical()
        return self._canonical

    @property
    def dates(self):
        if self._dates is None:
            self._dates = distinct_dates(self.canonical)
        return self._dates

    def __eq__(self, other):
        return isinstance(other, Listing) and self.summary() == other.summary()

    def summary(self):
        return (self.folder, sorted(self.names), self.newest, self.latest, self.legacy, self.temp, self.other)

    def __repr__(self):
        return f"Listing({self.folder!r}, {len(self.names)} names, {len(self.newest)} tasks)"


# heartbeat.parse_name's rules as one multi-line pattern, so the whole listing is matched
# in C (100,000 names is a year of a few 15-minute jobs): group 1 the task (in a
# look-ahead, so it comes first), group 2 the whole name. It checks the shape of the date
# and time, not their range: an impossible date is caught when the name is about to be read.
_CANONICAL_ALL = re.compile(
    r"^(?=[0-9]{4}-[0-9]{2}-[0-9]{2}_([A-Za-z0-9][A-Za-z0-9._-]{0,127})_[0-9]{4}(?:-(?:"
    + heartbeat.SUFFIX_RE + r"))?\.json$)(.*)$", re.M)


def list_health(folder, names=None):
    """The Listing of health/ (`names`: its entries when already listed)."""
    with gc_paused():
        return build_listing(folder, read_names(folder) if names is None else names)


@contextlib.contextmanager
def gc_paused():
    """Hundreds of thousands of small objects and no cycles (names, heartbeats read): the
    cyclic GC would only re-walk them again and again while they are built."""
    was_on = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_on:
            gc.enable()


def read_names(folder):
    """The entries of health/ ([] when it does not exist yet); BrokenHome when it cannot be read."""
    try:
        return os.listdir(folder)
    except FileNotFoundError:
        if not os.path.lexists(folder):
            return []                   # no run has written one yet: an empty fleet
        # a link to a folder that is gone (an unmounted volume)
        problem = f"is a symbolic link to {display_name(os.readlink(folder))}, which does not exist"
    except NotADirectoryError:
        problem = "is not a folder"
    except OSError as exc:
        problem = f"cannot be read ({exc.strerror or exc})"
    raise BrokenHome(f"health folder {display_name(os.fspath(folder))} {problem}", problem)


def build_listing(folder, names):
    """Sorted names make a task's files of one day neighbours, so a task's history is a
    few bisections per day instead of a Python pass over every name (see task_files)."""
    listing = Listing(os.fspath(folder), names)
    names = sorted(names)
    joined = "\n".join(names)
    if joined.count("\n") != max(len(names) - 1, 0):
        # A name with a newline in it would fool the multi-line pattern: set those aside.
        listing.other += [n for n in names if "\n" in n]
        names = [n for n in names if "\n" not in n]
        joined = "\n".join(names)
    pairs = _CANONICAL_ALL.findall(joined)
    canonical = listing._canonical = [name for _, name in pairs] if len(pairs) < len(names) else names
    # In string order, the last name of a task is its newest minute: dict() keeps it.
    listing.newest = {task: settle_minute(canonical, name) for task, name in dict(pairs).items()}
    # A plain suffix test beats a second regex pass over the whole listing.
    latest = [n for n in names if is_latest_name(n)]
    listing.latest = {name[:-12]: name for name in latest}
    if len(pairs) + len(latest) < len(names):  # the rare rest, one by one
        known = set(canonical).union(latest)
        sort_rest(listing, (name for name in names if name not in known))
    return listing


def is_latest_name(name):
    return name[-12:] == "_latest.json" and heartbeat.valid_task_id(name[:-12])


def sort_rest(listing, names):
    """Names neither canonical nor <task>_latest.json, into temp / legacy / other."""
    for name in names:
        if name.startswith("."):
            listing.temp.append(name)
        elif name.endswith(".json") and "_" in name:
            listing.legacy.append(name)
        else:
            listing.other.append(name)


def canonical_pairs(names):
    """[(task, name)] of the canonical names among `names` (no newline in any), in their order."""
    return _CANONICAL_ALL.findall("\n".join(names))


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
    yield top                           # a healthy task's decision needs nothing more
    canonical = listing.canonical
    start = listing.dates.index(top[:10])
    for date in listing.dates[start:]:
        prefix = f"{date}_{task}_"
        # '`' follows '_' in ASCII: [prefix, prefix[:-1] + '`') is every name starting with prefix.
        lo = bisect_left(canonical, prefix)
        for name in _newest_first(canonical, lo, bisect_left(canonical, prefix[:-1] + "`"), len(prefix)):
            if name != top:             # (it comes first: the newest of the newest minute)
                yield name


def count_between(listing, task, first, last):
    """How many of a task's canonical names start in the minutes first..last ((date, HHMM),
    both included): bisections per date, no name parsed. '.' and '-' (what follows HHMM)
    sort before '/'; a task '<task>_x' shares the prefix, its rest holds another '_'."""
    canonical, count = listing.canonical, 0
    for date in listing.dates:
        if date < first[0]:
            break
        if date > last[0]:
            continue
        prefix = f"{date}_{task}_"
        lo = bisect_left(canonical, prefix + first[1] if date == first[0] else prefix)
        hi = bisect_left(canonical, prefix + last[1] + "/" if date == last[0] else prefix[:-1] + "`")
        count += sum(1 for name in canonical[lo:hi] if "_" not in name[len(prefix):])
    return count


def _newest_first(canonical, lo, hi, prefix_len):
    """The task's names in canonical[lo:hi] (one day), newest first. String order is time
    order between minutes; only inside one minute ('HHMM-10', 'HHMM-2', 'HHMM') must names
    be sorted. A task '<task>_x' shares the prefix: its rest holds another '_'."""
    while hi > lo:
        stem = canonical[hi - 1][:prefix_len + 4]
        first = hi - 1
        while first > lo and canonical[first - 1].startswith(stem):
            first -= 1
        own = [n for n in canonical[first:hi] if "_" not in n[prefix_len:]]
        yield from own if len(own) < 2 else sorted(own, key=sort_key, reverse=True)
        hi = first


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
    return read_file(path, limit)[:2]


def read_file(path, limit=MAX_HEARTBEAT_BYTES):
    """read_bytes(), and the file's fstat (or None)."""
    info = None
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except OSError as exc:
        if os.path.islink(path):
            return None, "is a symbolic link (not followed)", info
        return None, f"cannot be read ({exc.strerror or exc})", info
    try:
        info = os.fstat(fd)
        if stat.S_ISDIR(info.st_mode):
            return None, "is a folder, not a file", info
        if not stat.S_ISREG(info.st_mode):
            return None, "is not a regular file", info
        if info.st_size > limit:
            return None, f"is {info.st_size} bytes (over the {limit}-byte limit; not read)", info
        first = os.read(fd, info.st_size + 1)      # one read, when the size holds
        if len(first) == info.st_size:
            return first, None, info
        chunks, size = [first], len(first)
        while size <= limit:
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > limit:
            return None, f"grew over the {limit}-byte limit while read", info
        return b"".join(chunks), None, info
    except OSError as exc:
        return None, f"cannot be read ({exc.strerror or exc})", info
    finally:
        os.close(fd)


@record
class Beat:
    """One heartbeat file as read: the dict (legacy status mapped) or its problems."""
    name: str
    data: dict | None
    errors: list
    warnings: list

    def __init__(self, name, data, errors, warnings, mtime=None):   # one per file read: no generic __init__
        self.name, self.data, self.errors, self.warnings = name, data, errors, warnings
        self.mtime = mtime          # the file's, when it was opened (not compared by ==)

    @property
    def valid(self):
        return self.data is not None and not self.errors


def read_beat(folder, name, task=None):
    raw, problem, info = read_file(os.path.join(folder, name))
    mtime = info.st_mtime if info is not None else None
    if problem:
        return Beat(name, None, [f"file {problem}"], [], mtime)
    data, errors, warnings = heartbeat.loads(raw)
    if task is not None and isinstance(data, dict) and isinstance(data.get("task_id"), str) \
            and data["task_id"] != task:
        errors = errors + [f"task_id {data['task_id']!r} does not match the file name's task {task!r}"]
    if not errors and task is not None:
        errors = name_time_problem(name, data)
    return Beat(name, data if not errors else None, errors, warnings, mtime)


def name_time_problem(name, data):
    """[problem] when a canonical name and its content disagree about when the run started:
    another day, or a later minute. The name orders a task's runs and decides what is in the
    future, so content dated after its name (a past name over a run 3,000 days ahead) would
    slip past both. An earlier minute of the same day only misorders that day: lint warns."""
    if "\n" in name or not canonical_pairs([name]) or impossible_time(name):
        return []           # (an impossible name is no time at all: check passes over it)
    started = data["started_at"]                  # (checked valid by heartbeat.check)
    if not (len(started) == 20 and started[10] == "T" and started[19] == "Z"):
        from alive.base.timeutil import format_iso, parse_iso   # an offset or fractions: the canonical form first

        started = format_iso(parse_iso(started))
    date, hhmm, _ = sort_key(name)
    if started[:10] == date and started[11:13] + started[14:16] <= hhmm:
        return []
    return [f"started_at {data['started_at']} is not the time in the file name ({date} {hhmm[:2]}:{hhmm[2:]} UTC): "
            "another day, or later than the name"]


def display_name(name):
    """A file name safe to print and put in JSON, even when it is not UTF-8."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "replace")
