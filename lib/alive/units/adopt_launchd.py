"""`alive adopt launchd`: the user's agents in ~/Library/LaunchAgents (plistlib reads XML and
binary plists alike). Agents alive wrote itself (`alive schedule launchd`) are left alone.

An agent with a schedule is adopted: StartInterval N is `every N` (launchd counts from when
the agent was loaded, alive from the epoch: the cadence is the same); StartCalendarInterval
(a dict or an array of dicts of Minute, Hour, Day, Weekday, Month, a missing key meaning any
value, as launchd.plist(5) says) is the cron, daily or weekly schedule with the same fire
times, or none with the reason. The name is the Label.

The rewritten plist runs what launchd ran after `<python> <bin/alive> run LABEL --home
ALIVE_HOME --`: launchd calls execvp(Program, ProgramArguments) (launchd.plist(5): Program is
execvp's first argument, ProgramArguments its second, argv[0] included; without Program,
ProgramArguments[0] is both). So ProgramArguments alone when Program is absent or the same as
its argv[0]; else the interpreter makes that same call (`python -c 'os.execvp(...)' PROGRAM
ARGV0 ARGS...`), as a program that looks at its argv[0] needs. Everything else is kept, and it
is written in the format it was read in. launchctl then reloads each changed agent (on a
machine without launchctl: a note says how).
"""
import os
import plistlib
from pathlib import Path

from alive.units import launchd, units
# read_one, write and remove are this kind's file interface (adopt_apply.py calls them on the module)
from alive.units.adopt import Job, alive_wrote, read_one, remove, schedule_of, slug, write  # noqa: F401

KEYS = {"Minute": 0, "Hour": 1, "Day": 2, "Month": 3, "Weekday": 4}
EXECVP = "import os, sys; os.execvp(sys.argv[1], sys.argv[2:])"


def folder():
    return launchd.agents_dir()


def read(ctx):
    out = {}
    place = folder()
    names = sorted(os.listdir(place)) if place.is_dir() else []
    for name in names:
        label = name[:-len(".plist")]
        if name.endswith(".plist") and not alive_wrote(label, ctx):
            out[str(place / name)] = (place / name).read_bytes()
    return out


def reload(keys, ctx, say):
    import shutil

    if not shutil.which("launchctl"):
        if keys:
            say("launchctl not found: load the changed agents yourself (launchctl bootout gui/$UID/LABEL, then "
                "launchctl bootstrap gui/$UID PLIST)")
        return
    for key in keys:
        label = plistlib.loads(Path(key).read_bytes()).get("Label", Path(key).stem)
        launchd.boot_out(label)
        launchd.bootstrap(key)
        say(f"reloaded {label}")


def shown(key, data):
    """A plist as XML text (a binary one too), for the diff."""
    try:
        return plistlib.dumps(plistlib.loads(data), sort_keys=False).decode("utf-8")
    except Exception:  # not a plist we can read: shown as it is
        return data.decode("utf-8", "replace")


def entry(calendar):
    """One StartCalendarInterval dict -> a calendar entry (adopt.FIELDS order); Weekday 7 is 0."""
    fields = [None] * 5
    for key, value in calendar.items():
        if key in KEYS and isinstance(value, int) and not isinstance(value, bool):
            fields[KEYS[key]] = frozenset([value % 7 if key == "Weekday" else value])
    return tuple(fields)


def schedule(plist):
    """(alive schedule, note) of an agent."""
    if isinstance(plist.get("StartInterval"), int) and plist["StartInterval"] > 0:
        return f"every {units.exact_duration(plist['StartInterval'])}", None
    calendar = plist.get("StartCalendarInterval")
    if isinstance(calendar, dict):
        calendar = [calendar]
    if isinstance(calendar, list) and calendar and all(isinstance(c, dict) for c in calendar):
        unknown = sorted({k for c in calendar for k in c if k not in KEYS})
        if unknown:
            return None, f"StartCalendarInterval has keys launchd does not know ({', '.join(unknown)})"
        return schedule_of([entry(c) for c in calendar])
    return None, "no StartInterval or StartCalendarInterval: it runs on other events (RunAtLoad, KeepAlive, ...)"


def argv_of(plist, python=None):
    """What launchd runs, as an argv for `alive run`: execvp(Program, ProgramArguments). With
    python, a ProgramArguments[0] other than Program reaches the program as its argv[0]; without,
    the argv people read (Program, then the arguments)."""
    args = plist.get("ProgramArguments")
    args = list(args) if isinstance(args, list) and all(isinstance(a, str) for a in args) else []
    program = plist.get("Program")
    if not isinstance(program, str) or args[:1] == [program]:
        return args
    if python and args:
        return [python, "-c", EXECVP, program] + args
    return [program] + args[1:]


def jobs(files, ctx):
    out = []
    for key, data in files.items():
        try:
            plist = plistlib.loads(data)
        except Exception:  # plistlib raises several kinds for a file that is not a plist
            continue
        if not isinstance(plist, dict):
            continue
        argv = argv_of(plist)
        sched, note = schedule(plist)
        if not argv or (sched is None and "StartCalendarInterval" not in plist and "StartInterval" not in plist):
            continue                                   # not a scheduled job: nothing to expect
        label = plist.get("Label") if isinstance(plist.get("Label"), str) else Path(key).stem
        job = Job(slug(label), os.path.basename(key), " ".join(argv), sched, [note] if note else [], key=key,
                  handle=plist)
        adopted = ctx.wrapped(argv)
        if adopted:
            job.name, job.wrap, job.adopted = adopted, False, True
        out.append(job)
    return out


def rewrite(files, chosen, ctx):
    out = {}
    for job in chosen:
        plist = dict(job.handle)
        argv = argv_of(plist, ctx.setup.python)
        plist.pop("Program", None)
        plist["ProgramArguments"] = ctx.alive_run(job.name) + argv
        data = files[job.key]
        fmt = plistlib.FMT_BINARY if data.startswith(b"bplist") else plistlib.FMT_XML
        out[job.key] = plistlib.dumps(plist, fmt=fmt, sort_keys=False)
    return out
