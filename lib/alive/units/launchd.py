"""launchd: one plist per job, `<label_prefix>.<job>.plist` in ~/Library/LaunchAgents,
loaded into the `gui/<uid>` domain.

How a schedule is said:
- `every DUR` -> StartInterval (seconds) and RunAtLoad, since launchd counts the interval
  from when the job was loaded (no anchor: DESIGN §9 accepts that) and would otherwise
  wait a whole interval after a login or an install.
- daily / weekly / cron -> StartCalendarInterval in local time: one dict, or an array of
  dicts, one per (hour, minute) x day x month, a key left out where any value goes. When
  cron's day-of-month and day-of-week are both restricted (either one fires), they become
  separate dicts, never one dict holding both, whose meaning launchd does not document.
- A cron spec that would need more than MAX_CALENDAR_DICTS dicts (`* 9-17 1-15 * *`), or
  `* * * * *`, falls back to StartInterval of the shortest gap between its fire times in a
  day: it then fires at least as often as the spec, never less. Plists hold no comments;
  this rule is the documentation.

Daylight saving: launchd does not document what StartCalendarInterval does with a wall time
the clock skips or repeats (one report has jobs of the repeated hour run twice; the
open-source launchd of old computed the next fire with mktime(), whose answer for a skipped
time is the C library's). No plist key says cron's rule that `alive schedule next` follows,
so notes() names the jobs with times in those hours and `alive schedule launchd` prints them.

Each plist passes a plistlib round trip and check_plist, alive's own table of the keys it
writes and their types, before it is written anywhere.
"""
import os
import plistlib
import time
from pathlib import Path

from alive.units import units
from alive.base.errors import RuntimeFailure, UsageError

MAX_CALENDAR_DICTS = 500
GONE_WAIT_S = 10.0
BOOTSTRAP_TRIES = 3  # launchd answers 5 (I/O error) while a booted-out label still drains
PROCESS_TYPES = ("Background", "Standard", "Adaptive", "Interactive")
CALENDAR_KEYS = {"Minute": (0, 59), "Hour": (0, 23), "Day": (1, 31), "Weekday": (0, 7), "Month": (1, 12)}
PATH_KEYS = ("WorkingDirectory", "StandardOutPath", "StandardErrorPath")
NO_LAUNCHCTL = "launchd is macOS's service manager; elsewhere use `alive schedule systemd` or `alive schedule crontab`"


# ---------------------------------------------------------------- rendering


def calendar_dicts(schedule):
    """StartCalendarInterval dicts of a daily/weekly/cron schedule, or None when there
    would be more than MAX_CALENDAR_DICTS."""
    months, days, weekdays = units.day_filter(schedule)
    if days is None and weekdays is None:
        day_parts = [{}]
    elif schedule.days_and:  # launchd reads Day and Weekday as either one: the weekdays, and notes() says so
        day_parts = [{"Weekday": w} for w in weekdays]
    else:
        day_parts = [{"Day": d} for d in days or []] + [{"Weekday": w} for w in weekdays or []]
    month_parts = [{}] if months is None else [{"Month": m} for m in months]
    clock_parts = []
    for hours, minutes in units.clock_groups(schedule):
        for h in [None] if hours == units.ALL_HOURS else sorted(hours):
            for m in [None] if minutes == units.ALL_MINUTES else sorted(minutes):
                clock_parts.append({k: v for k, v in (("Hour", h), ("Minute", m)) if v is not None})
    if len(clock_parts) * len(day_parts) * len(month_parts) > MAX_CALENDAR_DICTS:
        return None
    return [{**c, **d, **m} for m in month_parts for d in day_parts for c in clock_parts]


def shortest_gap(schedule):
    """Seconds between the closest two fire times of a day (across midnight too)."""
    times = list(schedule.times) + [schedule.times[0] + 1440]
    return 60 * min((b - a for a, b in zip(times, times[1:])), default=1440)


def plist_for(job, setup):
    """The plist of one job, as a dict."""
    log = setup.log(job)
    plist = {
        "Label": setup.label(job),
        "ProgramArguments": list(job.argv),
        "EnvironmentVariables": setup.env(),
        # Relative programs and paths in fleet.toml are relative to ALIVE_HOME.
        "WorkingDirectory": setup.home,
        "StandardOutPath": log,
        "StandardErrorPath": log,
        "ProcessType": "Background",
    }
    if job.schedule.kind == "every":
        plist["StartInterval"] = job.schedule.interval
        plist["RunAtLoad"] = True
        return plist
    dicts = calendar_dicts(job.schedule)
    if dicts is None or dicts == [{}]:  # too many, or every minute: an empty dict is not worth the doubt
        plist["StartInterval"] = shortest_gap(job.schedule)
    else:
        plist["StartCalendarInterval"] = dicts[0] if len(dicts) == 1 else dicts
    return plist


def notes(setup, job_list, now=None, tz=None):
    """One line per calendar job with wall times the local zone skips or repeats in the
    next year: launchd may not run them as `alive schedule next` says."""
    now, tz = units.clock(now, tz)
    out = []
    for job in job_list:
        if job.schedule.kind == "every" or "StartInterval" in plist_for(job, units.PLACEHOLDERS):
            continue
        if job.schedule.days_and:
            out.append(f"{job.name} ({job.schedule.text}): cron runs it on the days that match both day fields; "
                       f"StartCalendarInterval cannot say both, so launchd runs it on every day of the week it "
                       f"names (alive expects only the days that match both)")
        conflicts = units.dst_conflicts(job.schedule, tz, now)
        if conflicts:
            out.append(f"{job.name} ({job.schedule.text}): {_nights(conflicts)} in {tz} (daylight saving time). "
                       f"launchd does not document what StartCalendarInterval does then (it may skip the run or "
                       f"start it twice); `alive schedule next` shows what cron does. Schedule it outside "
                       f"those hours to be sure")
    return out


def _nights(conflicts):
    """'02:30 does not exist on 2026-03-29 and happens twice on 2026-10-25'."""
    parts, said = [], None
    for change, walls in conflicts:
        times = ", ".join(w.strftime("%H:%M") for w in walls[:3]) + (", ..." if len(walls) > 3 else "")
        many = len(walls) > 1
        verb = ("do not exist" if many else "does not exist") if change.after > change.before else \
            ("happen twice" if many else "happens twice")
        parts.append(f"{'' if times == said else times + ' '}{verb} on {walls[0].date().isoformat()}")
        said = times
    return " and ".join(parts)


def render(setup, job_list, now=None, tz=None, check=True):
    """{file name: plist bytes}, each checked (a problem is a UsageError naming the job).
    `check=False` is for the templates, whose placeholders are not absolute paths."""
    out = {}
    for job in job_list:
        plist = plist_for(job, setup)
        data = plistlib.dumps(plist, sort_keys=True)
        problems = []
        if plistlib.loads(data) != plist:
            problems.append("does not survive a plistlib round trip")
        if check:
            problems += check_plist(plist)
        if problems:
            raise UsageError(f"job {job.name}: plist {'; '.join(problems)}")
        out[f"{plist['Label']}.plist"] = data
    return out


# ---------------------------------------------------------------- checking


def check_plist(plist):
    """Problems of a plist dict against the keys alive writes and their types -> [str]."""
    if not isinstance(plist, dict):
        return [f"must be a dictionary, not {type(plist).__name__}"]
    problems = []
    known = ("Label", "ProgramArguments", "EnvironmentVariables", "StartInterval", "StartCalendarInterval",
             "RunAtLoad", "ProcessType") + PATH_KEYS
    for key in plist:
        if key not in known:
            problems.append(f"unknown key {key!r} (alive writes only {', '.join(known)})")
    for key in ("Label", "ProgramArguments"):
        if key not in plist:
            problems.append(f"{key} is missing")
    if ("StartInterval" in plist) == ("StartCalendarInterval" in plist):
        problems.append("needs exactly one of StartInterval and StartCalendarInterval")
    checks = {
        "Label": _label, "ProgramArguments": _arguments, "EnvironmentVariables": _environment,
        "StartInterval": _interval, "StartCalendarInterval": _calendar, "RunAtLoad": _bool,
        "ProcessType": _process_type, **{k: _absolute for k in PATH_KEYS},
    }
    for key, check in checks.items():
        if key in plist:
            problems += [f"{key}: {p}" for p in check(plist[key])]
    problems += [f"{where}: {text!r} holds a ~, which launchd does not expand (use an absolute path)"
                 for where, text in _strings(plist, "") if "~" in text]
    return problems


def _strings(value, where):
    if isinstance(value, str):
        yield where, value
    elif isinstance(value, dict):
        for k, v in value.items():
            yield from _strings(v, f"{where}.{k}" if where else str(k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _strings(v, f"{where}[{i}]")


def _is_int(value):
    return isinstance(value, int) and not isinstance(value, bool)


def _label(value):
    if not isinstance(value, str) or not value.strip():
        return ["must be a non-empty string"]
    return ["must not contain spaces or /"] if any(c.isspace() or c == "/" for c in value) else []


def _arguments(value):
    if not isinstance(value, list) or not value:
        return ["must be a non-empty array of strings"]
    if not all(isinstance(a, str) for a in value):
        return ["every argument must be a string"]
    return [] if value[0].startswith("/") else [f"the program {value[0]!r} must be an absolute path"]


def _environment(value):
    if not isinstance(value, dict):
        return ["must be a dictionary of strings"]
    return [f"{k!r} must map to a string" for k, v in value.items() if not isinstance(v, str)]


def _interval(value):
    return [] if _is_int(value) and value > 0 else [f"{value!r} must be a whole number of seconds above 0"]


def _calendar(value):
    entries = value if isinstance(value, list) else [value]
    if not entries:
        return ["must not be an empty array"]
    problems = []
    for i, entry in enumerate(entries):
        where = f"[{i}] " if isinstance(value, list) else ""
        if not isinstance(entry, dict):
            problems.append(f"{where}must be a dictionary of integers")
            continue
        for key, number in entry.items():
            if key not in CALENDAR_KEYS:
                problems.append(f"{where}unknown key {key!r} (use {', '.join(CALENDAR_KEYS)})")
                continue
            low, high = CALENDAR_KEYS[key]
            if not _is_int(number) or not low <= number <= high:
                problems.append(f"{where}{key} {number!r} must be an integer from {low} to {high}")
    return problems


def _bool(value):
    return [] if isinstance(value, bool) else [f"{value!r} must be true or false"]


def _process_type(value):
    return [] if value in PROCESS_TYPES else [f"{value!r} must be one of {', '.join(PROCESS_TYPES)}"]


def _absolute(value):
    if not isinstance(value, str):
        return ["must be a string"]
    return [] if value.startswith("/") else [f"{value!r} must be an absolute path"]


# ---------------------------------------------------------------- this system


def agents_dir():
    return Path.home() / "Library" / "LaunchAgents"


def domain():
    return f"gui/{os.getuid()}"


def loaded(label):
    return units.tool(["launchctl", "print", f"{domain()}/{label}"], check=False)[0] == 0


def boot_out(label):
    """Unload a label (not loaded is fine) and wait, bounded, until launchd says it is gone."""
    units.tool(["launchctl", "bootout", f"{domain()}/{label}"], check=False)
    deadline = time.monotonic() + GONE_WAIT_S
    while loaded(label):
        if time.monotonic() > deadline:
            raise RuntimeFailure(f"launchd still has {label} {GONE_WAIT_S:.0f}s after bootout")
        time.sleep(0.1)


def bootstrap(path):
    for attempt in range(BOOTSTRAP_TRIES):
        code, _, err = units.tool(["launchctl", "bootstrap", domain(), str(path)], check=False)
        if code == 0:
            return
        if attempt + 1 < BOOTSTRAP_TRIES:
            time.sleep(1.0)
    raise RuntimeFailure(f"`launchctl bootstrap {domain()} {path}` failed (exit {code}): {units.last_line(err)}")


def owned_files(setup, folder=None):
    """Our plist names in the LaunchAgents folder (other fleets' and programs' left alone)."""
    folder = agents_dir() if folder is None else folder
    return units.owned_names(folder, setup.label_prefix, (".plist",)) + units.old_default_names(folder, setup,
                                                                                                 (".plist",))


def install(setup, job_list, now=None, tz=None, say=print, dry_run=False):
    """Write the plists to ~/Library/LaunchAgents and (re)load each changed or unloaded one;
    remove our plists that the fleet no longer has."""
    units.require_tool("launchctl", NO_LAUNCHCTL, dry_run)
    files = render(setup, job_list)
    folder = agents_dir()
    for name in owned_files(setup, folder):
        if name not in files:
            say(f"{'would remove' if dry_run else 'removing'} {name[:-6]} (no longer in fleet.toml)")
            if not dry_run:
                boot_out(name[:-6])
                (folder / name).unlink(missing_ok=True)
    if not dry_run:
        folder.mkdir(parents=True, exist_ok=True)
        Path(setup.home, "logs").mkdir(parents=True, exist_ok=True)  # launchd creates no folders
    for name, data in files.items():
        label, path = name[:-6], folder / name
        current = units.read_files(folder, [name]).get(name)
        if current == data and loaded(label):
            say(f"unchanged: {label}")
            continue
        say(f"{'would load' if dry_run else 'loading'} {label} from {path}")
        if dry_run:
            continue
        units.write_files(folder, {name: data})
        boot_out(label)
        bootstrap(path)
    return 0


def uninstall(setup, say=print, dry_run=False):
    units.require_tool("launchctl", NO_LAUNCHCTL, dry_run)
    folder = agents_dir()
    names = owned_files(setup, folder)
    for name in names:
        say(f"{'would unload and remove' if dry_run else 'unloading and removing'} {folder / name}")
        if not dry_run:
            boot_out(name[:-6])
            (folder / name).unlink(missing_ok=True)
    if not names:
        say(f"nothing to remove: no {setup.label_prefix}.* plists in {folder}")
    return 0


def compare(setup, job_list, now=None, tz=None):
    """What is installed against what would be: units.Comparison."""
    import shutil

    folder = agents_dir()
    expected = render(setup, job_list)
    found = units.read_files(folder, owned_files(setup, folder))
    inactive = []
    if found and shutil.which("launchctl"):
        inactive = [n[:-6] for n in expected if n in found and not loaded(n[:-6])]
    return units.comparison("launchd", str(folder), expected, found, inactive, "not loaded")


# ---------------------------------------------------------------- the repository's templates


def templates():
    """{file name: bytes} of the repository's launchd/ folder: the core jobs' plists as
    render() writes them, with placeholders for what differs per machine (@PYTHON@,
    @ALIVE@, @ALIVE_HOME@, @PATH@, @LABEL_PREFIX@), each named com.example.alive.<job>.plist.
    Generated, never edited by hand: tests/units/test_units.py fails when a file differs."""
    from alive.config.registry import Probe, Registry

    # One probe, so the probe job (scheduled only when probes exist) has its template too.
    reg = Registry(path=None, home=Path(units.PLACEHOLDERS.home),
                   probes={"p": Probe(name="p", command=["probe"])})
    core = [job for job in units.jobs(reg, units.PLACEHOLDERS) if job.name in units.CORE]
    rendered = render(units.PLACEHOLDERS, core, check=False)
    return {name.replace(units.PLACEHOLDERS.label_prefix, "com.example.alive", 1): data
            for name, data in rendered.items()}
