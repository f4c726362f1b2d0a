"""`alive adopt systemd`: the user's timers (~/.config/systemd/user/*.timer, or
$XDG_CONFIG_HOME/systemd/user) and the services they start (Unit=, else the same name).
Units alive wrote itself (`alive schedule systemd`) are left alone. The name is the timer's.

Schedules: OnCalendar= lines (each in systemd's calendar grammar: an optional weekday list,
a date `[YEAR-]MONTH-DAY`, a time `HOUR:MINUTE[:SECOND]`, each component `*`, a value, a
list, a range `a..b` or a repetition `a/step`; and the shorthands daily, weekly, ...) become
the cron, daily or weekly schedule with the same fire times; OnUnitActiveSec= (or
OnUnitInactiveSec=) becomes `every DUR`. What alive cannot say is named, never guessed: a
year, seconds other than 0, a time zone (alive's calendar is local time), `~` (last days of
a month), a weekday and a day of the month together (systemd needs both, cron either).

The service's one ExecStart= becomes
    ExecStart=<its prefixes><python> <bin/alive> run NAME --home ALIVE_HOME -- <the old command line>
so systemd still parses the old command line itself (its quoting, $VARIABLES and
%specifiers mean what they meant). A service with several ExecStart= lines, or the `@`
prefix (an argv[0] of its own), is left as it is. Then `systemctl --user daemon-reload`.
"""
import os
import re
from pathlib import Path

from . import systemd, units
# read_one, write and remove are this kind's file interface (adopt.py calls them on the module)
from .adopt import Job, alive_wrote, read_one, remove, schedule_of, slug, write  # noqa: F401

SHORTHANDS = {"minutely": "*-*-* *:*:00", "hourly": "*-*-* *:00:00", "daily": "*-*-* 00:00:00",
              "weekly": "Mon *-*-* 00:00:00", "monthly": "*-*-01 00:00:00", "yearly": "*-01-01 00:00:00",
              "annually": "*-01-01 00:00:00", "quarterly": "*-01,04,07,10-01 00:00:00",
              "semiannually": "*-01,07-01 00:00:00"}
WEEKDAYS = {"sun": 0, "mon": 1, "tue": 2, "wed": 3, "thu": 4, "fri": 5, "sat": 6}
SPANS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
         "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
         "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}
EXEC_PREFIXES = "@-:+!"


class Unsaid(ValueError):
    """A calendar spec alive cannot say; the message says why."""


def folder():
    return systemd.unit_dir()


def read(ctx):
    place = folder()
    names = sorted(os.listdir(place)) if place.is_dir() else []
    out = {}
    for name in names:
        if name.endswith((".timer", ".service")) and not alive_wrote(name.rsplit(".", 1)[0], ctx):
            out[str(place / name)] = (place / name).read_bytes()
    return out


def reload(keys, ctx, say):
    import shutil

    if not keys:
        return
    if shutil.which("systemctl") and systemd.user_manager_problem() is None:
        units.tool(["systemctl", "--user", "daemon-reload"])
        say("ran: systemctl --user daemon-reload")
    else:
        say("systemctl --user cannot reach a user manager here: run `systemctl --user daemon-reload` where it can")


def shown(key, data):
    return data.decode("utf-8", "replace")


# ---------------------------------------------------------------- unit files


def settings(text):
    """[(section, key, value, line index)] of a unit file (comments, blanks and continued
    lines understood as systemd does: a line ending in \\ goes on)."""
    out, section, lines = [], None, text.splitlines()
    i = 0
    while i < len(lines):
        start, line = i, lines[i]
        while line.endswith("\\") and i + 1 < len(lines):
            i += 1
            line = line[:-1] + " " + lines[i]
        stripped = line.strip()
        i += 1
        if not stripped or stripped[0] in "#;":
            continue
        if stripped.startswith("[") and stripped.endswith("]"):
            section = stripped[1:-1]
            continue
        key, sep, value = stripped.partition("=")
        if sep:
            out.append((section, key.strip(), value.strip(), start))
    return out


def values(found, section, key):
    """The values of a key, as systemd reads a list: an empty assignment resets it."""
    out = []
    for sec, k, v, _ in found:
        if sec == section and k == key:
            out = [] if not v else out + [v]
    return out


# ---------------------------------------------------------------- calendar specs


def _numbers(text, low, high, names=None):
    """One component of a calendar spec -> frozenset, or None for `*`."""
    if text == "*":
        return None
    if "~" in text:
        raise Unsaid("`~` (days counted from the end of the month) has no cron form")
    out = set()
    for item in text.split(","):
        base, slash, step = item.partition("/")
        first, dots, last = base.partition("..")

        def value(word):
            word = word.lower()
            if names and word[:3] in names:
                return names[word[:3]]
            if not word.isascii() or not word.isdigit():
                raise Unsaid(f"{text!r} is not a value alive reads")
            return int(word)

        lo = low if first == "*" else value(first)
        hi = value(last) if dots else (high if slash else lo)
        out |= set(range(lo, hi + 1, int(step) if slash else 1))
    if not out or min(out) < low or max(out) > high:
        raise Unsaid(f"{text!r} is out of range ({low} to {high})")
    return frozenset(out)


def calendar_entry(spec):
    """One OnCalendar= value -> a calendar entry (adopt.FIELDS order), or Unsaid."""
    text = SHORTHANDS.get(spec.strip().lower(), spec.strip())
    words = text.split()
    weekdays = None
    if words and words[0][:3].lower() in WEEKDAYS:
        weekdays = _numbers(words.pop(0).lower(), 0, 6, WEEKDAYS)
    date, clock = "*-*-*", "00:00:00"
    for word in list(words):
        if re.fullmatch(r"[0-9*.,/~]+-[0-9*.,/~-]+", word):
            date = word
        elif ":" in word:
            clock = word
        else:
            raise Unsaid(f"{word!r}: a time zone (alive's calendar schedules are in the local zone)"
                         if word.upper() == "UTC" or "/" in word else f"{word!r} is not part of a calendar spec")
    parts = date.split("-")
    if len(parts) == 3:
        if parts[0] != "*":
            raise Unsaid("a year: cron has none")
        parts = parts[1:]
    if len(parts) != 2:
        raise Unsaid(f"{date!r} is not a date alive reads")
    hms = clock.split(":")
    if len(hms) == 2:
        hms.append("00")
    if len(hms) != 3 or _numbers(hms[2], 0, 59) != frozenset([0]):
        raise Unsaid("seconds other than 0: cron counts minutes")
    months, days = _numbers(parts[0], 1, 12), _numbers(parts[1], 1, 31)
    if weekdays is not None and days is not None:
        raise Unsaid("a weekday and a day of the month together: systemd needs both, cron either")
    return (_numbers(hms[1], 0, 59), _numbers(hms[0], 0, 23), days, months,
            None if weekdays == frozenset(range(7)) else weekdays)


def span_seconds(text):
    """A systemd time span ('15min', '1h 30min', '90') -> seconds, or None."""
    total = 0.0
    pieces = re.findall(r"(\d+(?:\.\d+)?)\s*([a-zA-Z]*)", text)
    if not pieces or re.sub(r"[\d.\sa-zA-Z]", "", text):
        return None
    for number, unit in pieces:
        if unit and unit not in SPANS:
            return None
        total += float(number) * SPANS.get(unit, 1)
    return int(total) if total >= 1 and total == int(total) else None


def schedule(found):
    """(alive schedule, note) of a timer's settings."""
    calendar = values(found, "Timer", "OnCalendar")
    if calendar:
        try:
            entries = [calendar_entry(spec) for spec in calendar]
        except Unsaid as exc:
            return None, f"OnCalendar: {exc}"
        return schedule_of(entries)
    for key in ("OnUnitActiveSec", "OnUnitInactiveSec"):
        spans = values(found, "Timer", key)
        if spans:
            seconds = span_seconds(spans[-1])
            if seconds:
                return f"every {units.exact_duration(seconds)}", None
            return None, f"{key}={spans[-1]} is not a time span alive reads"
    return None, "it fires only at boot or start-up (OnBootSec=, OnStartupSec=): no time to expect it at"


# ---------------------------------------------------------------- jobs


def jobs(files, ctx):
    out = []
    for key, data in sorted(files.items()):
        if not key.endswith(".timer"):
            continue
        found = settings(data.decode("utf-8", "replace"))
        unit = (values(found, "Timer", "Unit") or [Path(key).stem + ".service"])[-1]
        service = str(Path(key).with_name(unit))
        if service not in files:
            continue
        sched, note = schedule(found)
        execs = values(settings(files[service].decode("utf-8", "replace")), "Service", "ExecStart")
        job = Job(slug(Path(key).stem), f"{Path(key).name} ({unit})", " ".join(execs), sched,
                  [note] if note else [], key=service)
        words = [w.strip('"') for w in execs[0].lstrip(EXEC_PREFIXES).split()] if len(execs) == 1 else []
        adopted = ctx.wrapped(words)
        if adopted:
            job.name, job.wrap, job.adopted = adopted, False, True
        elif len(execs) != 1 or "@" in execs[0][:len(execs[0]) - len(execs[0].lstrip(EXEC_PREFIXES))]:
            job.wrap = False
            job.notes.append("its service has several ExecStart= lines (or an @ argv[0]): left as it is, "
                             "not registered")
        elif not any(values(found, "Timer", k) for k in ("OnCalendar", "OnUnitActiveSec", "OnUnitInactiveSec")):
            job.wrap = False                   # as @reboot: registered, it would be RED "never reported"
            job.notes.append("left as it is, not registered (alive has no schedule for \"after each boot\")")
        out.append(job)
    return out


def rewrite(files, chosen, ctx):
    out = {}
    for job in chosen:
        text = files[job.key].decode("utf-8")
        lines = text.splitlines(True)
        [(_, _, value, index)] = [s for s in settings(text) if s[0] == "Service" and s[1] == "ExecStart" and s[2]]
        end = index
        while lines[end].rstrip("\r\n").endswith("\\") and end + 1 < len(lines):
            end += 1
        command = value.lstrip(EXEC_PREFIXES)
        prefixes = value[:len(value) - len(command)]
        newline = "\n" if lines[end].endswith("\n") else ""
        lines[index:end + 1] = [f"ExecStart={prefixes}{systemd.exec_line(ctx.alive_run(job.name))} {command}"
                                f"{newline}"]
        out[job.key] = "".join(lines).encode("utf-8")
    return out

