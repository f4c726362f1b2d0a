"""What the ping receiver (write/ping.py) keeps in state/ besides running markers, in the
shape check reads it (check/facts.py): the tasks a `?create=1` ping made, and the /log
events that came with no run in progress. One module for both sides, so the writer and the
reader agree on the files and neither imports the other."""
import json

from alive.base import paths, regular, statefile
from alive.base.timeutil import parse_iso

PING_CREATED_FILE = "ping-created.json"     # task -> when a ?create=1 ping made it (ping.note_created)


def created_by_pings(home):
    """task -> when a ping with ?create=1 made it (aware datetime)."""
    recorded = statefile.peek(paths.state_dir(home) / PING_CREATED_FILE).get("tasks")
    return {name: parse_iso(at) for name, at in (recorded or {}).items()}


def pending_log_path(home, task):
    """/log events that came with no run in progress: shown on the task's page, counted by
    check, and joined to the task's next finishing ping."""
    return paths.state_dir(home) / "ping-logs" / f"{task}.json"


def log_events(home, task):
    """The task's /log events not yet joined to a run, oldest first: [{"at": ISO time, "body": text}]."""
    try:
        doc = json.loads(regular.read_regular(pending_log_path(home, task)))
    except (OSError, ValueError, RecursionError):
        return []
    events = doc.get("events") if isinstance(doc, dict) else None
    return [e for e in events or [] if isinstance(e, dict) and isinstance(e.get("at"), str)
            and isinstance(e.get("body"), str)]
