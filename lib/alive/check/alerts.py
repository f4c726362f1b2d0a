"""alerts/<task>.alert and alerts/source.<name>.alert: present exactly while an item is RED.

`since` is when the item was first seen RED in the current RED spell: it survives later
checks (the file is only rewritten when what it says changes) and resets when it leaves RED.
"""
import json
import os

from alive.base import atomic, paths, regular
from alive.check.health import RED
from alive.base.timeutil import format_iso, parse_iso

SUFFIX = ".alert"


def alert_name(item):
    return f"{item.name}{SUFFIX}" if item.kind == "task" else f"{item.kind}.{item.name}{SUFFIX}"


def sync(home, result):
    """Write the alert file of every RED item, remove every other one. Returns the names written."""
    folder = paths.alerts_dir(home)
    red = {alert_name(i): i for i in result.items if i.color == RED}
    if not red and not folder.exists():
        return []
    folder.mkdir(parents=True, exist_ok=True)
    for name in os.listdir(folder):
        if name.endswith(SUFFIX) and name not in red:
            try:
                (folder / name).unlink()
            except OSError:
                pass
    for name, item in red.items():
        path = folder / name
        previous = _read(path)
        since = previous.get("since") if previous.get("color") == RED else None
        body = {"kind": item.kind, "name": item.name, "color": item.color, "reasons": item.reasons,
                "since": since or format_iso(result.checked_at)}
        if previous != body:
            atomic.write_atomic(path, json.dumps(body, indent=2, ensure_ascii=False) + "\n")
    return sorted(red)


def red_since(home, item):
    """The `since` of the item's alert file while it says RED, else None: the instant the
    current RED spell was first seen, by any check. A notification says the same instant."""
    data = _read(paths.alerts_dir(home) / alert_name(item))
    since = data.get("since") if data.get("color") == RED else None
    try:
        return format_iso(parse_iso(since))
    except ValueError:
        return None


def _read(path):
    try:
        data = json.loads(regular.read_regular(path))
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError):
        return {}
