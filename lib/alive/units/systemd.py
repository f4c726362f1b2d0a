"""systemd: a `.service` (Type=oneshot) and a `.timer` per job, user units named
`<label_prefix>.<job>` in ~/.config/systemd/user (or $XDG_CONFIG_HOME/systemd/user).

How a schedule is said (OnCalendar, checked against `systemd-analyze calendar` in the tests):
- daily / weekly / cron -> OnCalendar in local time, one line per (hours x minutes) group,
  e.g. `*-*-* 07:00:00`, `Mon,Thu *-*-* 06:00:00`, `*-*-* *:00/15:00`. When cron's
  day-of-month and day-of-week are both restricted (either one fires) each gets its own
  line, since systemd requires both when one line has both.
- `every DUR` -> OnCalendar in UTC when DUR divides a day (every 15m: `*-*-* *:00/15:00 UTC`,
  every 30s: `*-*-* *:*:00/30 UTC`, every 90m: two lines), so it fires at the same instants
  as `alive schedule next` (multiples of DUR from the epoch, DESIGN §9); every 7d is
  Thursdays 00:00 UTC (1970-01-01 was a Thursday). Any other DUR -> OnBootSec= +
  OnUnitActiveSec=DUR, with no anchor, like launchd's StartInterval.
- Persistent=true on calendar timers: a run missed while the machine was off or asleep
  happens at the next boot. AccuracySec=1s below a minute (the default 1min would blur it).
- Daylight saving: systemd skips a wall time the clock jumps over and fires a repeated one
  once, the first time, wildcard or not (systemd issues #5595, #8647), where `alive schedule
  next` follows cron (schedule.py). So a timer whose schedule has fires on those nights that
  systemd would miss gets more OnCalendar lines, in UTC, one rule per kind of night: for
  `30 2 * * *` in Berlin `Sun *-03-25/1 01:00:00 UTC` (03:00 CEST on the last Sunday of
  March), after a `# alive:` comment saying why. Where the zone's nights follow no weekday
  rule (Morocco's follow Ramadan) the comment says what systemd will not do instead, and
  `alive schedule systemd` prints it (notes()).

ExecStart= and Environment= are quoted for systemd's own parser: each word in double
quotes, `\\` and `"` escaped, `%` doubled (specifiers) and, in ExecStart, `$` doubled
(variable expansion).
"""
import os
from pathlib import Path

from alive.units import units
from alive.base.errors import UsageError
from alive.config.schedule import SYSTEMD_DST
from alive.cliutil import plural

WEEKDAYS = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")  # cron numbering: 0 = Sunday
UNIT_NAME_MAX = 255
NO_SYSTEMCTL = "systemd user units need systemctl; use `alive schedule crontab` (or launchd on macOS)"


# ---------------------------------------------------------------- quoting


def _escape(text, dollar):
    out = []
    for ch in text:
        if ch in '\\"':
            out.append("\\" + ch)
        elif ch == "%":
            out.append("%%")
        elif ch == "$" and dollar:
            out.append("$$")
        elif ch == "\n":
            out.append("\\n")
        elif ch == "\t":
            out.append("\\t")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\x{ord(ch):02x}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def exec_line(argv):
    """ExecStart= value: every argument one double-quoted word, nothing expanded."""
    return " ".join(_escape(arg, dollar=True) for arg in argv)


def environment_line(name, value):
    """Environment= value: one quoted assignment ($ is not special there; % is)."""
    return _escape(f"{name}={value}", dollar=False)


def _plain(text):
    """A value systemd takes whole (a path, a description): only specifiers to escape."""
    return text.replace("%", "%%").replace("\n", " ")


# ---------------------------------------------------------------- calendar


def _field(values, high, low=0, step=True):
    """systemd calendar component: `*`, `first/step` (unless step=False), or a comma list
    (two digits)."""
    if values is None or set(values) == set(range(low, high + 1)):
        return "*"
    run = units.progression(values, low, high) if step else None
    if run:
        return f"{run[0]:02d}/{run[1]}"
    return ",".join(f"{v:02d}" for v in sorted(values))


def calendar_specs(schedule):
    """OnCalendar= values of a daily/weekly/cron schedule, in local time."""
    months, days, weekdays = units.day_filter(schedule)
    month = _field(months, 12, low=1)
    if days is None and weekdays is None:
        variants = [("", "*")]
    elif schedule.days_and:  # a day must match both (cron's star rule): one spec says it, systemd ANDs them
        variants = [(",".join(WEEKDAYS[w] for w in weekdays) + " ", _field(days, 31, low=1))]
    else:
        variants = ([("", _field(days, 31, low=1))] if days else []) + \
                   ([(",".join(WEEKDAYS[w] for w in weekdays) + " ", "*")] if weekdays else [])
    # Hours as a list: systemd 252 finds no next elapse for `00/2` ("Infinite loop in calendar
    # calculation") on a night the clock jumps from 00:00 to 01:00 (Havana, Santiago).
    return [f"{dow}*-{month}-{dom} {_field(hours, 23, step=False)}:{_field(minutes, 59)}:00"
            for hours, minutes in units.clock_groups(schedule) for dow, dom in variants]


def every_specs(seconds):
    """OnCalendar= values (UTC) of `every DUR`, or None when DUR cannot be said so."""
    points = units.every_points(seconds)
    if points is not None:
        return [f"*-*-* {_field(h, 23)}:{_field(m, 59)}:{_field(s, 59)} UTC"
                for h, m, s in units.product_groups(points)]
    if seconds == 7 * 86400:
        return ["Thu *-*-* 00:00:00 UTC"]
    return None


DST_WHY = ("daylight saving time: systemd skips a time the clock jumps over and fires a repeated time once; "
           "these lines in UTC fire on those nights where `alive schedule next` says")


def dst_lines(schedule, zone, now):
    """(OnCalendar values in UTC that make a calendar timer fire on the zone's DST nights where
    `alive schedule next` says, note or None): the note says why there are none when some
    are needed but no weekday rule says them."""
    groups, missed = units.dst_extra(schedule, zone, now, SYSTEMD_DST)
    if groups is None:
        first = missed[0].astimezone(zone)
        return [], (f"systemd skips a time the clock jumps over and fires a repeated time once, and the "
                    f"daylight-saving nights of {zone} follow no weekday rule an OnCalendar line can say: "
                    f"this timer will not fire as `alive schedule next` says on those nights (first: "
                    f"{first.isoformat(timespec='minutes')})")
    return [f"{','.join(WEEKDAYS[w] for w in sorted(wd))} *-{_field(mo, 12, low=1)}-{_field(d, 31, low=1)} "
            f"{_field(h, 23)}:{_field(m, 59)}:00 UTC" for wd, mo, d, h, m in groups], None


def timer_lines(schedule, zone=None, now=None):
    """The [Timer] settings of a schedule; calendar ones with their DST lines for `zone`
    (default: the local zone) written at `now`."""
    extra = []
    if schedule.kind == "every":
        specs = every_specs(schedule.interval)
        if specs is None:
            span = units.exact_duration(schedule.interval)
            return [f"OnBootSec={span}", f"OnUnitActiveSec={span}"]
    else:
        specs = calendar_specs(schedule)
        now, zone = units.clock(now, zone)
        more, note = dst_lines(schedule, zone, now)
        if note or more:
            extra = [f"# alive: {note or DST_WHY}"] + [f"OnCalendar={s}" for s in more]
    lines = [f"OnCalendar={s}" for s in specs] + extra + ["Persistent=true"]
    if schedule.kind == "every" and schedule.interval < 60:
        lines.append("AccuracySec=1s")
    return lines


# ---------------------------------------------------------------- rendering


def unit_name(setup, job, suffix):
    name = f"{setup.label(job)}.{suffix}"
    if len(name) > UNIT_NAME_MAX:
        raise UsageError(f"systemd unit name {name!r} is longer than {UNIT_NAME_MAX} characters "
                         f"(shorten settings.label_prefix or the name)")
    return name


def service_text(setup, job):
    env = "".join(f"Environment={environment_line(k, v)}\n" for k, v in setup.env().items())
    log = _plain(setup.log(job))
    return (f"# Written by `alive schedule systemd` from fleet.toml: change fleet.toml, not this file.\n"
            f"[Unit]\nDescription=alive {_plain(job.name)}: {_plain(job.description)}\n\n"
            f"[Service]\nType=oneshot\n"
            f"WorkingDirectory={_plain(setup.home)}\n"
            f"ExecStart={exec_line(job.argv)}\n{env}"
            f"StandardOutput=append:{log}\nStandardError=append:{log}\n")


def timer_text(setup, job, now=None, tz=None):
    lines = "".join(f"{line}\n" for line in timer_lines(job.schedule, tz, now))
    return (f"# Written by `alive schedule systemd` from fleet.toml: change fleet.toml, not this file.\n"
            f"[Unit]\nDescription=alive {_plain(job.name)} timer: {_plain(job.schedule.text)}\n\n"
            f"[Timer]\n{lines}\n[Install]\nWantedBy=timers.target\n")


def render(setup, job_list, now=None, tz=None):
    """{file name: unit text} for every job: a .service and a .timer each."""
    now, tz = units.clock(now, tz)
    out = {}
    for job in job_list:
        out[unit_name(setup, job, "service")] = service_text(setup, job)
        out[unit_name(setup, job, "timer")] = timer_text(setup, job, now, tz)
    return out


def notes(setup, job_list, now=None, tz=None):
    """What the timers cannot do as `alive schedule next` says, one line per job."""
    now, tz = units.clock(now, tz)
    out = []
    for job in job_list:
        if job.schedule.kind != "every":
            note = dst_lines(job.schedule, tz, now)[1]
            if note:
                out.append(f"{job.name} ({job.schedule.text}): {note}")
    return out


# ---------------------------------------------------------------- this system


def unit_dir():
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "systemd" / "user"


def user_manager_problem():
    """None when `systemctl --user` reaches a user manager, else why not."""
    code, _, err = units.tool(["systemctl", "--user", "show-environment"], check=False)
    return None if code == 0 else units.last_line(err)


def _require_user_manager(dry_run=False):
    if not units.require_tool("systemctl", NO_SYSTEMCTL, dry_run):
        return
    problem = user_manager_problem()
    if problem and dry_run:                     # a dry run needs none of the scheduler's tools: say it, go on
        units.note(f"systemctl --user cannot reach your user service manager ({problem}): "
                   f"without --dry-run this refuses")
    elif problem:
        raise UsageError(f"systemctl --user cannot reach your user service manager ({problem}); on a server "
                         f"run `loginctl enable-linger $USER` and log in again, or use `alive schedule crontab`")


def owned_files(setup, folder=None):
    folder = unit_dir() if folder is None else folder
    suffixes = (".service", ".timer")
    return units.owned_names(folder, setup.label_prefix, suffixes) + units.old_default_names(folder, setup, suffixes)


def _systemctl(*args, say, dry_run):
    say(f"{'would run' if dry_run else 'running'}: systemctl --user {' '.join(args)}")
    if not dry_run:
        units.tool(["systemctl", "--user", *args])


def install(setup, job_list, now=None, tz=None, say=print, dry_run=False):
    """Write the units, reload, enable and (re)start every timer; stop and remove ours
    that the fleet no longer has."""
    _require_user_manager(dry_run)
    files = render(setup, job_list, now, tz)
    folder = unit_dir()
    stale = [n for n in owned_files(setup, folder) if n not in files]
    _stop_and_remove(folder, stale, " (no longer in fleet.toml)", say, dry_run)
    say(f"{'would write' if dry_run else 'writing'} {plural(len(files), 'unit')} to {folder}")
    if not dry_run:
        units.write_files(folder, {n: t.encode() for n, t in files.items()})
        Path(setup.home, "logs").mkdir(parents=True, exist_ok=True)  # append: creates no folders
    timers = [n for n in files if n.endswith(".timer")]
    _systemctl("daemon-reload", say=say, dry_run=dry_run)
    _systemctl("enable", *timers, say=say, dry_run=dry_run)
    # restart, not start: an active timer picks up a changed OnCalendar only when restarted.
    _systemctl("restart", *timers, say=say, dry_run=dry_run)
    return 0


def uninstall(setup, say=print, dry_run=False):
    _require_user_manager(dry_run)
    folder = unit_dir()
    names = owned_files(setup, folder)
    if not names:
        say(f"nothing to remove: no {setup.label_prefix}.* units in {folder}")
        return 0
    _stop_and_remove(folder, names, "", say, dry_run)
    _systemctl("daemon-reload", say=say, dry_run=dry_run)
    return 0


def _stop_and_remove(folder, names, why, say, dry_run):
    """Disable and stop the timers among `names`, then remove every one of the files."""
    timers = [n for n in names if n.endswith(".timer")]
    if timers:
        _systemctl("disable", "--now", *timers, say=say, dry_run=dry_run)
    for name in names:
        say(f"{'would remove' if dry_run else 'removing'} {folder / name}{why}")
        if not dry_run:
            (folder / name).unlink(missing_ok=True)


def compare(setup, job_list, now=None, tz=None):
    import shutil

    folder = unit_dir()
    expected = {n: t.encode() for n, t in render(setup, job_list, now, tz).items()}
    found = units.read_files(folder, owned_files(setup, folder))
    inactive = []
    timers = [n for n in expected if n.endswith(".timer") and n in found]
    if timers and shutil.which("systemctl") and user_manager_problem() is None:
        _, out, _ = units.tool(["systemctl", "--user", "is-active", *timers], check=False)
        states = out.split()
        inactive = [t for t, state in zip(timers, states) if state != "active"]
    return units.comparison("systemd", str(folder), expected, found, inactive, "not active")
