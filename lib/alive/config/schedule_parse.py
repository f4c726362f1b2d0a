"""Schedule texts -> Schedule records (the forms and their DST rules: config/schedule.py).
parse_schedule() refuses a wrong text with a ValueError saying how to write it; one_number_steps()
and ranged_steps() are what `alive lint` and `alive schedule crontab` say of cron steps."""
from datetime import date

from alive.base.record import record
from alive.base.timeutil import parse_duration

_ALL_DAYS = frozenset(range(1, 32))
_ALL_MONTHS = frozenset(range(1, 13))
_ALL_WEEKDAYS = frozenset(range(7))  # cron numbering: 0 = Sunday

_MONTH_NAMES = {name: i for i, name in enumerate(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"], 1)}
_DAY_NAMES = {name: i for i, name in enumerate(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])}
_FULL_DAY_NAMES = {name + "day": i for name, i in [("sun", 0), ("mon", 1), ("tues", 2), ("wednes", 3),
                                                    ("thurs", 4), ("fri", 5), ("satur", 6)]}

# cron field: name, lowest, highest, names
_CRON_FIELDS = (
    ("minute", 0, 59, {}),
    ("hour", 0, 23, {}),
    ("day-of-month", 1, 31, {}),
    ("month", 1, 12, _MONTH_NAMES),
    ("day-of-week", 0, 7, _DAY_NAMES),
)

KINDS = ("every", "daily", "weekly", "cron")
_FORMS = ('use "every 15m", "daily 07:00", "daily 08:00,12:00", "weekly mon 06:00" '
          'or "cron M H DOM MON DOW"')

# systemd.time(7): the shorthands of OnCalendar=, in the normalized form systemd-analyze shows.
SYSTEMD_SHORTHANDS = {
    "minutely": "*-*-* *:*:00", "hourly": "*-*-* *:00:00", "daily": "*-*-* 00:00:00",
    "weekly": "Mon *-*-* 00:00:00", "monthly": "*-*-01 00:00:00", "yearly": "*-01-01 00:00:00",
    "annually": "*-01-01 00:00:00", "quarterly": "*-01,04,07,10-01 00:00:00",
    "semiannually": "*-01,07-01 00:00:00"}


@record(frozen=True)
class DstRule:
    """What a scheduler does with a wall time that daylight saving time skips or repeats."""

    gap: str   # "move": at the first minute after the gap | "skip"
    fold: str  # "once": the first pass only | "twice": both passes


CRON_FIXED = DstRule(gap="move", fold="once")
CRON_WILDCARD = DstRule(gap="skip", fold="twice")
# systemd's, for every OnCalendar= spec: src/shared/calendarspec.c find_next() skips a wall
# time that mktime() normalizes elsewhere (tm_out_of_bounds(): a time the clock jumps over),
# and walks the wall clock forward from the last elapse, so a repeated time fires once, the
# first time (systemd-analyze calendar agrees: tests/config/test_schedule_dst.py).
SYSTEMD_DST = DstRule(gap="skip", fold="once")


@record(frozen=True)
class Schedule:
    """A parsed schedule. `text` is what the user wrote, kept for display."""

    text: str
    kind: str  # "every" | "daily" | "weekly" | "cron" | "systemd" (a timer's OnCalendar=)
    interval: int = 0  # seconds, for "every"
    times: tuple = ()  # minutes after local midnight, sorted, for the calendar kinds
    months: frozenset = _ALL_MONTHS
    days: frozenset = _ALL_DAYS  # day of month
    weekdays: frozenset = _ALL_WEEKDAYS  # 0 = Sunday
    dom_any: bool = True  # the day-of-month field restricts nothing
    dow_any: bool = True  # the day-of-week field restricts nothing
    days_and: bool = False  # both restrict and a day must match both (cron: a day field starting with `*`)
    wildcard: bool = False  # cron's minute or hour field starts with `*` (cron's MIN_STAR, HR_STAR)

    def __str__(self):
        return self.text

    @property
    def dst_rule(self):
        """The rule of the scheduler that runs it on daylight-saving nights: systemd's for a
        `systemd` schedule, else cron's (the module docstring)."""
        if self.kind == "systemd":
            return SYSTEMD_DST
        return CRON_WILDCARD if self.wildcard else CRON_FIXED


# ---------------------------------------------------------------- parsing


def parse_schedule(text):
    """Text -> Schedule. Raises ValueError saying what is wrong and how to write it."""
    if not isinstance(text, str):
        raise ValueError(f"{text!r} is not a schedule ({_FORMS})")
    raw = text.strip()
    if not raw:
        raise ValueError(f"empty schedule ({_FORMS})")
    _refuse_other_digits(raw)
    kind, _, rest = " ".join(raw.split()).partition(" ")
    kind = kind.lower()
    if kind == "every":
        return _parse_every(raw, rest)
    if kind == "daily":
        return Schedule(text=raw, kind="daily", times=_parse_times(raw, rest, "daily 07:00"))
    if kind == "weekly":
        return _parse_weekly(raw, rest)
    if kind == "cron":
        return _parse_cron(raw, rest)
    if kind == "systemd":
        return _parse_systemd(raw, rest)
    raise ValueError(f"{raw!r} is not a schedule ({_FORMS})")


def _refuse_other_digits(raw):
    """A digit from another script (`５`, `٣`) or a number sign such as `²` is refused, though
    Python's isdigit() and int() take some of them: cron and the schedulers do not."""
    for ch in raw:
        if ch.isdigit() or ch.isdecimal() or ch.isnumeric():
            if ch.isascii():
                continue
            fix = f"write {int(ch)}" if ch.isdecimal() else "use 0-9"
            raise ValueError(f"{raw!r}: {ch!r} is not an ASCII digit ({fix})")


def _number(text):
    """True for a whole number written in ASCII digits."""
    return text.isascii() and text.isdigit()


def _parse_every(raw, rest):
    if not rest:
        raise ValueError(f"{raw!r}: every needs a duration (use e.g. every 15m)")
    try:
        seconds = parse_duration(rest)
    except ValueError as exc:
        raise ValueError(f"{raw!r}: {exc}") from None
    if seconds <= 0:
        raise ValueError(f"{raw!r}: the interval must be more than 0 (use e.g. every 15m)")
    return Schedule(text=raw, kind="every", interval=seconds)


def _parse_times(raw, rest, example):
    parts = [p.strip() for p in rest.replace(" ", "").split(",")]
    if not rest or not all(parts):
        raise ValueError(f"{raw!r}: needs one or more times HH:MM, comma-separated (use e.g. {example})")
    times = set()
    for part in parts:
        hh, sep, mm = part.partition(":")
        if not (sep and _number(hh) and _number(mm) and len(mm) == 2 and len(hh) <= 2
                and int(hh) < 24 and int(mm) < 60):
            raise ValueError(f"{raw!r}: {part!r} is not a time of day HH:MM, 00:00 to 23:59 (use e.g. {example})")
        times.add(int(hh) * 60 + int(mm))
    return tuple(sorted(times))


def _parse_weekly(raw, rest):
    example = "weekly mon 06:00 or weekly mon,thu 06:00"
    days_text, _, times_text = rest.partition(" ")
    if not days_text or not times_text:
        raise ValueError(f"{raw!r}: weekly needs a day and a time (use e.g. {example})")
    weekdays = set()
    for name in days_text.lower().split(","):
        day = _DAY_NAMES.get(name, _FULL_DAY_NAMES.get(name))
        if day is None:
            raise ValueError(f"{raw!r}: {name!r} is not a day of the week (use mon, tue, wed, thu, fri, sat or sun)")
        weekdays.add(day)
    times = _parse_times(raw, times_text, "weekly mon 06:00")
    return Schedule(text=raw, kind="weekly", times=times, weekdays=frozenset(weekdays), dow_any=False)


def _parse_cron(raw, rest):
    fields = rest.split()
    if len(fields) != 5:
        raise ValueError(f"{raw!r}: cron needs 5 fields, minute hour day-of-month month day-of-week, "
                         f"got {len(fields)} (use e.g. cron 0 7 * * *)")
    sets = [_parse_cron_field(raw, field, spec) for field, spec in zip(fields, _CRON_FIELDS)]
    minutes, hours, days, months, weekdays = sets
    weekdays = frozenset(d % 7 for d in weekdays)  # 7 is Sunday too
    sched = Schedule(
        text=raw, kind="cron",
        times=tuple(sorted(h * 60 + m for h in hours for m in minutes)),
        months=frozenset(months), days=frozenset(days), weekdays=weekdays,
        **_day_rule(fields[2], fields[4], frozenset(days), weekdays),
        wildcard=fields[0].startswith("*") or fields[1].startswith("*"),
    )
    if not _can_fire(sched):
        raise ValueError(f"{raw!r} never fires: day {_describe(days)} does not occur in month "
                         f"{_describe(months)}")
    return sched


def _day_rule(dom_field, dow_field, days, weekdays):
    """cron's day rule as Schedule fields. cronie (github.com/cronie-crond/cronie) src/entry.c,
    load_entry(), sets DOM_STAR / DOW_STAR when a day field's first character is `*` (`*/2`
    too), and src/cron.c, find_jobs(), matches a day with
        (DOM_STAR || DOW_STAR) ? (dow && dom) : (dow || dom)
    Vixie cron and FreeBSD's cron have the same lines. So `0 9 */2 * mon` runs on the Mondays
    that are odd days, `0 9 1-31/2 * mon` on odd days and on Mondays."""
    if dom_field.startswith("*") or dow_field.startswith("*"):
        dom_any, dow_any = days == _ALL_DAYS, weekdays == _ALL_WEEKDAYS
        return {"dom_any": dom_any, "dow_any": dow_any, "days_and": not (dom_any or dow_any)}
    return {"dom_any": False, "dow_any": False, "days_and": False}


def _parse_systemd(raw, rest):
    """`systemd SPEC[; SPEC...]`: the OnCalendar= values of a timer (what `alive adopt systemd`
    writes), judged by systemd's rule on DST nights. A spec is systemd.time(7)'s
    `[WEEKDAYS] [[YEAR-]MONTH-DAY] [HOUR:MINUTE[:SECOND]]` or a shorthand; each component `*`,
    a value, a list, a range `a..b` or a repetition `a/step` (to the end of the component).
    systemd needs the weekday AND the date to match. Several specs must differ in one part
    only (their union is then one schedule). What alive cannot say is refused, saying why."""
    specs = [spec.strip() for spec in rest.split(";")]
    if not all(specs):
        raise ValueError(f"{raw!r}: systemd needs an OnCalendar= value (use e.g. systemd Mon..Fri 06:30)")
    parts = [_systemd_spec(raw, spec) for spec in specs]
    merged = parts[0]
    for other in parts[1:]:
        differ = [k for k in range(4) if merged[k] != other[k]]
        if len(differ) > 1:
            raise ValueError(f"{raw!r}: its specs differ in more than one of time, month, day and weekday: "
                             f"more than one alive schedule can say")
        merged = tuple(a | b if k in differ else a for k, (a, b) in enumerate(zip(merged, other)))
    times, months, days, weekdays = merged
    dom_any, dow_any = days == _ALL_DAYS, weekdays == _ALL_WEEKDAYS
    sched = Schedule(text=raw, kind="systemd", times=tuple(sorted(times)), months=months, days=days,
                     weekdays=weekdays, dom_any=dom_any, dow_any=dow_any, days_and=not (dom_any or dow_any))
    if not _can_fire(sched):
        raise ValueError(f"{raw!r} never fires: day {_describe(days)} does not occur in month {_describe(months)}")
    return sched


def _systemd_spec(raw, spec):
    """One OnCalendar= value -> (times, months, days, weekdays) as frozensets."""
    words = SYSTEMD_SHORTHANDS.get(spec.lower(), spec).split()
    weekdays = _ALL_WEEKDAYS
    if words and words[0][:3].lower() in _DAY_NAMES:
        week = ",".join("..".join(day[:3] for day in item.split("..")) for item in words.pop(0).split(","))
        weekdays = frozenset(d % 7 for d in _systemd_component(raw, week, _CRON_FIELDS[4]))
    date, clock = "*-*-*", "00:00:00"
    for word in words:
        if ":" in word:
            clock = word
        elif "-" in word and not word[0].isalpha():
            date = word
        else:
            why = "a time zone (alive's calendar schedules are in the local zone)" \
                if word.upper() in ("UTC", "GMT") or "/" in word else "not part of a calendar spec"
            raise ValueError(f"{raw!r}: {word!r}: {why}")
    if "~" in date:
        raise ValueError(f"{raw!r}: `~` (days counted from the end of the month) has no alive form")
    ymd = date.split("-")
    if len(ymd) == 3 and ymd[0] != "*":
        raise ValueError(f"{raw!r}: a year: alive's calendar schedules repeat every year")
    hms = clock.split(":")
    if len(ymd) not in (2, 3) or len(hms) not in (2, 3):
        raise ValueError(f"{raw!r}: {spec!r} is not a calendar spec (use e.g. Mon..Fri *-*-* 06:30:00)")
    if len(hms) == 3 and not (_number(hms[2]) and int(hms[2]) == 0):
        raise ValueError(f"{raw!r}: seconds other than 0: alive counts minutes")
    minutes = _systemd_component(raw, hms[1], _CRON_FIELDS[0])
    hours = _systemd_component(raw, hms[0], _CRON_FIELDS[1])
    return (frozenset(h * 60 + m for h in hours for m in minutes),
            frozenset(_systemd_component(raw, ymd[-2], _CRON_FIELDS[3])),
            frozenset(_systemd_component(raw, ymd[-1], _CRON_FIELDS[2])), weekdays)


def _systemd_component(raw, text, spec):
    """A systemd component in cron's field syntax (`a..b` is `a-b`; `a/step` runs to the
    end, as systemd's does): its values."""
    if any(item.startswith("*/") for item in text.split(",")):
        raise ValueError(f"{raw!r}: {text!r}: systemd takes no `*/step` (write 0/step or 1/step)")
    return _parse_cron_field(raw, text.replace("..", "-"), spec)


def _parse_cron_field(raw, field, spec):
    name, low, high, names = spec
    values = set()
    for item in field.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not _number(step_text) or int(step_text) == 0:
                raise ValueError(f"{raw!r}: {name} field {field!r}: step {step_text!r} must be a whole number "
                                 f"above 0 (use e.g. */15)")
            step = int(step_text)
        if base == "*":
            first, last = low, high
        elif "-" in base:
            a, _, b = base.partition("-")
            first, last = _cron_value(raw, a, spec, field), _cron_value(raw, b, spec, field)
            if name == "day-of-week" and last == 0 and first > 0:
                last = 7  # `mon-sun`, `5-0`: Sunday ends the range as 7, as cronie reads it
            if first > last:
                raise ValueError(f"{raw!r}: {name} field {field!r}: range {base} runs backwards "
                                 f"({_backwards_fix(name, a, b, low, high)})")
        else:
            first = _cron_value(raw, base, spec, field)
            # "5/15" runs from 5 to the end of the field in steps of 15 as FreeBSD's and macOS's
            # cron read it (usr.sbin/cron/lib/entry.c get_range(): `if (ch == '/') num2 = high;`),
            # the crons that take it; the day of the week ends at 7, Sunday: `1/2` is
            # mon,wed,fri,sun. cronie and Vixie cron refuse it: one_number_steps says so.
            last = high if slash else first
        values.update(range(first, last + 1, step))
    return values


def one_number_steps(schedule):
    """For `alive lint`: what each step from a single number (`1/2`, `5/15`) of a cron spec
    means, since crons differ: FreeBSD's and macOS's run it to the end of the field, cronie's
    src/entry.c get_range() refuses it (state R_NUM1 takes only `-`, `~` or a separator),
    as Vixie cron and Debian's do, and croniter ends the day of the week at 6."""
    if schedule.kind != "cron":
        return []
    out = []
    for index, (field, spec) in enumerate(zip(schedule.text.split()[1:], _CRON_FIELDS)):
        name = spec[0]
        for item in field.split(","):
            base, slash, _ = item.partition("/")
            if not slash or base == "*" or "-" in base:
                continue
            values = sorted(_parse_cron_field(schedule.text, item, spec))
            numbers = ",".join(str(v) for v in values)
            if name == "day-of-week":
                days = ",".join(list(_DAY_NAMES)[v % 7] for v in values)
                meaning, fix = f"{days} ({numbers}{': 7 is Sunday' if 7 in values else ''})", days
            else:
                meaning, fix = numbers, ranged_steps(item, index)
            out.append(f"{name} {item} is {meaning} as FreeBSD's and macOS's cron read a step from one number "
                       f"(to the end of the field); cronie, Debian's and Vixie cron refuse the line"
                       f"{', croniter stops at saturday' if name == 'day-of-week' else ''}: write {fix}, which every "
                       f"cron reads alike (`alive schedule crontab` writes the range)")
    return out


def ranged_steps(field, index):
    """Cron field number `index` (0 = minute) with each step from one number (`5/20`) written
    as the range it means (`5-59/20`), which every cron reads alike (one_number_steps)."""
    high = _CRON_FIELDS[index][2]
    return ",".join(f"{base}-{high}/{step}" if slash and base != "*" and "-" not in base else item
                    for item in field.split(",") for base, slash, step in [item.partition("/")])


def _backwards_fix(name, a, b, low, high):
    if name == "day-of-week" and a == "7":
        return f"7 is Sunday: write 0-{b}"
    top = 6 if name == "day-of-week" else high
    return f"write it as two ranges: {a}-{top},{low}-{b}"


def _cron_value(raw, text, spec, field):
    name, low, high, names = spec
    key = text.lower()
    if key in names:
        return names[key]
    if not _number(text) or not low <= int(text) <= high:
        allowed = f"{low}-{high}" + (f" or {next(iter(names))}..{list(names)[-1]}" if names else "")
        raise ValueError(f"{raw!r}: {name} field {field!r}: {text!r} is not a {name} ({allowed})")
    return int(text)


def _describe(values):
    return ",".join(str(v) for v in sorted(values))


def _days_in_month(year, month):
    # (calendar.monthrange, without importing calendar and locale into every check)
    following = date(year + 1, 1, 1) if month == 12 else date(year, month + 1, 1)
    return (following - date(year, month, 1)).days


def _can_fire(s):
    # A day-of-week side alone (or either side) matches some day of every month; a
    # day-of-month side alone, or both sides together, needs days its months have (each
    # such date falls on every weekday within the 400-year calendar).
    if not s.dow_any and not s.days_and:
        return True
    return any(d <= _days_in_month(2000, m) for m in s.months for d in s.days)  # 2000: Feb has 29
