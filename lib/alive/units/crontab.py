"""crontab: the same jobs as lines of the user's crontab, in one block between
`# BEGIN alive (<label_prefix>)` and `# END alive (<label_prefix>)`. `--install` puts the
block in (replacing an earlier one) and keeps every other line; `--uninstall` takes it out.

Each job is a `# <label>: <schedule>` line and its cron lines. A cron line runs, through
/bin/sh as cron always does, `cd ALIVE_HOME && ALIVE_HOME=... PATH=... <argv>`, output
appended to ALIVE_HOME/logs/<job>.log. The variables are set on the line itself: a
`NAME=value` line in a crontab would also apply to the user's own lines below the block.
Every word is quoted for the shell and `%` (a newline to cron) is escaped.

How a schedule is said (local time: cron reads the system's zone, not $TZ):
- cron specs pass straight through (but a day-of-week range ending on Sunday written `sun` or
  `0`, which Vixie cron refuses, is written as its days); daily/weekly become `M H * * DOW`
  lines whose minute and hour never start with `*`: cron (Vixie cron, cronie) runs a job
  whose time the clock skipped right after a DST jump, and a repeated time once, only for
  fixed-time lines; a `*` there makes a wildcard job, which runs by the clock as it is.
  That is the rule `alive schedule next` follows (schedule.py), so on DST nights the lines
  run when it says.
- `every DUR` fires at multiples of DUR from 00:00 UTC (DESIGN §9), shown in the local zone
  at the offset it has now, one line per (hours x minutes) group: every 15m is `*/15 * * * *`,
  every 90m is two lines. Where cron cannot say it exactly a `# alive: ...` comment above
  says so and the closest form follows: below a minute, one line per run in the minute,
  each after a `sleep` (every 30s: two lines); a DUR that does not divide a day or is not
  whole minutes (every 7m: `*/7`, whose steps restart at each full hour); and a DUR whose
  local hours move with daylight saving time (every 2h in Berlin), written for the offset
  the zone has now.
"""
import re
import shlex
from datetime import timedelta

from alive.units import units
from alive.base.errors import RuntimeFailure, UsageError
from alive.config.schedule import ranged_steps
from alive.cliutil import plural

NO_CRONTAB = "install cron (Debian: apt-get install cron) or use `alive schedule systemd` / `launchd`"


def begin(prefix):
    return f"# BEGIN alive ({prefix})"


def end(prefix):
    return f"# END alive ({prefix})"


# ---------------------------------------------------------------- cron fields


def _field(values, low, high, star=True):
    """cron field: `*`, `*/step`, `first-last/step`, or a comma list; never starting with
    `*` when star=False (`low-high`, `low-last/step`)."""
    values = sorted(values)
    if values == list(range(low, high + 1)):
        return "*" if star else f"{low}-{high}"
    run = units.progression(values, low, high)
    if run and run[0] == low and star:
        return f"*/{run[1]}"
    if run:
        return f"{run[0]}-{values[-1]}/{run[1]}"
    return ",".join(str(v) for v in values)


def calendar_specs(schedule):
    """cron specs of a daily/weekly/cron schedule."""
    if schedule.kind == "cron":
        # as the user wrote it, but a step from one number as its range: cronie refuses `5/20`
        fields = [ranged_steps(field, i) for i, field in enumerate(schedule.text.split()[1:])]
        if _ends_on_sunday(fields[4]):
            fields[4] = _field(schedule.weekdays, 0, 6, star=False)
        return [" ".join(fields)]
    dow = "*" if schedule.dow_any else _field(schedule.weekdays, 0, 6)
    return [f"{_field(minutes, 0, 59, star=False)} {_field(hours, 0, 23, star=False)} * * {dow}"
            for hours, minutes in units.clock_groups(schedule)]


def _ends_on_sunday(dow):
    """True when a day-of-week field has a range ending on `sun` or `0` after another day
    (`mon-sun`, `5-0`): alive reads the end as 7, Vixie cron refuses the range."""
    for item in dow.split(","):
        first, dash, last = item.partition("/")[0].partition("-")
        if dash and last.lower() in ("0", "sun") and first.lower() not in ("0", "sun"):
            return True
    return False


def every_specs(seconds, offset_s):
    """(specs, sleeps, note): cron specs of `every DUR` for a zone at UTC offset `offset_s`,
    the `sleep` seconds before each run in a minute ([0] but below a minute), and why it is
    not exact (None when it is)."""
    shown = f"every {units.exact_duration(seconds)}"
    if seconds < 60:
        if 60 % seconds:
            return ["* * * * *"], [0], (f"{shown} cannot be said in cron, whose smallest step is a minute: "
                                        f"every minute instead")
        return ["* * * * *"], list(range(0, 60, seconds)), (
            f"{shown} cannot be said exactly in cron, whose smallest step is a minute: one line per run in "
            f"the minute, each after a sleep (cron runs every line with /bin/sh)")
    points = units.every_points(seconds, offset_s)
    if points is not None and all(s == 0 for _, _, s in points):
        groups = units.product_groups((h, m) for h, m, _ in points)
        return [f"{_field(m, 0, 59)} {_field(h, 0, 23)} * * *" for h, m in groups], [0], None
    if seconds == 7 * 86400 and offset_s % 60 == 0:
        # Thursdays 00:00 UTC (1970-01-01 was one), moved by the offset into local time.
        days, rest = divmod(offset_s % (7 * 86400), 86400)
        return [f"{rest // 60 % 60} {rest // 3600} * * {(4 + days) % 7}"], [0], None
    minutes = max(1, round(seconds / 60))
    if minutes < 60:
        spec, why = f"*/{minutes} * * * *", "its steps restart at every full hour"
    elif minutes < 1440:
        spec, why = f"0 */{round(minutes / 60)} * * *", "its steps restart at every midnight"
    else:
        spec, why = f"0 0 */{round(minutes / 1440)} * *", "its steps restart on the 1st of every month"
    if seconds % 60:
        why = "cron counts whole minutes"
    return [spec], [0], f"{shown} cannot be said exactly in cron: closest is {spec} ({why})"


def zone_offsets(tz, now):
    """The zone's UTC offsets (seconds) now and over the next year, now's first."""
    offsets = [int(now.astimezone(tz).utcoffset().total_seconds())]
    for month in range(1, 13):
        offset = int((now + timedelta(days=30.5 * month)).astimezone(tz).utcoffset().total_seconds())
        if offset not in offsets:
            offsets.append(offset)
    return offsets


def schedule_specs(schedule, now, tz):
    """(specs, sleeps, notes) of any schedule."""
    if schedule.kind != "every":
        return calendar_specs(schedule), [0], []
    offsets = zone_offsets(tz, now)
    specs, sleeps, note = every_specs(schedule.interval, offsets[0])
    notes = [note] if note else []
    if any(every_specs(schedule.interval, o)[0] != specs for o in offsets[1:]):
        notes.append(f"every {units.exact_duration(schedule.interval)} counts from 00:00 UTC; cron counts local "
                     f"time, whose offset changes with daylight saving time: these lines are right while it "
                     f"is UTC{_offset(offsets[0])}")
    return specs, sleeps, notes


def _offset(seconds):
    sign = "-" if seconds < 0 else "+"
    h, m = divmod(abs(seconds) // 60, 60)
    return f"{sign}{h:02d}:{m:02d}"


# ---------------------------------------------------------------- lines


def _word(text, job):
    if "\n" in text or "\r" in text:
        raise UsageError(f"job {job.name}: {text!r} holds a line break, which a crontab line cannot carry "
                         f"(use `alive schedule launchd` or `systemd`)")
    return shlex.quote(text).replace("%", "\\%")


def command(setup, job):
    """The shell command of a job's cron lines."""
    env = " ".join(f"{k}={_word(v, job)}" for k, v in setup.env().items())
    argv = " ".join(_word(a, job) for a in job.argv)
    return f"cd {_word(setup.home, job)} && {env} {argv} >>{_word(setup.log(job), job)} 2>&1"


def job_lines(setup, job, now, tz):
    """The lines of one job: its header comment, notes, cron lines."""
    specs, sleeps, notes = schedule_specs(job.schedule, now, tz)
    cmd = command(setup, job)
    lines = [f"# {setup.label(job)}: {job.schedule.text}"] + [f"# alive: {n}" for n in notes]
    for spec in specs:
        lines += [f"{spec} {f'sleep {s}; ' if s else ''}{cmd}" for s in sleeps]
    return lines


def chunks(setup, job_list, now, tz):
    """{label: text of its lines}: the unit of comparison for `alive verify`."""
    return {setup.label(job): "\n".join(job_lines(setup, job, now, tz)) + "\n" for job in job_list}


def block(setup, job_list, now=None, tz=None):
    now, tz = units.clock(now, tz)
    body = "".join(chunks(setup, job_list, now, tz).values())
    return (f"{begin(setup.label_prefix)}\n"
            f"# Written by `alive schedule crontab` from fleet.toml: change fleet.toml and install again.\n"
            f"{body}{end(setup.label_prefix)}\n")


def notes(setup, job_list, now=None, tz=None):
    """Nothing for stderr: on DST nights cron runs these lines as `alive schedule next` says
    (next follows cron's rule), and what cron cannot say exactly is written in the block
    itself, as `# alive:` comments above the lines concerned."""
    return []


def render(setup, job_list, now=None, tz=None):
    return {f"{setup.label_prefix}.crontab": block(setup, job_list, now, tz)}


# ---------------------------------------------------------------- merging


def lines_of(text):
    """A crontab's lines: split at \\n only, as cron reads it (a line's \\r, \\f or U+2028 is
    part of it and comes back as it was)."""
    lines = text.split("\n")
    return lines[:-1] if lines[-1] == "" else lines


def split(text, prefix):
    """(lines before, block lines or None, lines after) of a crontab's text. A BEGIN
    without its END is refused: guessing where the block ends could eat the user's lines."""
    lines = lines_of(text)
    if begin(prefix) not in lines:
        return lines, None, []
    start = lines.index(begin(prefix))
    try:
        stop = lines.index(end(prefix), start + 1)
    except ValueError:
        raise UsageError(f"the crontab has {begin(prefix)!r} but no {end(prefix)!r} after it; "
                         f"fix it with `crontab -e`") from None
    return lines[:start], lines[start:stop + 1], lines[stop + 1:]


def merge(text, new_block, prefix):
    """The crontab with our block replaced by new_block (appended when there was none);
    every other line kept as it was. A second block of ours (a hand-merged crontab) goes too."""
    before, old, rest = split(text, prefix)
    if old is not None:
        for _ in range(len(rest)):  # bounded: each pass removes one more block
            more_before, more, more_after = split("\n".join(rest), prefix)
            if more is None:
                break
            rest = more_before + more_after
    lines = before + lines_of(new_block) + rest
    return "\n".join(lines) + "\n" if lines else ""


def remove(text, prefix):
    return merge(text, "", prefix)


def parse_block(text, prefix):
    """{label: text} of the jobs in our block of a crontab (None when there is no block)."""
    _, lines, _ = split(text, prefix)
    if lines is None:
        return None
    out, label = {}, None
    for line in lines[1:-1]:
        m = re.match(r"^# (\S+): ", line)
        if m and units.owned(m.group(1), prefix):
            label = m.group(1)
            out[label] = ""
        if label is not None:
            out[label] += line + "\n"
    return out


# ---------------------------------------------------------------- this system


def without_old_default(text, setup):
    """The crontab without the block an install with the old default prefix wrote for this
    ALIVE_HOME (its log paths name it): replaced by install, removed by uninstall. Another
    home's block is left alone."""
    old = units.OLD_DEFAULT_PREFIX
    if setup.label_prefix == old:
        return text
    _, lines, _ = split(text, old)
    if lines is None or not any(f"{setup.home}/logs/" in line for line in lines):
        return text
    return remove(text, old)


def current(raw=False):
    """The user's crontab ("" when there is none): text whose bytes that are not UTF-8 are
    surrogates (_write gives them back as they were); raw=True: its bytes."""
    code, out, err = units.tool(["crontab", "-l"], check=False, text=False)
    if code == 0:
        return out if raw else out.decode("utf-8", "surrogateescape")
    if "no crontab" in err.lower():
        return b"" if raw else ""
    raise RuntimeFailure(f"`crontab -l` failed (exit {code}): {units.last_line(err)}")


def _write(text):
    units.tool(["crontab", "-"], input=text.encode("utf-8", "surrogateescape"), text=False)


def install(setup, job_list, now=None, tz=None, say=print, dry_run=False):
    present = units.require_tool("crontab", NO_CRONTAB, dry_run)
    new_block = block(setup, job_list, now, tz)
    old = current() if present else ""
    new = merge(without_old_default(old, setup), new_block, setup.label_prefix)
    if new == old:
        say(f"unchanged: the crontab already holds these {plural(len(job_list), 'job')}")
        return 0
    say(f"{'would write' if dry_run else 'writing'} {plural(len(job_list), 'job')} to the crontab "
        f"(lines outside {begin(setup.label_prefix)!r} ... {end(setup.label_prefix)!r} kept)")
    if not dry_run:
        from pathlib import Path

        Path(setup.home, "logs").mkdir(parents=True, exist_ok=True)  # >> needs the folder
        _write(new)
    return 0


def uninstall(setup, say=print, dry_run=False):
    old = current() if units.require_tool("crontab", NO_CRONTAB, dry_run) else ""
    new = remove(without_old_default(old, setup), setup.label_prefix)
    if new == old:
        say(f"nothing to remove: no {begin(setup.label_prefix)!r} block in the crontab")
        return 0
    say(f"{'would remove' if dry_run else 'removing'} the {begin(setup.label_prefix)!r} block from the crontab")
    if not dry_run:
        _write(new)
    return 0


def compare(setup, job_list, now=None, tz=None):
    now, tz = units.clock(now, tz)
    expected = chunks(setup, job_list, now, tz)
    units.require_tool("crontab", NO_CRONTAB)
    text = current()
    found = parse_block(text, setup.label_prefix) or {}
    if without_old_default(text, setup) != text:                 # shown as extra until install replaces it
        found.update(parse_block(text, units.OLD_DEFAULT_PREFIX))
    return units.comparison("crontab", "the user's crontab", expected, found)
