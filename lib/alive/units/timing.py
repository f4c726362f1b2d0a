"""How a Schedule is said in the unit formats, shared by the three unit writers (launchd.py,
systemd.py, crontab.py) through units.py: the calendar helpers that turn a Schedule into
"products" of hours x minutes (x seconds) a unit format can say, and the clock.

Daylight saving time: `alive schedule next` follows cron's rule (schedule.py). On the nights
the local zone changes its UTC offset, dst_extra() finds the fires a scheduler with another
rule (systemd's) would miss and says them as weekday rules in UTC ("Sunday 25-31 March,
01:00 UTC"), seen whole over DST_YEARS; dst_conflicts() finds the wall times a schedule has
in a skipped or repeated hour, for the schedulers whose rule is not known (launchd).
"""
import functools
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone

from alive.config.schedule import fires_between, wall_times

UTC = timezone.utc

ALL_HOURS = frozenset(range(24))
ALL_MINUTES = frozenset(range(60))
ALL_SECONDS = frozenset(range(60))
ALL_DAYS = frozenset(range(1, 32))
ALL_MONTHS = frozenset(range(1, 13))
ALL_WEEKDAYS = frozenset(range(7))  # cron numbering: 0 = Sunday
# Dates fall on the same weekdays every 28 years (1901-2099): a weekday rule seen over 28
# years is seen whole, so the rules derived from them hold every year.
DST_YEARS = 28


# ---------------------------------------------------------------- calendar helpers


def product_groups(points):
    """A set of equal-length tuples -> sorted [(frozenset, frozenset, ...)] whose cross
    products are disjoint and together are exactly the points.

    Each point starts as its own group; then, axis by axis from the last, groups equal on
    every other axis merge. They never overlap (their products were disjoint), so the
    union stays exact. `daily 08:00,12:00,16:00` is one group ({8,12,16} x {0})."""
    points = {tuple(p) for p in points}
    if not points:
        return []
    size = len(next(iter(points)))
    groups = [tuple(frozenset([v]) for v in p) for p in points]
    for axis in reversed(range(size)):
        merged = {}
        for g in groups:
            merged.setdefault(g[:axis] + g[axis + 1:], set()).update(g[axis])
        groups = [key[:axis] + (frozenset(values),) + key[axis:] for key, values in merged.items()]
    return sorted(groups, key=lambda g: [sorted(axis) for axis in g])


def clock_groups(schedule):
    """Calendar schedules: [(hours, minutes)] products of the fire times of a day."""
    return product_groups((t // 60, t % 60) for t in schedule.times)


def day_filter(schedule):
    """(months, days, weekdays), each a sorted list or None for "any". When days and
    weekdays are both given a day matching either one fires (cron's rule), or both when
    schedule.days_and."""
    months = None if schedule.months == ALL_MONTHS else sorted(schedule.months)
    days = None if schedule.dom_any else schedule.days
    weekdays = None if schedule.dow_any else schedule.weekdays
    if days is not None and weekdays is not None and (days == ALL_DAYS or weekdays == ALL_WEEKDAYS):
        days = weekdays = None  # one side matches every day, so the OR does too
    if days == ALL_DAYS:
        days = None
    if weekdays == ALL_WEEKDAYS:
        weekdays = None
    return months, sorted(days) if days else None, sorted(weekdays) if weekdays else None


def every_points(seconds, offset_s=0):
    """`every D` with D dividing a day: the (hour, minute, second) of each fire in a day,
    counted from midnight UTC and shown at UTC offset `offset_s`. None when D does not
    divide a day (its fire times then drift from day to day)."""
    if 86400 % seconds:
        return None
    points = set()
    for k in range(86400 // seconds):
        t = (k * seconds + offset_s) % 86400
        points.add((t // 3600, t // 60 % 60, t % 60))
    return points


def progression(values, low, high):
    """(first, step) when values are first, first+step, ... up to the last that fits under
    `high`: at least three of them, or two starting at `low` (0,30 is */30); else None."""
    values = sorted(values)
    if len(values) < 2 or (len(values) == 2 and values[0] != low):
        return None
    step = values[1] - values[0]
    if values != list(range(values[0], high + 1, step)):
        return None
    return values[0], step


# ---------------------------------------------------------------- daylight saving time


def clock(now=None, tz=None):
    """(now, zone) for writing units: the given ones, else the current time and the local zone."""
    from alive.config.schedule import local_zone
    from alive.base.timeutil import utcnow

    return now or utcnow(), tz or local_zone()


@dataclass(frozen=True)
class Change:
    """A change of a zone's UTC offset (a daylight-saving night)."""

    at: datetime  # the instant, UTC
    before: int   # UTC offset before, seconds
    after: int    # UTC offset after

    def wall(self, offset):
        """The wall-clock time (naive) the instant shows at an offset."""
        return (self.at + timedelta(seconds=offset)).replace(tzinfo=None)


def _offset(instant, zone):
    return int(instant.astimezone(zone).utcoffset().total_seconds())


@functools.lru_cache(maxsize=64)
def offset_changes(zone, first, last):
    """The zone's Changes from `first` to `last` (aware datetimes), in order. Found by looking
    every 6 hours (no zone changes twice within 6 hours), then to the second."""
    out = []
    t, before = first, _offset(first, zone)
    step = timedelta(hours=6)
    while t < last:
        after = _offset(t + step, zone)
        if after != before:
            lo, hi = t, t + step
            while hi - lo > timedelta(seconds=1):
                mid = lo + (hi - lo) / 2
                lo, hi = (mid, hi) if _offset(mid, zone) == before else (lo, mid)
            out.append(Change(hi.replace(microsecond=0), before, after))
            before = after
        t += step
    return tuple(out)


def _dst_years(zone, now):
    first = datetime(now.year, 1, 1, tzinfo=UTC)
    return offset_changes(zone, first, first.replace(year=now.year + DST_YEARS))


def dst_extra(schedule, zone, now, rule):
    """What a scheduler following `rule` (a schedule.DstRule that fires no more than cron's,
    as systemd's) must add to a calendar schedule so it fires where `alive schedule next`
    says on the zone's DST nights: (groups, missed). missed: the instants (UTC, sorted) it
    would miss over DST_YEARS from now's year; groups: the (weekdays, months, days, hours,
    minutes) products in UTC that say exactly those, or None when no weekday rule does."""
    missed = set()
    for change in _dst_years(zone, now):
        span = timedelta(seconds=abs(change.after - change.before))
        start, end = change.at - span - timedelta(seconds=1), change.at + span
        promised = set(fires_between(schedule, start, end, zone))
        missed |= promised - set(fires_between(schedule, start, end, zone, rule))
    if not missed:
        return [], []
    points = {((t.weekday() + 1) % 7, t.month, t.day, t.hour, t.minute) for t in missed}
    groups = product_groups(points)
    years = range(now.year, now.year + DST_YEARS)
    return (groups if _utc_instants(groups, years) == missed else None), sorted(missed)


def _utc_instants(groups, years):
    """Every instant (UTC) the products say in those years: what the added lines fire."""
    out = set()
    for weekdays, months, days, hours, minutes in groups:
        for year in years:
            for month in months:
                for day in days:
                    try:
                        d = date(year, month, day)
                    except ValueError:  # 30 February
                        continue
                    if (d.weekday() + 1) % 7 in weekdays:
                        out |= {datetime(year, month, day, h, m, tzinfo=UTC) for h in hours for m in minutes}
    return out


def dst_conflicts(schedule, zone, now, days=366):
    """[(Change, [naive wall times])]: the zone's DST nights in the `days` after now on which
    a calendar schedule has wall times that do not exist (a gap) or happen twice (a fold)."""
    out = []
    for change in _dst_years(zone, now):
        if not now <= change.at < now + timedelta(days=days):
            continue
        lo, hi = sorted((change.wall(change.before), change.wall(change.after)))
        walls = [t for t in wall_times(schedule, lo, hi.date()) if t < hi]
        if walls:
            out.append((change, walls))
    return out
