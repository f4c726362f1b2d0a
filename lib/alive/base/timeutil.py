"""Instants as text: ISO 8601 in, ISO 8601 with Z out; the clock, read only at the CLI edge.
Durations live in durations.py (no imports at all), re-exported here."""
from datetime import datetime, timedelta, timezone

from alive.base.durations import format_duration, parse_duration  # noqa: F401  (re-exported)

UTC = timezone.utc


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
