"""`alive adopt crontab|launchd|systemd [--apply] [--undo]`: take the jobs a user already has.

Reads the user's jobs (adopt_cron: `crontab -l`; adopt_launchd: ~/Library/LaunchAgents/*.plist;
adopt_systemd: the user's timers and their services), proposes one fleet.toml task per job
with the same schedule and a name taken from the job, and shows both changes as a diff:

- fleet.toml gets a [tasks.NAME] table per job (schedule, description). No `run` key: the
  job stays with its scheduler, which keeps running it; fleet.toml only says when to expect it;
- the job is rewritten to run under `alive run NAME --home ALIVE_HOME -- <what it ran>`, so
  every run leaves a heartbeat (and the job's output and exit code pass through unchanged).

Dry run by default. --apply first copies every file it will change (and the crontab's text)
into ALIVE_HOME/state/adopt/<kind>-<time>/ with a manifest of their SHA-256 before and
after, then writes. --undo puts back the newest backup of that kind byte for byte, and
refuses (changing nothing) when a file was changed since the apply: the backup is then for
a person to look at. A job alive cannot say exactly (a schedule with no alive form, a cron
line that feeds its command standard input) is named with the reason, never guessed.

Each kind is a module with: read(ctx) -> {key: bytes} (key: a file path, or "crontab"),
jobs(files, ctx) -> [Job], rewrite(files, jobs, ctx) -> {key: bytes}, write(key, data, ctx),
remove(key, ctx), reload(keys, ctx, say), shown(key, data) -> text for the diff.
"""
import json
import os
import re
import sys
from dataclasses import dataclass, field
from pathlib import Path

from alive import cliutil
from alive.base import tokens
from alive.units import units
from alive.base.errors import UsageError
from alive.cliutil import plural
from alive.units.adopt_apply import FLEET_KEY, apply, module, undo, write_raw

KINDS = ("crontab", "launchd", "systemd")
NAME_MAX = 60


@dataclass
class Job:
    """One job found in a scheduler, and what adopting it means."""

    name: str                   # the task name proposed (unique among the jobs and fleet.toml)
    where: str                  # "crontab line 9", "backup.timer", "com.me.backup.plist"
    command: str                # what it runs, for people
    schedule: str | None        # the alive schedule with the same fire times, or None
    notes: list = field(default_factory=list)   # what could not be said or done, in words
    wrap: bool = True           # to be rewritten to run under `alive run` (False: see notes)
    adopted: bool = False       # it runs under `alive run` already (adopted before): name from there
    key: str = ""               # the file (or "crontab") it lives in
    handle: object = None       # the kind's own reference (a line number, a plist dict, ...)

    @property
    def reports(self):
        """It will write heartbeats: only such a job is registered (else it would be RED forever)."""
        return self.wrap or self.adopted


@dataclass
class Context:
    home: Path
    reg: object
    setup: object               # units.Setup: this interpreter, bin/alive, ALIVE_HOME, ALIVE_CONFIG
    config: Path
    now: object
    kind: str
    source: str | None = None   # crontab only: a FILE or "-" (standard input) instead of `crontab -l`

    def alive_run(self, name):
        """argv that runs a job under `alive run NAME` for this home, before the job's own argv."""
        argv = [self.setup.python, self.setup.alive, "run", name, "--home", self.setup.home]
        if self.setup.config:
            argv += ["--config", self.setup.config]
        return argv + ["--"]

    @staticmethod
    def wrapped(words):
        """The task name when an argv already runs under `alive run NAME`, else None
        (adopting twice changes nothing)."""
        words = list(words)
        for i, w in enumerate(words[:-2]):
            if w.endswith("/alive") and words[i + 1] == "run":
                return words[i + 2]
        return None


# ---------------------------------------------------------------- job files (launchd, systemd)


def read_one(key, ctx):
    path = Path(key)
    return path.read_bytes() if path.exists() else None


def write(key, data, ctx):
    write_raw(Path(key), data)


def remove(key, ctx):
    Path(key).unlink(missing_ok=True)


def alive_wrote(label, ctx):
    """A unit `alive schedule` wrote (this fleet's prefix or the old default one): never adopted."""
    return any(units.owned(label, prefix) for prefix in (ctx.reg.settings.label_prefix, units.OLD_DEFAULT_PREFIX))


# ---------------------------------------------------------------- names


def slug(text):
    """A task name from a program or label: lower case, letters, digits, '.', '_', '-'."""
    name = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return name[:NAME_MAX].rstrip("-._") or "job"


def unique_names(jobs, taken):
    """Give each new job a name no other job and no task of fleet.toml has (-2, -3, ...);
    a job adopted before keeps the name it runs under."""
    used = {j.name for j in jobs if j.adopted}
    for job in jobs:
        if job.adopted:
            continue
        base, n = job.name, 1
        while job.name in used or job.name in taken:
            n += 1
            job.name = f"{base[:NAME_MAX - 4]}-{n}"
        used.add(job.name)


# ---------------------------------------------------------------- schedules

# (low, high) of the fields of a calendar entry: minute, hour, day of month, month, weekday
# (0 = Sunday). An entry is a tuple of frozensets, None where any value goes.
FIELDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
DAY_NAMES = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def merge(entries):
    """Entries that differ in one field only become one (launchd's arrays of dicts, several
    OnCalendar= lines): their union is the same fire times."""
    entries = list(dict.fromkeys(entries))
    for _ in range(len(entries)):                    # bounded: every pass removes one entry or stops
        pair = next(((i, j, k) for i in range(len(entries)) for j in range(i + 1, len(entries))
                     for k in [_only_difference(entries[i], entries[j])] if k is not None), None)
        if pair is None:
            break
        i, j, k = pair
        a, b = entries[i], entries[j]
        entries = [e for n, e in enumerate(entries) if n not in (i, j)] + [a[:k] + (a[k] | b[k],) + a[k + 1:]]
    return entries


def _only_difference(a, b):
    diff = [k for k in range(5) if a[k] != b[k]]
    return diff[0] if len(diff) == 1 and a[diff[0]] is not None and b[diff[0]] is not None else None


def cron_field(values, low, high):
    """A cron field people read: `*`, a range `1-5`, a step `*/15`, or a list."""
    from alive.units.crontab import _field

    if values is None:
        return "*"
    values = sorted(values)
    if len(values) >= 3 and values == list(range(values[0], values[-1] + 1)) and len(values) < high - low + 1:
        return f"{values[0]}-{values[-1]}"
    return _field(values, low, high)


def schedule_of(entries):
    """(alive schedule text, None) with exactly the fire times of the entries, or (None, why)."""
    from alive.config.schedule import parse_schedule

    entries = merge(entries)
    text = None
    if len(entries) == 1:
        *_, dom, _mon, dow = entries[0]
        if dom is not None and dow is not None:
            return None, ("it fires on days matching both a day of the month and a weekday, which cron (and so "
                          "alive) reads as either one")
        text = "cron " + " ".join(cron_field(v, lo, hi) for v, (lo, hi) in zip(entries[0], FIELDS))
    elif len({e[2:] for e in entries}) == 1 and all(e[0] and e[1] and len(e[0]) == len(e[1]) == 1 for e in entries):
        dom, mon, dow = entries[0][2:]
        times = ",".join(sorted(f"{min(e[1]):02d}:{min(e[0]):02d}" for e in entries))
        if dom is None and mon is None:
            text = f"daily {times}" if dow is None else f"weekly {','.join(DAY_NAMES[d] for d in sorted(dow))} {times}"
    if text is None:
        return None, f"its {len(entries)} calendar entries are more than one alive schedule can say"
    parse_schedule(text)                               # what we write must read back
    return text, None


# ---------------------------------------------------------------- fleet.toml


def toml_string(text):
    """A TOML basic string (JSON's escapes are TOML's)."""
    return json.dumps(text, ensure_ascii=False)


def fleet_addition(jobs, kind, stamp):
    lines = [f"\n# Adopted by `alive adopt {kind}` at {stamp} (`alive adopt {kind} --undo` takes it back)."]
    for job in jobs:
        bare = re.fullmatch(r"[A-Za-z0-9_-]+", job.name)
        lines.append(f"[tasks.{job.name if bare else toml_string(job.name)}]")
        if job.schedule:
            lines.append(f"schedule = {toml_string(job.schedule)}")
        lines += [f"# alive: {note}" for note in job.notes]
        lines.append(f"description = {toml_string(tokens.scrub(f'{job.where}: {job.command}')[:300])}")
    return "\n".join(lines) + "\n"


def new_fleet(old, jobs, kind, stamp, registered):
    new = [j for j in jobs if j.reports and j.name not in registered]
    if not new:
        return old
    text = old.decode("utf-8") if old else ""
    if text and not text.endswith("\n"):
        text += "\n"
    return (text + fleet_addition(new, kind, stamp)).encode("utf-8")


# ---------------------------------------------------------------- plan and show


def plan(ctx):
    """-> (jobs, {key: old bytes}, {key: new bytes}) for ctx.kind; new holds changed files only."""
    kind = module(ctx.kind)
    files = kind.read(ctx)
    jobs = kind.jobs(files, ctx)
    unique_names(jobs, set(ctx.reg.tasks))
    new = {k: v for k, v in kind.rewrite(files, [j for j in jobs if j.wrap], ctx).items() if files.get(k) != v}
    old_fleet = ctx.config.read_bytes() if ctx.config.exists() else None
    fleet = new_fleet(old_fleet, jobs, ctx.kind, ctx.now.strftime("%Y-%m-%d %H:%M UTC"), set(ctx.reg.tasks))
    old = dict(files)
    if fleet != old_fleet:
        old[FLEET_KEY], new[FLEET_KEY] = old_fleet, fleet
    return jobs, old, new


def diff(old, new, key, kind):
    import difflib

    def text(data):
        if data is None:
            return []
        return (kind.shown(key, data) if key != FLEET_KEY else data.decode("utf-8", "replace")).splitlines(True)

    name = key if key in (FLEET_KEY, "crontab") else os.path.basename(key)
    lines = difflib.unified_diff(text(old), text(new), f"{name}", f"{name} (adopted)")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


def summary(jobs, kind):
    out = []
    width = max((len(j.name) for j in jobs), default=0)
    for j in jobs:
        what = ("adopted already" if j.adopted else "left as it is" if not j.wrap
                else j.schedule or "no schedule")
        out.append(f"  {j.name:<{width}}  {what}  ({j.where}: {j.command[:80]})")
        out += [f"  {'':<{width}}  note: {n}" for n in j.notes]
    return out


# ---------------------------------------------------------------- command line


def build_parser():
    p = cliutil.parser("adopt", "Take the jobs you already have: register them in fleet.toml with their "
                                "schedules and run each under `alive run` (dry run unless --apply).")
    p.add_argument("kind", choices=KINDS, help="where the jobs are: your crontab, ~/Library/LaunchAgents, "
                                               "or your systemd user timers")
    p.add_argument("file", nargs="?", metavar="FILE",
                   help="crontab only: read this crontab file (`-`: standard input, dry run only) "
                        "instead of `crontab -l`")
    what = p.add_mutually_exclusive_group()
    what.add_argument("--apply", action="store_true", help="write it (a backup first)")
    what.add_argument("--undo", action="store_true", help="put back the newest backup, byte for byte")
    return p


def refuse_source(args):
    """FILE is a crontab's; standard input cannot be written back, and --undo takes its files from
    the backup's manifest."""
    if args.file is None:
        return
    if args.kind != "crontab":
        raise UsageError(f"FILE is read by `alive adopt crontab` only ({args.kind} jobs are found where they live)")
    if args.undo:
        raise UsageError("--undo takes no FILE: it puts back the newest backup, whichever crontab it holds")
    if args.file == "-" and args.apply:
        raise UsageError("a crontab read from standard input cannot be written back: --apply needs a FILE "
                         "(or no FILE for your own crontab)")


def main(argv):
    from alive.cliutil import load
    from alive.base.timeutil import utcnow

    args = build_parser().parse_args(argv)
    refuse_source(args)
    home, reg = load(args, create_home=True)
    from alive.base import paths

    ctx = Context(home, reg, units.setup_for(reg), paths.resolve_config(home, args.config), utcnow(), args.kind,
                  args.file)
    def say(text):          # the user's lines may hold alive's token: shown scrubbed, written raw
        print(tokens.scrub(text))
    if args.undo:
        return undo(ctx, say)
    jobs, old, new = plan(ctx)
    kind = module(ctx.kind)
    adoptable = [j for j in jobs if j.wrap]
    say(f"alive adopt {ctx.kind}: {plural(len(jobs), 'job')} found, {len(new) - (FLEET_KEY in new)} "
        f"{'file' if len(new) - (FLEET_KEY in new) == 1 else 'files'} of jobs to change"
        + ("" if args.apply else " (dry run: nothing written; --apply writes it, with a backup first)"))
    say("\n".join(summary(jobs, ctx.kind)) if jobs else "  (no jobs)")
    if not new:
        say("nothing to adopt")
        return 0
    sys.stdout.write(tokens.scrub("".join(diff(old.get(k), new[k], k, kind)
                                          for k in sorted(new, key=lambda k: k != FLEET_KEY))))
    if args.apply:
        apply(ctx, old, new, say)
        say(f"adopted {plural(len(adoptable), 'job')}; `alive adopt {ctx.kind} --undo` puts everything back")
    return 0
