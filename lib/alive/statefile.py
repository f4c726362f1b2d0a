"""Small JSON state files under state/: read tolerantly, written atomically.

A corrupt file is never a crash and never silently lost: it is set aside as
<name>.corrupt-<time> and the caller starts afresh with a warning it can report.
"""
import json
import os

from . import atomic
from .timeutil import utcnow


def load(path, now=None):
    """-> (dict, warning or None). A missing file is an empty dict, without warning."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
        if isinstance(data, dict):
            return data, None
        problem = f"holds a JSON {type(data).__name__}, not an object"
    except FileNotFoundError:
        return {}, None
    except (OSError, ValueError, RecursionError) as exc:
        problem = f"is not valid JSON ({exc})"
    stamp = (now or utcnow()).strftime("%Y%m%dT%H%M%SZ")
    aside = f"{path}.corrupt-{stamp}"
    try:
        os.replace(path, aside)
    except OSError:
        aside = "(could not be moved aside)"
    return {}, f"{os.path.basename(path)} {problem}; set aside as {os.path.basename(aside)}, starting afresh"


def peek(path):
    """Read without setting anything aside (for read-only commands): dict or {}."""
    try:
        with open(path, "rb") as f:
            data = json.loads(f.read())
        return data if isinstance(data, dict) else {}
    except (OSError, ValueError, RecursionError):
        return {}


def save(path, data, durable=True):
    """Atomically; durable=False skips the fsyncs (for a mark whose loss in a power cut is harmless)."""
    os.makedirs(os.path.dirname(path), exist_ok=True)
    atomic.write_atomic(path, json.dumps(data, indent=2, sort_keys=True, ensure_ascii=False) + "\n", durable=durable)


def update(path, change):
    """Read-modify-write under an fcntl lock (path + '.lock'), so two commands at once
    cannot lose each other's update. change(dict) mutates the dict; returns it."""
    from . import locks

    fd = locks.acquire(f"{path}.lock", wait_s=None)
    try:
        data, _ = load(path)
        change(data)
        save(path, data)
        return data
    finally:
        os.close(fd)
