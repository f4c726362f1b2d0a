"""Where trigger requests wait (triggers.py takes them): the spool folder triggers/ or an
http-kv store (a Workers KV namespace, kv.py), each listing its pending Requests and refusing
what is not one, and removing a request by its ref. A ref is never used as a path outside
triggers/ nor as another tool's key.
"""
import os
import re
from dataclasses import dataclass

from alive.base import paths
from alive.check import scan
from alive.correct import queue

ID_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")   # the <id> of a KV key


@dataclass
class Request:
    ref: str                   # spool: the file name in triggers/; http-kv: the key
    source: str
    attempt: int = 1
    tried: bool = True         # False: the run that took it died before its producer started

    def to_json(self):
        return {"ref": self.ref, "source": self.source, "attempt": self.attempt}


def shown(ref):
    """A ref (file name, key) as it may be printed: one line, readable, at most 200 characters."""
    return repr(scan.display_name(ref)[:200])


class Spool:
    """The triggers/ folder. A ref is a plain file name read from the folder itself."""

    name = "spool"
    lagging_list = False
    secret = None

    def __init__(self, home):
        self.folder = paths.triggers_dir(home)

    def pending(self, reg, skip):
        """-> ([Request], [(ref, why refused)]). Dot files are writers' temp files: left alone."""
        try:
            names = sorted(os.listdir(self.folder))
        except FileNotFoundError:
            return [], []
        requests, refused = [], []
        for name in names:
            if name.startswith(".") or name in skip:
                continue
            path = os.path.join(self.folder, name)
            if os.path.isdir(path) and not os.path.islink(path):
                continue                                   # not ours to remove, and not a request
            if name != scan.display_name(name):
                refused.append((name, "has a file name that is not UTF-8"))
                continue
            if not name.endswith(".json"):
                refused.append((name, "is not a request file (*.json)"))
                continue
            doc, problem = queue.read_request(path)
            if problem and not os.path.lexists(path):
                continue                                   # gone since the listing
            if problem:
                refused.append((name, problem))
            elif doc["source"] not in reg.sources:
                refused.append((name, f"asks for unknown source {shown(doc['source'])}"))
            else:
                requests.append(Request(name, doc["source"]))
        return requests, refused

    def remove(self, ref):
        if "/" in ref or ref in ("", ".", ".."):
            return                                         # never a path outside triggers/
        try:
            os.unlink(os.path.join(self.folder, ref))
        except FileNotFoundError:
            pass


class HttpKv:
    """A Workers KV namespace (kv.py). A ref is a key under the prefix."""

    name = "http-kv"
    lagging_list = True

    def __init__(self, cfg, timeout):
        from alive.correct import kv

        self.kv, self.cfg, self.timeout = kv, cfg, timeout
        self.secret = kv.token(cfg)

    def pending(self, reg, skip):
        requests, refused = [], []
        for key in self.kv.list_keys(self.cfg, self.secret, self.timeout):
            if key in skip:
                continue
            source, colon, request_id = key[len(self.cfg.prefix):].partition(":")
            if source not in reg.sources:
                refused.append((key, f"asks for unknown source {shown(source)}"))
                continue
            if not colon or not ID_RE.match(request_id):
                refused.append((key, f"is not {self.cfg.prefix}<source>:<id>"))
                continue
            raw = self.kv.get_value(self.cfg, self.secret, key, self.timeout)
            if raw is None:
                continue                                   # gone since the listing
            other = self.kv.other_source_in(raw, source)
            if other is not None:
                refused.append((key, f"has a value that asks for {shown(other)}, not {source}"))
            else:
                requests.append(Request(key, source))
        return requests, refused

    def remove(self, ref):
        if ref.startswith(self.cfg.prefix):                # never another tool's key
            self.kv.delete_key(self.cfg, self.secret, ref, self.timeout)


def backend_for(home, reg, timeout):
    """The configured backend; an http-kv token variable that is empty is a UsageError."""
    if reg.triggers.backend == "http-kv":
        return HttpKv(reg.triggers.http_kv, timeout)
    return Spool(home)
