"""state/health-listing.cache: what the last listing of health/ found, kept so the next
check need not sort and match 100,000 names again. An accelerator, never a source of
truth: it is used only when it provably describes the folder as it is now.

  - Folder unchanged: health/'s own stat (device, inode, mtime and ctime in ns, size)
    is the one the cache was made from, and that stat was taken more than RACY_S after
    the folder's mtime. A folder's mtime moves whenever a name is added, removed or
    renamed in it, but only as finely as the filesystem's clock ticks (1 s on HFS+, 2 s on
    FAT): a change in the same tick as the cached stat would leave it equal (git's "racy"
    index entries). Such a cache is never trusted without a listing.
  - Otherwise health/ is listed (os.listdir, always) and the names compared with the
    cached ones, in the order the folder lists them (which an unchanged folder repeats):
    the same -> the cached listing; a few names added or removed -> the cached listing
    with those edits (edits); anything more, or a removed name that was some task's
    newest -> a full listing.

The cache holds names only, never what a file says: every heartbeat a decision needs is
read from health/ each time. A cache that is missing, damaged, of another version or of
another folder is ignored; one that cannot be written costs only speed.

The cache is authenticated: state/ may be writable by more than the user whose jobs write
health/ (a dashboard, a sync), and a cache rewritten there with the recorded stat kept
and a task's newest error left out would turn RED into GREEN until health/ changed. Its
first line is a keyed BLAKE2b of the rest, with a key only alive's user can read
(ALIVE_HOME/listing-cache.key, 0600, made on first use); a cache whose MAC does not
match, or no key to check it with, is not used.

Layout: the MAC (hex) on a line; one line of JSON (the stat, and the listing's
newest/latest/legacy/temp/other), then every name as listed, NUL-separated (no file name
holds a NUL), then the canonical names in string order, the same way; each split only
when used. The second part spares a check that walks back through a failing task's runs
sorting 100,000 names again.
"""
import hashlib
import hmac
import json
import os
import stat
import time
from bisect import bisect_left, insort

from alive.base import atomic
from alive.check import scan

NAME = "health-listing.cache"
VERSION = 4
KEY_NAME = "listing-cache.key"     # in the folder above state/: ALIVE_HOME
RACY_S = 3                      # beyond the coarsest folder mtime tick (FAT: 2 s)
MAX_BYTES = 1 << 28             # 256 MiB: millions of names; a bigger file is not read
MAX_EDITS = 256                 # more names added or removed than this: a full listing


def folder_key(info):
    return [info.st_dev, info.st_ino, info.st_mtime_ns, info.st_ctime_ns, info.st_size]


def listing(folder, cache_path):
    """scan.Listing of `folder`, through the cache at `cache_path` (None: no cache)."""
    if cache_path is None:
        return scan.list_health(folder)
    # The clock before the stat: a change after the stat has an mtime from a later clock.
    clock = time.clock_gettime(time.CLOCK_REALTIME)
    try:
        info = os.stat(folder)
    except OSError:
        return scan.list_health(folder)         # missing or broken: list_health says which
    if not stat.S_ISDIR(info.st_mode):
        return scan.list_health(folder)
    key = folder_key(info)
    secret = read_secret(cache_path)            # (made when a cache is first saved)
    cached, seen = load(cache_path, folder, secret)
    if cached is not None and seen["settled"] and seen["key"] == key:
        return cached
    names = scan.read_names(folder)
    found, behind = (cached, 0) if cached is not None and names == cached.names else (None, MAX_EDITS)
    if found is None and cached is not None:
        found, behind = updated(cached, names) or (None, MAX_EDITS)
    if found is None:
        found = scan.list_health(folder, names)
    # Written when the next check may then skip the listing (the folder has settled), or
    # when the cache falls behind; while the folder keeps changing, the few names added
    # since the cache was written are cheaper to find again than 100,000 names to write.
    settled = clock - info.st_mtime_ns / 1e9 > RACY_S
    current = found is cached and seen["key"] == key and seen["settled"] == settled
    if (settled and not current) or behind > MAX_EDITS // 4:
        save(cache_path, found, key, settled, secret)
    return found


def edits(old, new, budget=MAX_EDITS):
    """(added, removed) that turn the listing `old` into `new`, both in a folder's listing
    order, or None beyond `budget` edits. The common runs are compared slice by slice (in
    C), so a few edits in 100,000 names cost a few passes, not a Python loop per name. A
    name listed at another place shows up as removed and added: that is still right."""
    added, removed = [], []
    i = j = 0
    while True:
        run = common_run(old, i, new, j)
        i, j = i + run, j + run
        if i == len(old) or j == len(new) or len(added) + len(removed) > budget:
            break
        # Where does each side's name turn up again on the other, close by? The nearer
        # one says which names were added (or removed) in between.
        ahead_new = find(new, old[i], j, j + budget)
        ahead_old = find(old, new[j], i, i + budget)
        if ahead_new is not None and (ahead_old is None or ahead_new - j <= ahead_old - i):
            added += new[j:ahead_new]
            j = ahead_new
        elif ahead_old is not None:
            removed += old[i:ahead_old]
            i = ahead_old
        else:
            added.append(new[j])
            removed.append(old[i])
            i, j = i + 1, j + 1
    added += new[j:]
    removed += old[i:]
    return (added, removed) if len(added) + len(removed) <= budget else None


def find(names, name, start, stop):
    try:
        return names.index(name, start, stop)
    except ValueError:
        return None


def common_run(a, i, b, j):
    """How many names a[i:] and b[j:] have in common at their start: galloping, then halving."""
    limit = min(len(a) - i, len(b) - j)
    same, step = 0, 1
    while same < limit:
        upto = min(same + step, limit)
        if a[i + same:i + upto] == b[j + same:j + upto]:
            same, step = upto, step * 2
            continue
        while upto - same > 1:      # the first difference lies in [same, upto)
            middle = (same + upto) // 2
            if a[i + same:i + middle] == b[j + same:j + middle]:
                same = middle
            else:
                upto = middle
        return same
    return same


def updated(cached, names):
    """(the cached listing with the edits that make it `names`, how many), or None (list afresh)."""
    found = edits(cached.names, names)
    if found is None:
        return None
    added, removed = found
    count = len(added) + len(removed)
    moved = set(added).intersection(removed)
    added = [n for n in added if n not in moved]
    removed = set(removed) - moved
    fresh = scan.build_listing(cached.folder, added)
    newest = dict(cached.newest)
    for name in removed:
        task, stem = canonical_task(name)
        if task is not None and newest.get(task, "")[:len(stem)] == stem:
            return None                         # a task's newest minute lost a file: its newest is unknown
    for task, name in fresh.newest.items():
        newest[task] = newer(newest.get(task), name)
    latest = {task: name for task, name in cached.latest.items() if name not in removed}
    latest.update(fresh.latest)
    out = scan.Listing(cached.folder, names, newest, latest,
                       canonical=lambda: edited(cached.canonical, fresh.canonical, removed))
    rest = [n for n in cached.legacy + cached.temp + cached.other if n not in removed]
    scan.sort_rest(out, sorted(rest + fresh.legacy + fresh.temp + fresh.other))
    return out, count


def edited(canonical, added, removed):
    """The sorted canonical names with `added` (canonical names) put in and `removed`
    (any names) taken out: a bisection each, not a sort of them all."""
    out = list(canonical)
    for name in removed:
        i = bisect_left(out, name)
        if i < len(out) and out[i] == name:
            del out[i]
    for name in added:
        insort(out, name)
    return out


def canonical_task(name):
    """(task, '<date>_<task>_HHMM' stem) of a canonical name, else (None, None)."""
    pairs = scan.canonical_pairs([name]) if "\n" not in name else []
    if not pairs:
        return None, None
    return pairs[0][0], name[:name.rindex("_") + 5]


def newer(known, name):
    """The newer of a task's known newest name and a new one (None: no known one)."""
    if known is None:
        return name
    return max(known, name, key=scan.sort_key)


def secret_path(cache_path):
    return os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(cache_path))), KEY_NAME)


def read_secret(cache_path, create=False):
    """The key that authenticates the cache (bytes), made when missing and `create`; None when
    it cannot be had (an unwritable home: the listing is then made afresh each time)."""
    path = secret_path(cache_path)
    raw, problem, info = scan.read_file(path, 4096)
    if problem and create and not os.path.lexists(path):
        try:
            atomic.create_new(os.path.dirname(path), [KEY_NAME], os.urandom(32).hex().encode(), mode=0o600)
        except OSError:
            pass                                # (FileExistsError: another check made it first)
        raw, problem, info = scan.read_file(path, 4096)
    if problem or len(raw) < 32 or info.st_mode & 0o077:
        return None                             # (a key the group or others can read signs nothing)
    return raw[:64]


def mac(secret, data):
    return hashlib.blake2b(data, key=secret, digest_size=32).hexdigest().encode()


def load(path, folder, secret=None):
    """(cached Listing, {key, settled} of the listing it came from), or (None, None)."""
    secret = secret if secret is not None else read_secret(path)
    raw, problem = scan.read_bytes(path, MAX_BYTES)
    if problem or secret is None:
        return None, None
    signed, _, raw = raw.partition(b"\n")
    if not hmac.compare_digest(signed, mac(secret, raw)):
        return None, None                       # not written by alive with this home's key
    head, _, body = raw.partition(b"\n")
    try:
        doc = json.loads(head)
        if doc.get("version") != VERSION or doc.get("folder") != os.fspath(folder):
            return None, None
        size = doc["bytes"]
        if type(size) is not int or type(doc["canonical_bytes"]) is not int or \
                len(body) != size + doc["canonical_bytes"]:
            return None, None                   # cut short: not what was written
        parts = [doc[k] for k in ("newest", "latest", "legacy", "temp", "other")]
        if not all(isinstance(v, dict) and all(isinstance(x, str) for x in v.values()) for v in parts[:2]) or \
                not all(isinstance(v, list) and all(isinstance(x, str) for x in v) for v in parts[2:]):
            return None, None
        found = scan.Listing(doc["folder"], lambda: split_names(body[:size]), *parts,
                             canonical=lambda: split_names(body[size:]))
        return found, {"key": doc["key"], "settled": doc["settled"] is True}
    except (ValueError, KeyError, TypeError, AttributeError, RecursionError):
        return None, None


def split_names(body):
    return body.decode("utf-8", "surrogateescape").split("\0") if body else []


def save(path, found, key, settled, secret=None):
    body = "\0".join(found.names).encode("utf-8", "surrogateescape")
    canonical = "\0".join(found.canonical).encode("utf-8", "surrogateescape")
    head = {"version": VERSION, "folder": found.folder, "key": key, "settled": settled, "bytes": len(body),
            "canonical_bytes": len(canonical),
            "newest": found.newest, "latest": found.latest, "legacy": found.legacy, "temp": found.temp,
            "other": found.other}
    # Names that are not UTF-8 travel as JSON escapes (surrogates): ensure_ascii keeps them.
    data = json.dumps(head, separators=(",", ":")).encode("ascii") + b"\n" + body + canonical
    try:
        secret = secret if secret is not None else read_secret(path, create=True)
        if secret is None:
            return
        os.makedirs(os.path.dirname(path), exist_ok=True)
        atomic.write_atomic(path, mac(secret, data) + b"\n" + data, durable=False)
    except OSError:
        pass    # a read-only state/: the next check lists health/ again, as without a cache
