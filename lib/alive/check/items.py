"""The words check judges in (DESIGN §5): the four colors, the facts it judges (TaskFacts,
SourceFacts), the Item it gives each task and source, the Result of a whole check, and
pauses. health.py judges tasks, sourcehealth.py sources; both speak these.
"""
from alive.base.record import field, record
from datetime import datetime

from alive.base.timeutil import format_iso, parse_iso
from alive.write.heartbeat import FUTURE_S

GREEN, YELLOW, RED, GREY = "GREEN", "YELLOW", "RED", "GREY"
RANK = {GREY: -1, GREEN: 0, YELLOW: 1, RED: 2}
SKEW_S = FUTURE_S                  # a time more than 5 minutes ahead of now is clock skew (the writers' rule)


@record
class Item:
    kind: str                      # "task" | "source"
    name: str
    color: str
    reasons: list
    details: dict = field(default_factory=dict)

    def __init__(self, kind, name, color, reasons, details=None):   # one per item per check
        self.kind, self.name, self.color, self.reasons = kind, name, color, reasons
        self.details = {} if details is None else details

    def to_json(self):
        return {"kind": self.kind, "name": self.name, "color": self.color,
                "reasons": list(self.reasons), **self.details}


@record
class TaskFacts:
    name: str
    history: list                  # scan.Beat, newest first, as far back as was read
    running: dict | None = None    # the marker of a run in progress (its process alive)
    pause: dict | None = None
    future: list = field(default_factory=list)   # files dated beyond the skew allowance, not counted
    first_seen: datetime | None = None           # when the registered task was first known
    log_events: list = field(default_factory=list)   # /log pings not yet joined to a run (ping.log_events)

    def __init__(self, name, history, running=None, pause=None, future=None, first_seen=None,
                 log_events=None):   # one per task
        self.name, self.history, self.running, self.pause = name, history, running, pause
        self.future = [] if future is None else future
        self.first_seen = first_seen
        self.log_events = log_events or []


@record
class SourceFacts:
    name: str
    captured_at: datetime | None   # None when the file is missing or unreadable
    problem: str | None = None     # why captured_at is unknown
    status_value: object = None    # the value of status_field, when configured
    watchdog: dict = field(default_factory=dict)   # state/watchdog.json entry
    probe: dict | None = None      # state/probes.json entry of its probe
    pause: dict | None = None


@record
class Result:
    overall: str
    items: list
    invalid_files: list
    checked_at: datetime

    def to_json(self):
        return {"overall": self.overall, "checked_at": format_iso(self.checked_at),
                "items": [i.to_json() for i in self.items], "invalid_files": self.invalid_files}


def worst(colors):
    counted = [c for c in colors if c != GREY]
    return max(counted, key=RANK.__getitem__) if counted else GREEN


def active_pause(pause, now):
    """The pause when it is still in force at `now`, else None."""
    if not pause:
        return None
    until = pause.get("until")
    if until is None:
        return pause
    try:
        return pause if parse_iso(until) > now else None
    except ValueError:
        return None


def pause_reason(pause):
    until = f"until {pause['until']}" if pause.get("until") else "until resumed"
    why = f": {pause['reason']}" if pause.get("reason") else ""
    return f"paused {until}{why}"
