"""When a Schedule fires: next_fires(), fires_between(), wall_times() in the local zone
(local_zone()), by the DST rule of the scheduler that runs it (config/schedule.py), and
longest_interval() and default_grace(), which lateness judges by."""
import bisect
import functools
import os
from datetime import date, datetime, timedelta, timezone

from alive.config.schedule_parse import _ALL_MONTHS

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)

# A schedule with no fire time in this many years never fires (the calendar repeats
# every 400 years, so nothing is missed).
_SEARCH_YEARS = 401


# ---------------------------------------------------------------- fire times


def _day_matches(s, day):
    if day.month not in s.months:
        return False
    if s.dom_any and s.dow_any:
        return True
    dom = day.day in s.days
    dow = (day.weekday() + 1) % 7 in s.weekdays
    if s.dow_any:
        return dom
    if s.dom_any:
        return dow
    return (dom and dow) if s.days_and else (dom or dow)  # cron's rule: _day_rule


def _matching_days(s, start, stop=None):
    """Dates >= start (a date) whose day matches, in order, skipping months that cannot;
    none after `stop` (a date) when given."""
    day = start
    last_hit = start.year
    while stop is None or day <= stop:
        if day.year - last_hit > _SEARCH_YEARS:
            raise ValueError(f"{s.text!r} never fires")
        if day.month not in s.months:
            try:
                day = date(day.year + (day.month == 12), day.month % 12 + 1, 1)
            except ValueError:  # past year 9999
                raise ValueError(f"{s.text!r} has no more fire times before the year 10000") from None
            continue
        if _day_matches(s, day):
            last_hit = day.year
            yield day
        try:
            day += timedelta(days=1)
        except OverflowError:
            raise ValueError(f"{s.text!r} has no more fire times before the year 10000") from None


def wall_times(s, start, stop=None):
    """Naive wall-clock fire times >= start (a naive datetime), in order; none on a day
    after `stop` (a date) when given."""
    first = start.hour * 60 + start.minute + (1 if start.second or start.microsecond else 0)
    for day in _matching_days(s, start.date(), stop):
        times = s.times[bisect.bisect_left(s.times, first):] if day == start.date() else s.times
        for minute in times:
            yield datetime(day.year, day.month, day.day, minute // 60, minute % 60)


def _exists(aware, zone):
    return aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None) == aware.replace(tzinfo=None)


def _instants(naive, zone, rule):
    """Wall time -> (primary instant or None, second instant of a repeated hour or None), in
    UTC, under a DstRule."""
    early = naive.replace(tzinfo=zone, fold=0)
    late = naive.replace(tzinfo=zone, fold=1)
    if _exists(early, zone):
        repeated = late.utcoffset() != early.utcoffset()
        return early.astimezone(UTC), late.astimezone(UTC) if repeated and rule.fold == "twice" else None
    # Spring forward: this wall time does not exist.
    if rule.gap == "skip":
        return None, None
    moved = naive
    for _ in range(24 * 60):  # gaps are an hour or so; a day bounds any zone's history
        moved += timedelta(minutes=1)
        candidate = moved.replace(tzinfo=zone)
        if _exists(candidate, zone):
            return candidate.astimezone(UTC), None
    return None, None


def local_zone():
    """The local zone with its DST rules: $TZ when set (a zone name or file), else /etc/localtime.

    Falls back to the current fixed offset when no zone database can be read; then DST
    changes cannot be followed.
    """
    from zoneinfo import ZoneInfo

    name = os.environ.get("TZ", "").lstrip(":")
    try:
        if name and os.path.isabs(name):
            with open(name, "rb") as fh:
                return ZoneInfo.from_file(fh, key=name)
        if name:
            return ZoneInfo(name)
        with open("/etc/localtime", "rb") as fh:
            return ZoneInfo.from_file(fh, key="localtime")
    except (OSError, ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return datetime.now(UTC).astimezone().tzinfo


def next_fires(schedule, after, count=5, tz=None, rule=None):
    """The next `count` fire times strictly after the aware datetime `after`, as aware
    datetimes in `tz` (default: the local zone, honouring $TZ). `rule` (a DstRule) is for
    asking what another scheduler does; the default is cron's (schedule.dst_rule)."""
    if after.tzinfo is None or after.utcoffset() is None:
        raise ValueError("next_fires needs an aware datetime")
    zone = tz if tz is not None else local_zone()
    if count <= 0:
        return []
    fires = []
    for instant in _fires(schedule, after.astimezone(UTC), zone, rule or schedule.dst_rule):
        fires.append(instant.astimezone(zone))
        if len(fires) >= count:
            break
    return fires


def fires_between(schedule, start, end, tz=None, rule=None):
    """Fire instants t with start < t <= end (aware datetimes), in UTC, in order; `tz` and
    `rule` as for next_fires."""
    zone = tz if tz is not None else local_zone()
    start_utc, end_utc = start.astimezone(UTC), end.astimezone(UTC)
    # A wall time moved out of a gap lands less than a day after it: a day more bounds the walk.
    stop = (end_utc.astimezone(zone) + timedelta(days=1)).date()
    out = []
    for instant in _fires(schedule, start_utc, zone, rule or schedule.dst_rule, stop):
        if instant > end_utc:
            break
        out.append(instant)
    return out


def _fires(schedule, after_utc, zone, rule, stop=None):
    """Fire instants (UTC) strictly after after_utc, in order; for calendar schedules none
    from wall times on days after `stop` (a date)."""
    if schedule.kind == "every":
        step = timedelta(seconds=schedule.interval)
        k = (after_utc - EPOCH) // step + 1
        while True:
            yield EPOCH + k * step
            k += 1
    wall = after_utc.astimezone(zone)
    start = wall.replace(tzinfo=None)
    if wall.fold == 0:
        # In a repeated hour, wall times a little before `after` occur again after it.
        other = start.replace(tzinfo=zone, fold=1)
        if other.utcoffset() != wall.utcoffset():
            start -= other.astimezone(UTC) - after_utc
    # Primary instants (unique, first of a repeated pair, or moved out of a gap) rise with
    # the wall clock; only the second instant of a repeated hour comes out of order, so
    # those wait in `pending` until a primary passes them.
    last, pending = after_utc, []
    for naive in wall_times(schedule, start, stop):
        primary, second = _instants(naive, zone, rule)
        if primary is None:
            continue
        while pending and pending[0] <= primary:
            instant = pending.pop(0)
            if instant > last:
                last = instant
                yield instant
        if primary > last:
            last = primary
            yield primary
        if second is not None:
            bisect.insort(pending, second)
    yield from (t for t in pending if t > last)


# ---------------------------------------------------------------- longest interval


@functools.lru_cache(maxsize=256)
def longest_interval(schedule):
    """Longest time between consecutive fires in seconds, on the nominal clock (no DST).

    Calendar schedules are enumerated day by day over 56 years from 2001: weekdays and
    leap years repeat every 28 years there, so every gap of the cycle is seen whole.
    """
    if schedule.kind == "every":
        return schedule.interval
    times = schedule.times
    longest = max((b - a for a, b in zip(times, times[1:])), default=0) * 60
    previous = None
    day, end = date(2001, 1, 1), date(2057, 1, 1)
    if schedule.dom_any and schedule.months == _ALL_MONTHS:
        end = date(2001, 1, 15)  # a weekday pattern (or every day) repeats every week
    while day < end:
        if _day_matches(schedule, day):
            if previous is not None:
                gap = (day - previous).days * 86400 - (times[-1] - times[0]) * 60
                longest = max(longest, gap)
            previous = day
        day += timedelta(days=1)
    if previous is None:
        raise ValueError(f"{schedule.text!r} never fires")
    return longest


# The default grace of a scheduled task (check/lateness.py judges with it; fleet.toml's lint
# names it): 10% of the gap before the expected run, at least 5 minutes.
MIN_GRACE_S = 300
GRACE_SHARE = 10          # percent of the gap before the expected run


def default_grace(gap_s):
    return max(MIN_GRACE_S, int(gap_s) * GRACE_SHARE // 100)
