"""The trigger queue: "refresh this source now, please" (DESIGN §2, §6).

Spool backend: one small JSON file per request in ALIVE_HOME/triggers/, named
`<source>.<UTC stamp>.<random>.json` and holding {"source", "requested_at", "origin", "id"}.
Writers use atomic.write_atomic (the temp name starts with a dot, so a reader never sees
half a request). A source name is checked against the registry before it is used in a
path, so `../../x` never reaches the filesystem.

`alive trigger SOURCE` is the command-line side; `alive serve` enqueues from its
"Trigger now" buttons; the runner (`alive triggers`) takes the requests.
"""
import json
import os

from . import atomic, cliutil, paths, scan
from .errors import RuntimeFailure, UsageError
from .timeutil import format_iso, utcnow

MAX_REQUEST_BYTES = 64 << 10   # a request is ~150 bytes; anything bigger is not ours


def check_source(reg, source):
    """The source name when it is registered, else UsageError (exit 3)."""
    if not isinstance(source, str) or source not in reg.sources:
        known = ", ".join(sorted(reg.sources)) or "none registered in fleet.toml"
        shown = source if isinstance(source, str) else repr(source)
        raise UsageError(f"unknown source {scan.display_name(shown)!r} (known: {known})")
    return source


def enqueue(home, reg, source, origin, now):
    """Queue one refresh request for a registered source; returns the file's path."""
    check_source(reg, source)
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
        raw, problem = scan.read_bytes(os.path.join(folder, name), MAX_REQUEST_BYTES)
        if problem:
            continue
        try:
            doc = json.loads(raw)
        except (ValueError, RecursionError):
            continue
        if isinstance(doc, dict) and all(isinstance(doc.get(k), str) for k in ("source", "requested_at", "id")):
            out.append(dict(doc, file=scan.display_name(name)))
    return sorted(out, key=lambda r: (r["requested_at"], r["file"]))


def main(argv):
    p = cliutil.parser("trigger", "Ask for an immediate refresh of a source (`alive triggers` runs it).")
    p.add_argument("source", help="a source name from fleet.toml")
    args = p.parse_args(argv)
    from .cmd_check import load

    home, reg = load(args)
    try:
        path = enqueue(home, reg, args.source, "cli", utcnow())
    except OSError as exc:
        raise RuntimeFailure(f"cannot write to {paths.triggers_dir(home)}: {exc.strerror or exc}") from None
    print(f"alive trigger: queued a refresh of {args.source} (triggers/{path.name})")
    return 0
