"""Schedules: `every DUR`, `daily HH:MM[,..]`, `weekly DAY[,..] HH:MM[,..]`, `cron M H DOM MON DOW`,
`systemd SPEC[; SPEC..]` (an adopted timer's OnCalendar= values, judged by systemd's rules).

Pure functions, no clock: parse_schedule(text), next_fires(schedule, after, count, tz),
fires_between(schedule, start, end, tz), longest_interval(schedule). daily/weekly/cron are
wall-clock times in the local zone; `every DUR` is counted from the epoch and ignores zones
(DESIGN §9).

Daylight saving time follows cron (Vixie cron, Debian's cron, cronie: the daemon that runs
`alive schedule crontab` on Linux; tests/vixie_cron.py is its loop, minute by minute):
- a fixed-time schedule (daily, weekly, a cron spec whose minute and hour fields do not
  start with `*`) runs a wall time the clock jumps over right after the jump (02:30 in
  Berlin on the last Sunday of March fires at 03:00 CEST), and a wall time that happens
  twice once, the first time;
- a wildcard schedule (`*/15 * * * *`, `30 * * * *`, `* 2 * * *`) runs by the clock as it
  is: the skipped times are lost, a repeated time fires in both passes.
A `systemd` schedule follows systemd instead (SYSTEMD_DST): the skipped times are lost, a
repeated time fires once, the first time.
What the other schedulers do on those nights, and how their units are made to match, is in
units.py. Apart from DST, next_fires agrees with croniter (tests/fixtures/cron_reference.json)
but for its quirks no cron daemon shares: an equal range `3-3` means 3 (croniter widens it to
the whole field); a day field starting with `*` (`*/2` too) makes a day match both day fields,
others either one (_day_rule: cronie's rule; croniter ORs `*/2` and treats some full ranges
such as `0-6` as `*`); `1/2` in the day of the week runs to 7, Sunday (FreeBSD's cron;
croniter stops at 6); and in a half-hour fall-back (Lord Howe) a wildcard schedule fires
every repeated time twice (croniter drops some when the minute step is not 30).

The module is the entry the rest of alive imports; the work is in two halves:
schedule_parse.py (texts -> Schedule, the DST rules, cron lint) and schedule_fires.py (when
a Schedule fires, its longest interval, the default grace).
"""
from alive.config.schedule_fires import (  # noqa: F401  (imported from here by the rest of alive)
    GRACE_SHARE, MIN_GRACE_S, default_grace, fires_between, local_zone, longest_interval, next_fires, wall_times,
)
from alive.config.schedule_parse import (  # noqa: F401
    CRON_FIXED, CRON_WILDCARD, KINDS, SYSTEMD_DST, SYSTEMD_SHORTHANDS, DstRule, Schedule, one_number_steps,
    parse_schedule, ranged_steps,
)
