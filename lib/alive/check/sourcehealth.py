"""Source judging (DESIGN §5): a data file's age against its max_age, the watchdog's failed
refreshes, a bad status_field and its probe's state -> the source's Item. Pure, as health.py.
"""
from alive.check.items import GREEN, GREY, RED, SKEW_S, YELLOW, Item, active_pause, pause_reason, worst
from alive.base.timeutil import format_duration, format_iso, parse_iso, seconds_between


def evaluate_source(name, source, facts, now, probe_interval=None):
    reasons, colors = [], []
    details = {"max_age_s": source.max_age, "age_s": None, "path": str(source.path),
               "consecutive_failures": int(facts.watchdog.get("consecutive_failures") or 0),
               "probe": None}

    def flag(color, reason):
        colors.append(color)
        reasons.append(reason)

    for key in ("last_attempt_at", "last_success_at", "last_error", "last_trigger_at"):
        if facts.watchdog.get(key) is not None:
            details[key] = facts.watchdog[key]
    if facts.captured_at is None:
        flag(RED, f"data file {facts.problem or 'is missing'}")
    else:
        age = seconds_between(facts.captured_at, now)
        details["age_s"] = max(0, int(age))       # never negative: the reason below says clock skew
        details["captured_at"] = format_iso(facts.captured_at)
        if age < -SKEW_S:
            flag(YELLOW, f"captured {format_duration(-age)} in the future (clock skew?)")
        elif age > source.max_age:
            flag(YELLOW, f"data is {format_duration(age)} old (max age {format_duration(source.max_age)})")
    failures = details["consecutive_failures"]
    if source.status_field and facts.status_value in source.bad_status:
        # A bad status is a failed refresh (whoever ran the producer), so it is judged by
        # the count like any other: the file itself is the evidence of at least one, and
        # the watchdog's failed attempt at it is that same one, not a second.
        details["bad_status"] = facts.status_value
        counted = max(failures, 1)
        what = f"{source.status_field} is {facts.status_value!r}"
        if counted < source.alert_after:
            flag(YELLOW, f"{what} ({counted} of {source.alert_after} failed refreshes before RED)")
        else:
            flag(RED, what if counted == 1 else
                 f"{what}: {counted} failed refreshes in a row (alert after {source.alert_after})")
    elif failures:
        last = facts.watchdog.get("last_error") or "no detail"
        if failures >= source.alert_after:
            what = f"{failures} failed refreshes in a row" if failures > 1 else "refresh failed"
            flag(RED, f"{what} (alert after {source.alert_after}): {last}")
        else:
            flag(YELLOW, f"{failures} failed refresh{'es' if failures > 1 else ''} "
                         f"({source.alert_after} before RED): {last}")
    if source.probe:
        state = probe_state(facts.probe, now, probe_interval)
        details["probe"] = state
        if state in ("expired", "no_tab"):
            flag(RED, f"probe {source.probe} says {state}: a person must re-authenticate")
    pause = active_pause(facts.pause, now)
    if pause:
        details["paused"] = pause
        return Item("source", name, GREY, [pause_reason(pause)] + reasons, details)
    return Item("source", name, worst(colors) if colors else GREEN, reasons, details)


def probe_state(entry, now, interval_s):
    """alive | expired | no_tab | error | unknown. A state older than 3 x interval is unknown."""
    if not entry or "state" not in entry:
        return "unknown"
    try:
        checked = parse_iso(entry["checked_at"])
    except (KeyError, TypeError, ValueError):
        return "unknown"
    if interval_s and seconds_between(checked, now) > 3 * interval_s:
        return "unknown"
    return entry["state"]
