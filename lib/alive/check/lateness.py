"""Lateness: a scheduled task judged the way its schedule means it (healthchecks' and
Cronitor's "expected run + grace"), pure functions of (schedule, facts, now, zone).

- `daily`, `weekly`, `cron`: the run expected at fire time F is late once F + grace has
  passed and no run started at or after F. Grace defaults to 10% of the gap before F (the
  time since the previous fire), at least 5 minutes: 24 min for the 12:00 run of
  `daily 08:00,12:00,16:00`, 1h36m for its 08:00 run after the night.
- `every DUR`: late once DUR + grace has passed since the last run started (launchd's
  StartInterval has no anchor, so the fire times of `every` are no promise).
- A task never run is waiting (GREY) until its first expected run after it was first
  seen, plus grace; then it is RED, never reported.
A run in progress counts as a run from its start.
"""
from alive.base.record import record
from datetime import datetime, timedelta

from alive.config import schedule as sched

from alive.config.schedule import GRACE_SHARE, MIN_GRACE_S, default_grace  # noqa: F401  (lateness' words)

ON_TIME, LATE, WAITING, NEVER = "on_time", "late", "waiting", "never"


@record
class Expectation:
    state: str                     # ON_TIME | LATE | WAITING | NEVER
    expected_at: datetime | None   # the run that is late or awaited (UTC)
    grace_s: int
    next_at: datetime | None       # the next expected run after now (UTC)


def expect(schedule, grace_s, last_start, first_seen, now, tz=None):
    """-> Expectation. grace_s: the task's `grace` (None: the default); last_start: when
    the newest run started (a heartbeat's started_at or a running marker's), or None;
    first_seen: when the task was first known (for a task that never ran)."""
    zone = tz if tz is not None else sched.local_zone()
    if schedule.kind == "every":
        return _expect_every(schedule, grace_s, last_start, first_seen, now, zone)
    return _expect_calendar(schedule, grace_s, last_start, first_seen, now, zone)


def _expect_every(schedule, grace_s, last_start, first_seen, now, zone):
    step = timedelta(seconds=schedule.interval)
    grace = grace_s if grace_s is not None else default_grace(schedule.interval)
    if last_start is None:
        first = first_seen + step
        state = WAITING if now <= first + timedelta(seconds=grace) else NEVER
        return Expectation(state, first, grace, first if first > now else None)
    due = last_start + step
    late = now > due + timedelta(seconds=grace)
    return Expectation(LATE if late else ON_TIME, due, grace, due if due > now else None)


def _expect_calendar(schedule, grace_s, last_start, first_seen, now, zone):
    longest = timedelta(seconds=sched.longest_interval(schedule))
    upcoming = sched.next_fires(schedule, now, 1, zone)
    next_at = upcoming[0].astimezone(now.tzinfo) if upcoming else None
    if last_start is None:
        first = sched.next_fires(schedule, first_seen, 1, zone)[0].astimezone(now.tzinfo)
        grace = _grace_of(schedule, first, grace_s, longest, zone)
        state = WAITING if now <= first + timedelta(seconds=grace) else NEVER
        return Expectation(state, first, grace, next_at)
    # The fires of the last two longest gaps (and a day for DST moves): the newest whose
    # grace has run out is the run that must have started by now.
    fires = sched.fires_between(schedule, now - 2 * longest - timedelta(days=2), now, zone)
    for i in range(len(fires) - 1, -1, -1):
        gap = (fires[i] - fires[i - 1]).total_seconds() if i else longest.total_seconds()
        grace = grace_s if grace_s is not None else default_grace(gap)
        if now > fires[i] + timedelta(seconds=grace):
            late = last_start < fires[i]
            return Expectation(LATE if late else ON_TIME, fires[i], grace, next_at)
    grace = grace_s if grace_s is not None else default_grace(longest.total_seconds())
    return Expectation(ON_TIME, None, grace, next_at)


def deadline(schedule, grace_s, last_start, tz=None):
    """When a task whose newest run started at `last_start` turns late unless another run
    starts: the first run expected after it, plus that run's grace (the instant `expect`
    says LATE one second after). Exported for Prometheus, which then judges lateness as
    alive does between two exports."""
    zone = tz if tz is not None else sched.local_zone()
    if schedule.kind == "every":
        grace = grace_s if grace_s is not None else default_grace(schedule.interval)
        return last_start + timedelta(seconds=schedule.interval + grace)
    upcoming = sched.next_fires(schedule, last_start, 1, zone)
    if not upcoming:
        return None
    fire = upcoming[0].astimezone(last_start.tzinfo)
    longest = timedelta(seconds=sched.longest_interval(schedule))
    return fire + timedelta(seconds=_grace_of(schedule, fire, grace_s, longest, zone))


def _grace_of(schedule, fire, grace_s, longest, zone):
    """The grace of the run expected at `fire`: the task's, or 10% of the gap before it."""
    if grace_s is not None:
        return grace_s
    # The fire before it lies within the longest gap (+2h for a DST move) unless a gap moved
    # further: look there first, the wide window only then (a */5 cron has 576 fires in 2 days).
    before = (sched.fires_between(schedule, fire - longest - timedelta(hours=2), fire - timedelta(seconds=1), zone)
              or sched.fires_between(schedule, fire - longest - timedelta(days=2), fire - timedelta(seconds=1), zone))
    gap = (fire - before[-1]).total_seconds() if before else longest.total_seconds()
    return default_grace(gap)


def clock_text(instant, now, zone=None):
    """An expected run as a person reads it, in the schedule's zone and naming it, as the
    dashboard names its times: '12:00 CEST' today, 'Mon 06:00 CEST' within a week, else
    '2026-05-04 06:00 CEST'."""
    zone = zone if zone is not None else sched.local_zone()
    local, today = instant.astimezone(zone), now.astimezone(zone)
    if local.date() == today.date():
        shape = "%H:%M"
    elif abs((local.date() - today.date()).days) < 7:
        shape = "%a %H:%M"
    else:
        shape = "%Y-%m-%d %H:%M"
    return f"{local.strftime(shape)} {local.strftime('%Z')}".rstrip()
