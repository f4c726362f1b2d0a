"""The trigger queue: "refresh this source now, please" (DESIGN §2, §4, §6).

Spool backend: one small JSON file per request in ALIVE_HOME/triggers/, named
`<source>.<UTC stamp>.<random>.json` and holding {"source", "requested_at", "origin", "id"}.
Writers use atomic.write_atomic (the temp name starts with a dot, so a reader never sees
half a request). A source name is checked against the registry before it is used in a
path, so `../../x` never reaches the filesystem.

http-kv backend (kv.py): the same request as the value of the key `<prefix><source>:<id>`.

`alive trigger SOURCE` is the command-line side; `alive serve` enqueues from its
"Trigger now" buttons; the runner (`alive triggers`, triggers.py) takes the requests.
"""
import json
import os

from alive import cliutil
from alive.base import atomic, paths
from alive.check import scan
from alive.base.errors import RuntimeFailure, UsageError
from alive.base.timeutil import format_iso, utcnow

MAX_REQUEST_BYTES = 64 << 10   # a request is ~150 bytes; anything bigger is not ours


def check_source(reg, source):
    """The source name when it is registered, else UsageError (exit 3)."""
    if not isinstance(source, str) or source not in reg.sources:
        known = ", ".join(sorted(reg.sources)) or "none registered in fleet.toml"
        shown = source if isinstance(source, str) else repr(source)
        raise UsageError(f"unknown source {scan.display_name(shown)!r} (known: {known})")
    return source


def enqueue(home, reg, source, origin, now, timeout=None):
    """Queue one refresh request for a registered source on the configured backend ->
    the spool file's path, or (http-kv) an object whose .name is the key. An http-kv
    failure is a kv.KvError, an OSError like a spool folder that cannot be written."""
    check_source(reg, source)
    if reg.triggers.backend == "http-kv":
        from alive.correct import kv

        return kv.enqueue(reg, source, origin, now, timeout or kv.TIMEOUT_S)
    folder = paths.triggers_dir(home)
    os.makedirs(folder, exist_ok=True)
    request_id = os.urandom(6).hex()
    request = {"source": source, "requested_at": format_iso(now), "origin": str(origin), "id": request_id}
    path = folder / f"{source}.{now.strftime('%Y%m%dT%H%M%SZ')}.{request_id}.json"
    atomic.write_atomic(path, json.dumps(request, ensure_ascii=False) + "\n")
    return path


def pending(home):
    """Queued requests, oldest first, each with its file name under "file". Dot files
    (writers' temp files) and anything that is not a well-formed request are skipped."""
    folder = paths.triggers_dir(home)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    out = []
    for name in names:
        if name.startswith(".") or not name.endswith(".json"):
            continue
        doc, problem = read_request(os.path.join(folder, name))
        if problem is None:
            out.append(dict(doc, file=scan.display_name(name), ref=name))
    return sorted(out, key=lambda r: (r["requested_at"], r["file"]))


PENDING_TIMEOUT_S = 3          # the page waits this long for the KV store's listing, no more


def pending_requests(home, reg, timeout=PENDING_TIMEOUT_S):
    """What the dashboard counts as queued -> ([request], problem or None), oldest first.
    Each request has "source", "requested_at" (None when the key does not say) and "ref"
    (the spool file's name, or the KV key: what the trigger runner's journal names).
    http-kv: one key listing and nothing more (the time is in the key's id, so no value is
    read); a store that cannot be listed is a problem said on the page, never "0 queued"."""
    if reg.triggers.backend != "http-kv":
        return pending(home), None
    from alive.correct import kv

    cfg = reg.triggers.http_kv
    try:
        keys = kv.list_keys(cfg, kv.token(cfg), timeout)
    except (OSError, UsageError) as exc:
        return [], f"the trigger queue cannot be read: {exc}"
    out = []
    for key in keys:
        source, colon, request_id = key[len(cfg.prefix):].partition(":")
        if colon and source in reg.sources:
            out.append({"source": source, "requested_at": requested_at_of(request_id), "ref": key, "file": key})
    return sorted(out, key=lambda r: (r["requested_at"] or "", r["ref"])), None


def requested_at_of(request_id):
    """The ISO time in a KV request id (`20260502T010203Z.<hex>`, as kv.enqueue makes it), or None."""
    from datetime import datetime, timezone

    try:
        stamp = datetime.strptime(request_id.partition(".")[0], "%Y%m%dT%H%M%SZ").replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return format_iso(stamp)


def read_request(path):
    """(request dict, None) or (None, why it is not a request). Never follows a symlink
    or blocks on a FIFO (scan.read_bytes)."""
    raw, problem = scan.read_bytes(path, MAX_REQUEST_BYTES)
    return (None, problem) if problem else parse_request(raw)


def parse_request(raw):
    """A request's bytes (a spool file, a KV value) -> (dict, None) or (None, problem)."""
    try:
        doc = json.loads(raw)
    except (ValueError, RecursionError):
        return None, "is not JSON"
    if not isinstance(doc, dict):
        return None, f"holds a JSON {type(doc).__name__}, not an object"
    missing = [k for k in ("source", "requested_at", "id") if not isinstance(doc.get(k), str)]
    if missing:
        return None, f"has no string {', '.join(missing)}"
    return doc, None


def main(argv):
    p = cliutil.parser("trigger", "Ask for an immediate refresh of a source (`alive triggers` runs it).")
    p.add_argument("source", help="a source name from fleet.toml")
    p.add_argument("--timeout", type=cliutil.timeout_arg, help="http-kv backend: seconds to wait for the "
                                                               "KV store (default 10s)")
    args = p.parse_args(argv)
    from alive.cliutil import load

    home, reg = load(args)
    if args.timeout is not None and args.timeout < 1:
        raise UsageError("--timeout must be at least 1s")
    try:
        queued = enqueue(home, reg, args.source, "cli", utcnow(), args.timeout)
    except OSError as exc:
        if reg.triggers.backend == "http-kv":       # a kv.KvError: one scrubbed line already
            raise RuntimeFailure(f"cannot queue the request in the KV store: {exc}") from None
        raise RuntimeFailure(f"cannot write to {paths.triggers_dir(home)}: {exc.strerror or exc}") from None
    where = f"key {queued.name}" if reg.triggers.backend == "http-kv" else f"triggers/{queued.name}"
    print(f"alive trigger: queued a refresh of {args.source} ({where})")
    return 0
