"""What Vixie cron (Debian's cron, cronie) does across a change of the UTC offset, minute by
minute: a transcription of the main loop of its cron.c, for the tests of `alive schedule next`
and of the crontab lines alive writes (no real cron daemon can be run on a fake clock).

cron.c keeps two clocks in minutes of LOCAL time: timeRunning (now) and virtualTime (the
minute whose jobs have all run). Each minute it compares them:
- 1 ahead: the normal case, run the jobs of that minute;
- 2..5 ahead: it woke up late, run every minute it missed;
- 6 minutes to 3 hours ahead (spring forward): run the wildcard jobs of this minute, then
  the fixed-time jobs of every minute that was skipped, all now;
- 0 to 3 hours behind (fall back): run only the wildcard jobs; the fixed-time jobs of the
  repeated minutes already ran, and virtualTime waits until the clock has caught up;
- more than 3 hours either way: jump, run this minute's jobs.
A job is a wildcard job when its minute or its hour field starts with `*` (MIN_STAR,
HR_STAR in entry.c). Its day rule is cron's: when the day-of-month or the day-of-week field
starts with `*` (DOM_STAR, DOW_STAR, set in cronie's src/entry.c load_entry() from the field's
first character, so `*/2` too), both must match, otherwise either one (cronie's src/cron.c
find_jobs(): `(DOM_STAR || DOW_STAR) ? (dow && dom) : (dow || dom)`).
"""
from datetime import datetime, timedelta, timezone

from alive.config.schedule import parse_schedule

UTC = timezone.utc
EPOCH = datetime(1970, 1, 1)


class Line:
    """One crontab line's schedule: the five fields (and a `sleep N;` before the command)."""

    def __init__(self, text):
        fields = text.split()
        self.schedule = parse_schedule("cron " + " ".join(fields[:5]))
        self.wild = fields[0].startswith("*") or fields[1].startswith("*")
        self.day_star = fields[2].startswith("*") or fields[4].startswith("*")
        self.sleep = int(fields[6].rstrip(";")) if len(fields) > 6 and fields[5] == "sleep" else 0

    def matches(self, wall):
        s = self.schedule
        if wall.hour * 60 + wall.minute not in s.times or wall.month not in s.months:
            return False
        dom = wall.day in s.days
        dow = (wall.weekday() + 1) % 7 in s.weekdays
        return (dow and dom) if self.day_star else (dow or dom)


def _local_minutes(instant, zone):
    return int((instant.timestamp() + instant.astimezone(zone).utcoffset().total_seconds()) // 60)


def runs(lines, zone, start, end):
    """Sorted instants (UTC) at which cron starts a job of `lines` (crontab line texts) from
    just after `start` to `end` (aware datetimes), cron having been started at `start`."""
    entries = [Line(text) for text in lines]
    started = []
    now = start.astimezone(UTC).replace(second=0, microsecond=0)

    def find_jobs(vtime, wild, fixed):
        wall = EPOCH + timedelta(minutes=vtime)
        for e in entries:
            if e.matches(wall) and ((wild and e.wild) or (fixed and not e.wild)):
                started.append(now + timedelta(seconds=e.sleep))

    virtual = _local_minutes(now, zone)
    for _ in range(int((end - start).total_seconds() // 60) + 2):  # bounded: one pass a minute
        now += timedelta(minutes=1)
        if now > end:
            break
        running = _local_minutes(now, zone)
        diff = running - virtual
        if diff == 1:
            virtual = running
            find_jobs(virtual, True, True)
        elif -180 < diff <= 0:
            find_jobs(running, True, False)
        elif 0 < diff <= 5:
            while virtual < running:
                virtual += 1
                find_jobs(virtual, True, True)
        elif 5 < diff <= 180:
            find_jobs(running, True, False)
            while virtual < running:
                virtual += 1
                find_jobs(virtual, False, True)
        else:
            virtual = running
            find_jobs(running, True, True)
    return sorted(started)
