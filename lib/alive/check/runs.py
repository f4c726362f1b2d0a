"""What a task's recent runs say, beyond the latest one: errors in a row (alert_after),
ok runs since a RED spell (recover_after), and how long runs usually take (slow_after).

`history` is a list of scan.Beat, newest first, as far back as facts.read_history read:
read_more() tells it when to stop, so a check reads only what these questions need.
"""
from alive.base.timeutil import parse_iso, seconds_between

ERROR_HISTORY_MIN = 10   # consecutive errors are counted back at least this far
MEDIAN_RUNS = 20         # slow_after = "3x": times the median of this many earlier runs


def failed(beat):
    return beat.valid and beat.data["status"] == "error"


def consecutive_errors(history):
    count = 0
    for beat in history:
        if not failed(beat):
            break
        count += 1
    return count


def recovering(history, alert_after, recover_after):
    """(ok runs so far, errors before them) while a RED spell of errors is followed by
    fewer than recover_after non-error runs; else None (never RED, or recovered)."""
    oks = consecutive_oks(history)
    if oks == 0 or oks >= recover_after:
        return None
    errors = consecutive_errors(history[oks:])
    return (oks, errors) if errors >= alert_after else None


def median(values):
    """statistics.median, without importing statistics (fractions, decimal) into every check."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def took(beat):
    """A run's duration in seconds: duration_s when it says, else completed - started."""
    data = beat.data
    value = data.get("duration_s")
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value >= 0:
        return float(value)
    return seconds_between(parse_iso(data["started_at"]), parse_iso(data["completed_at"]))


def usual_duration(earlier):
    """The median duration of `earlier` runs (the newest MEDIAN_RUNS of them), or None
    with fewer than 3 (too few to call anything unusual)."""
    durations = [took(b) for b in earlier[:MEDIAN_RUNS] if b.valid]
    return median(durations) if len(durations) >= 3 else None


def slow_limit(slow_after, earlier):
    """(limit in seconds, usual duration or None) for a run judged against the `earlier`
    runs (newest first), or None when there is no limit."""
    if slow_after is None:
        return None
    kind, value = slow_after
    usual = usual_duration(earlier)
    if kind == "seconds":
        return value, usual
    return (value * usual, usual) if usual is not None else None


def needed(task, depth):
    """At most this many runs are read for a task."""
    need = max(depth, ERROR_HISTORY_MIN)
    if task is not None:
        need = max(need, task.alert_after + task.recover_after)
        if task.slow_after is not None:
            need = max(need, MEDIAN_RUNS + 1)
    return need


def read_more(task, history, depth):
    """Whether the run before the oldest of `history` could change a verdict."""
    if len(history) < depth or consecutive_errors(history) == len(history):
        return True    # the shown depth, or still counting errors in a row
    if task is None:
        return False
    if task.slow_after is not None and len(history) <= MEDIAN_RUNS:
        return True
    oks = consecutive_oks(history)
    if oks == len(history):
        return oks < task.recover_after       # was there a RED spell just before these?
    return failed(history[-1]) and consecutive_errors(history[oks:]) < task.alert_after


def consecutive_oks(history):
    count = 0
    for beat in history:
        if not beat.valid or failed(beat):
            break
        count += 1
    return count
