"""fleet.toml (DESIGN §4): read and validated here and nowhere else.

load(path, home) -> Registry, or ConfigError listing every mistake at once, each as
`fleet.toml:14: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)`.
problems(path, home) -> the same mistakes plus warnings (programs that cannot be
found), as dicts for `alive lint`.

tomllib gives no line numbers, so a small locator (_locate) maps every table header
and `key =` line to its dotted key; a key it cannot place (inside an inline table,
or missing) is reported at its table's line.

The reading is split along its seams: records.py (the records load() returns), checker.py
(the validation), convert.py (the value converters), locate.py (the TOML line locator).
This module is the small entry the rest of alive imports: load(), problems(), the records,
and the helpers that read them.
"""
import os
import shutil
from pathlib import Path

from alive.base.errors import UsageError
from alive.config.checker import _Checker
from alive.config.convert import NAME_RE, _show  # noqa: F401  (registry.NAME_RE: a task's name)
from alive.config.locate import _dotted
from alive.config.records import (  # noqa: F401  (the records, imported from here by the rest of alive)
    CommandChannel, Deadman, HttpKv, Notify, Ntfy, Probe, Registry, Serve, Settings, Source, Task, Triggers,
)
from alive.config.schedule import longest_interval, one_number_steps


class ConfigError(UsageError):
    """fleet.toml is wrong: every mistake, one a line (exit 3)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


def secret_env_names(reg):
    """The environment variables that hold tokens (ntfy, http-kv, serve, and alive's
    conventional names): never passed on to the programs alive runs."""
    from alive.base import tokens

    names = [reg.notify.ntfy.token_env if reg.notify.ntfy else None,
             reg.triggers.http_kv.token_env if reg.triggers.http_kv else None,
             reg.serve.token_env, reg.serve.ping_key_env]
    return {n for n in names if n} | set(tokens.CONVENTIONAL_ENV)


def task_grace(task):
    """(grace in seconds, or None for lateness.py's default, and where it came from: "grace",
    "max_gap" or "default"). On a scheduled task without `grace`, an explicit max_gap is the
    user's tolerance: grace = max_gap - the schedule's longest gap (daily, 36h -> 12h)."""
    if task.grace is not None:
        return task.grace, "grace"
    if task.max_gap is not None and task.schedule is not None:
        spare = task.max_gap - longest_interval(task.schedule)
        if spare > 0:
            return spare, "max_gap"
    return None, "default"


def task_max_gap(task, settings, interval_s=None):
    """Seconds without a heartbeat before a task is RED: the registry's max_gap, else 2 x
    the schedule's longest interval, else 2 x the heartbeat's interval_s, else the default."""
    if task is not None and task.max_gap is not None:
        return task.max_gap
    if task is not None and task.schedule is not None:
        return 2 * longest_interval(task.schedule)
    if interval_s:
        return 2 * int(interval_s)
    return settings.default_max_gap



# ---------------------------------------------------------------- entry points


def load(path, home):
    """fleet.toml -> Registry. A missing file is an empty registry; any mistake is a ConfigError."""
    from alive.base import tokens

    home = Path(home)
    if path is None or not Path(path).exists():
        tokens.remember()                # alive's conventional token variables, if set
        return Registry(path=None, home=home)
    chk = _Checker(Path(path), home)
    registry = chk.run()
    errors = [p for p in chk.sorted() if p.severity == "error"]
    if errors:
        raise ConfigError([chk.format(p) for p in errors])
    tokens.remember_registry(registry)   # from now on, this process scrubs them from what it writes
    return registry


def problems(path, home):
    """Everything load() checks, plus programs that cannot be found (warnings), for `alive lint`:
    [{"line": int|None, "severity": "error"|"warning", "problem": "tasks.x.run: ..."}]."""
    home = Path(home)
    if path is None or not Path(path).exists():
        return []
    chk = _Checker(Path(path), home)
    registry = chk.run()
    if registry is not None:
        for key, argv in _commands(registry):
            trouble = _program_trouble(argv[0], home)
            if trouble:
                chk.add(key, trouble, severity="warning")
        for task in registry.tasks.values():
            trouble = _gap_trouble(task) or _no_grace_trouble(task)
            if trouble:
                chk.add(("tasks", task.name, "max_gap"), trouble, severity="warning")
            trouble = not trouble and _grace_trouble(task)
            if trouble:
                chk.add(("tasks", task.name, "grace"), trouble, severity="warning")
        for kind, table in (("tasks", registry.tasks), ("sources", registry.sources)):
            for item in table.values():
                for text in one_number_steps(item.schedule) if item.schedule is not None else ():
                    chk.add((kind, item.name, "schedule"), text, severity="warning")
    return [{"line": p.line, "severity": p.severity, "problem": f"{_dotted(p.key)}: {p.text}" if p.key else p.text}
            for p in chk.sorted()]


def _commands(registry):
    for t in registry.tasks.values():
        if t.run:
            yield ("tasks", t.name, "run"), t.run
    for s in registry.sources.values():
        if s.producer:
            yield ("sources", s.name, "producer"), s.producer
        if s.after:
            yield ("sources", s.name, "after"), s.after
    for p in registry.probes.values():
        yield ("probes", p.name, "command"), p.command
    if registry.notify.command:
        yield ("notify", "command", "argv"), registry.notify.command.argv


def _gap_trouble(task):
    """A max_gap shorter than the longest gap of the task's own schedule turns it RED
    between two runs that are both on time (every night for daily 08:00,12:00,16:00)."""
    if task.max_gap is None or task.schedule is None:
        return None
    from alive.base.timeutil import format_duration

    longest = longest_interval(task.schedule)
    if task.max_gap >= longest:
        return None
    return (f"{format_duration(task.max_gap)} is shorter than the longest gap of its schedule "
            f"{task.schedule.text!r} ({format_duration(longest)}): RED between runs that are on time; "
            f"remove max_gap (lateness is judged against the schedule) or make it at least "
            f"{format_duration(longest)}")


def _no_grace_trouble(task):
    """max_gap exactly the schedule's longest gap, without grace: task_grace() finds nothing
    to spare and quietly takes the default, while max_gap turns the task RED on any delay."""
    if task.grace is not None or task.max_gap is None or task.schedule is None:
        return None
    longest = longest_interval(task.schedule)
    if task.max_gap != longest:
        return None
    from alive.config.schedule import default_grace
    from alive.base.timeutil import format_duration as shown

    grace = default_grace(longest)
    return (f"max_gap {shown(task.max_gap)} is the longest gap of its schedule {task.schedule.text!r} and leaves "
            f"no grace (max_gap minus that gap): lateness uses the default grace {shown(grace)}, but max_gap turns "
            f"the task RED as soon as a run is late; set grace = \"{shown(grace)}\" and remove max_gap, or make "
            f"max_gap longer than {shown(longest)} (the grace is what it leaves over that gap)")


def _grace_trouble(task):
    """With both grace and max_gap on a scheduled task, the earlier deadline turns it RED
    after a missed run (grace, or max_gap - the longest gap): say which, the other is idle."""
    if task.grace is None or task.max_gap is None or task.schedule is None:
        return None
    from alive.base.timeutil import format_duration as shown

    spare = task.max_gap - longest_interval(task.schedule)
    if task.grace <= spare:
        return (f"grace {shown(task.grace)} decides: RED {shown(task.grace)} after a missed run, before "
                f"max_gap {shown(task.max_gap)} would ({shown(spare)} after it); remove one of them")
    return (f"max_gap {shown(task.max_gap)} decides: RED {shown(spare)} after a missed run, before grace "
            f"{shown(task.grace)} runs out; remove one of them")


def _program_trouble(program, home):
    """Why argv[0] cannot be started, or None. Relative paths count from ALIVE_HOME."""
    if "/" in program:
        p = Path(program).expanduser()
        p = p if p.is_absolute() else home / p
        if not p.exists():
            return f"program {_show(program)} not found ({p})"
        if p.is_dir() or not os.access(p, os.X_OK):
            return f"program {_show(program)} is not executable ({p})"
        return None
    if shutil.which(program):
        return None
    if (home / program).exists():
        return f"program {_show(program)} is not on PATH (for the one in ALIVE_HOME write \"./{program}\")"
    return f"program {_show(program)} not found on PATH"

