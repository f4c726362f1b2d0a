"""Time and duration text: the only place that turns strings into instants and seconds.

Kept import-light (datetime only): it is on the heartbeat write path.
"""
from datetime import datetime, timedelta, timezone

UTC = timezone.utc
_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}


def parse_duration(text):
    """'30s', '15m', '36h', '9d', '2w', '1h30m', or a bare number of seconds -> int seconds.

    Raises ValueError with a message that says how to write it.
    """
    if isinstance(text, bool):
        raise ValueError(f"{text!r} is not a duration (use e.g. 15m, 36h, 1h30m)")
    if isinstance(text, int):
        if text < 0:
            raise ValueError(f"{text} is not a duration (negative)")
        return text
    raw = str(text).strip()
    if raw.isdigit():
        return int(raw)
    total, number, seen = 0, "", False
    for ch in raw:
        if ch.isdigit():
            number += ch
        elif ch in _UNITS and number:
            total += int(number) * _UNITS[ch]
            number, seen = "", True
        else:
            seen = False
            break
    if not seen or number:
        raise ValueError(f"{str(text)!r} is not a duration ({_hint(raw)})")
    return total


def _hint(raw):
    words = {"sec": "s", "min": "m", "hour": "h", "day": "d", "week": "w"}
    digits = "".join(c for c in raw if c.isdigit())
    for word, unit in words.items():
        if word in raw.lower() and digits:
            return f"use {digits}{unit}"
    return "use e.g. 30s, 15m, 36h, 9d, 1h30m"


def format_duration(seconds):
    """Compact human duration: 40h, 2d3h, 15m, 45s. Negative durations keep their sign."""
    seconds = int(round(seconds))
    if seconds < 0:
        return "-" + format_duration(-seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        m, s = divmod(seconds, 60)
        return f"{m}m{s}s" if s and m < 10 else f"{m}m"
    if seconds < 3 * 86400:
        h, rest = divmod(seconds, 3600)
        m = rest // 60
        return f"{h}h{m}m" if m and h < 10 else f"{h}h"
    d, rest = divmod(seconds, 86400)
    h = rest // 3600
    return f"{d}d{h}h" if h else f"{d}d"


def parse_iso(text, naive_as_local=False):
    """ISO 8601 -> aware UTC datetime. 'Z' or an offset; a naive time is refused unless
    naive_as_local (command-line input), where it is read in the local zone (TZ)."""
    if not isinstance(text, str) or not text:
        raise ValueError(f"{text!r} is not an ISO 8601 time")
    raw = text.strip()
    if raw[-1:] in ("Z", "z"):
        raw = raw[:-1] + "+00:00"
    try:
        dt = datetime.fromisoformat(raw)
    except ValueError:
        raise ValueError(f"{text!r} is not an ISO 8601 time (e.g. 2026-05-02T01:55:00Z)") from None
    if dt.tzinfo is None:
        if not naive_as_local:
            raise ValueError(f"{text!r} has no time zone (end it with Z)")
    try:
        # A naive value is read in local time; year 1 or 9999 with an offset overflows.
        return dt.astimezone(UTC) if dt.tzinfo else dt.astimezone().astimezone(UTC)
    except (OverflowError, ValueError):
        raise ValueError(f"{text!r} is out of range") from None


def format_iso(dt):
    """Aware datetime -> '2026-05-02T01:55:00Z' (UTC, whole seconds)."""
    return dt.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


def from_epoch(seconds):
    return datetime.fromtimestamp(seconds, UTC)


def utcnow():
    """The clock, read only at the CLI edge; everything below takes `now` as an argument."""
    return datetime.now(UTC)


def seconds_between(earlier, later):
    return (later - earlier) / timedelta(seconds=1)
