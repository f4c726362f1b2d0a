"""`alive adopt systemd`: the user's timers (~/.config/systemd/user/*.timer, or
$XDG_CONFIG_HOME/systemd/user) and the services they start (Unit=, else the same name).
Units alive wrote itself (`alive schedule systemd`) are left alone. The name is the timer's.

Schedules: OnCalendar= lines are kept as they are, `systemd SPEC[; SPEC...]` (schedule.py
reads systemd's calendar grammar), so the timer is judged by systemd's rule on DST nights,
not cron's; OnUnitActiveSec= (or OnUnitInactiveSec=) becomes `every DUR`. What alive cannot
say is named, never guessed: a year, seconds other than 0, a time zone (alive's calendar is
local time), `~` (last days of a month).

The service's one ExecStart= becomes
    ExecStart=<its prefixes><python> <bin/alive> run NAME --home ALIVE_HOME -- <the old command line>
so systemd still parses the old command line itself (its quoting, $VARIABLES and
%specifiers mean what they meant). A service with several ExecStart= lines, or the `@`
prefix (an argv[0] of its own), is left as it is. Then `systemctl --user daemon-reload`.
"""
import os
import re
from pathlib import Path

from alive.units import systemd, units
# read_one, write and remove are this kind's file interface (adopt_apply.py calls them on the module)
from alive.units.adopt import Job, alive_wrote, read_one, remove, slug, write  # noqa: F401
from alive.config.schedule import parse_schedule

SPANS = {"us": 1e-6, "usec": 1e-6, "ms": 1e-3, "msec": 1e-3, "s": 1, "sec": 1, "second": 1, "seconds": 1,
         "m": 60, "min": 60, "minute": 60, "minutes": 60, "h": 3600, "hr": 3600, "hour": 3600, "hours": 3600,
         "d": 86400, "day": 86400, "days": 86400, "w": 604800, "week": 604800, "weeks": 604800}
EXEC_PREFIXES = "@-:+!"


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


# ---------------------------------------------------------------- schedules


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
        text = "systemd " + "; ".join(calendar)
        try:
            parse_schedule(text)
        except ValueError as exc:
            return None, f"OnCalendar: {str(exc).removeprefix(repr(text) + ': ')}"
        return text, None
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

