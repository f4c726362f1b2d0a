"""fleet.toml (DESIGN §4): read and validated here and nowhere else.

load(path, home) -> Registry, or ConfigError listing every mistake at once, each as
`fleet.toml:14: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)`.
problems(path, home) -> the same mistakes plus warnings (programs that cannot be
found), as dicts for `alive lint`.

tomllib gives no line numbers, so a small locator (_locate) maps every table header
and `key =` line to its dotted key; a key it cannot place (inside an inline table,
or missing) is reported at its table's line.
"""
import json
import os
import re
import shutil
from alive.base.record import field, record
from pathlib import Path

from alive.base.errors import UsageError
from alive.config.schedule import longest_interval, one_number_steps, parse_schedule
from alive.base.timeutil import parse_duration

NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}\Z")
_ENV_RE = re.compile(r"^[A-Za-z_][A-Za-z0-9_]*\Z")
_TOPIC_RE = re.compile(r"^[-_A-Za-z0-9]{1,64}\Z")
_LABEL_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*\Z")
# ntfy's Priority header: names, or 1..5 (and "max" as an alias of urgent)
_PRIORITIES = {"min": "min", "low": "low", "default": "default", "high": "high", "urgent": "urgent",
               "max": "urgent", "1": "min", "2": "low", "3": "default", "4": "high", "5": "urgent"}
_TOKEN_HINT = 'a token does not belong in fleet.toml (use token_env = "NAME_OF_AN_ENV_VAR" or token_file = "~/path")'


class ConfigError(UsageError):
    """fleet.toml is wrong: every mistake, one a line (exit 3)."""

    def __init__(self, problems):
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# ---------------------------------------------------------------- records


@record(frozen=True)
class Settings:
    retention_days: int = 30
    default_max_gap: int = 129600  # 36h
    discover: bool = True
    dashboard_url: str | None = None
    label_prefix: str = "local.alive"   # was com.example.alive: units installed with it are still found (units.py)


@record(frozen=True)
class Task:
    name: str
    schedule: object = None  # Schedule | None
    max_gap: int | None = None  # explicit only; see task_max_gap
    run: list | None = None
    alert_after: int = 1
    max_runtime: int | None = None
    min_duration: int | None = None
    depends_on: tuple = ()
    description: str | None = None
    tags: tuple = ()            # words to filter the dashboard by (tags = ["finance", "daily"])
    line: int | None = None
    grace: int | None = None         # None: 10% of the gap before the expected run, >= 5m (lateness.py)
    recover_after: int = 1           # non-error runs in a row before a RED task counts as recovered
    slow_after: tuple | None = None  # ("seconds", N) or ("median", factor): a slower run is YELLOW
    ping_uuid: str | None = None     # the check's healthchecks UUID: /ping/<uuid> pings this task (ping.py)
    timeout: int | None = None       # tasks with run: `alive run --timeout` in every unit
    overlap: bool = False            # tasks with run: False puts `--no-overlap` in every unit


@record(frozen=True)
class Source:
    name: str
    path: Path
    max_age: int
    timestamp: str = "captured_at"
    producer: list | None = None
    after: list | None = None
    probe: str | None = None
    status_field: str | None = None
    bad_status: list = field(default_factory=list)
    retries: int = 0
    retry_pause: int = 0
    timeout: int = 600
    alert_after: int = 1
    schedule: object = None  # Schedule | None
    description: str | None = None
    tags: tuple = ()
    line: int | None = None


@record(frozen=True)
class Probe:
    name: str
    command: list
    timeout: int = 30
    interval: int = 600
    line: int | None = None


@record(frozen=True)
class Ntfy:
    topic: str
    server: str = "https://ntfy.sh"
    token_env: str | None = None
    token_file: Path | None = None
    priority: str = "default"
    tags: list = field(default_factory=list)


@record(frozen=True)
class CommandChannel:
    argv: list
    timeout: int = 30


@record(frozen=True)
class Deadman:
    url: str                    # an outside dead man's switch (healthchecks.io, ...), pinged by GET
    timeout: int = 5


@record(frozen=True)
class Notify:
    renotify: int | None = 3600  # None: say it once
    recovery: bool = True
    ntfy: Ntfy | None = None
    command: CommandChannel | None = None
    deadman: Deadman | None = None


@record(frozen=True)
class HttpKv:
    url: str
    token_env: str | None = None
    prefix: str = "trigger:"


@record(frozen=True)
class Triggers:
    backend: str = "spool"
    poll: int = 30
    http_kv: HttpKv | None = None


@record(frozen=True)
class Serve:
    bind: str = "127.0.0.1"
    port: int = 8765
    token_env: str | None = None
    ping_key_env: str = "ALIVE_PING_KEY"   # the key of /ping/<key>/<task> (ping.py)


@record
class Registry:
    path: Path | None
    home: Path
    settings: Settings = field(default_factory=Settings)
    tasks: dict = field(default_factory=dict)
    sources: dict = field(default_factory=dict)
    probes: dict = field(default_factory=dict)
    notify: Notify = field(default_factory=Notify)
    triggers: Triggers = field(default_factory=Triggers)
    serve: Serve = field(default_factory=Serve)


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


# ---------------------------------------------------------------- the checker


@record
class _Problem:
    line: int | None
    key: tuple
    text: str
    severity: str = "error"


class _Bad(Exception):
    """A value is wrong; the message says how to write it."""


class _Checker:
    def __init__(self, path, home):
        self.path, self.home = path, home
        self.problems = []
        self.lines = {}
        self.doc = {}
        try:
            self.display = str(path.resolve().relative_to(home.resolve()))
        except (ValueError, OSError):
            self.display = str(path)

    # -- reporting

    def add(self, key, text, severity="error", line=None):
        if line is None:
            line = self.line_of(key)
        self.problems.append(_Problem(line, tuple(key), text, severity))

    def line_of(self, key):
        key = tuple(key)
        while key:
            if key in self.lines:
                return self.lines[key]
            key = key[:-1]
        return None

    def sorted(self):
        return sorted(self.problems, key=lambda p: (p.line is None, p.line or 0))

    def format(self, p):
        where = f"{self.display}:{p.line}" if p.line else self.display
        return f"{where}: {_dotted(p.key)}: {p.text}" if p.key else f"{where}: {p.text}"

    # -- reading

    def run(self):
        from alive.base import atomic    # read_regular: a FIFO named fleet.toml is refused, not waited on

        try:
            raw = atomic.read_regular(self.path)
        except OSError as exc:
            self.add((), f"cannot read: {exc.strerror or exc}")
            return None
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            line = raw[: exc.start].count(b"\n") + 1
            self.add((), "not UTF-8 text (save the file as UTF-8)", line=line)
            return None
        import tomllib   # here: a home without fleet.toml never pays for it

        try:
            doc = tomllib.loads(text)
        except tomllib.TOMLDecodeError as exc:
            self._toml_error(str(exc), text)
            return None
        except (ValueError, RecursionError) as exc:
            # Not a TOMLDecodeError, so no position: an integer of 4,300+ digits (int()'s
            # limit) or nesting deeper than the parser's recursion. Found by bisection.
            problem = "nested too deeply" if isinstance(exc, RecursionError) else str(exc).split(";")[0]
            self.add((), f"not valid TOML: {problem}", line=_failing_line(text))
            return None
        self.lines = _locate(text)
        self.doc = doc
        return self._registry(doc)

    def _toml_error(self, message, text):
        m = re.search(r"\(at line (\d+), column (\d+)\)$", message)
        if m:
            line = int(m.group(1))
            detail = f"{message[: m.start()].strip()} at column {m.group(2)}"
        else:
            line = max(text.count("\n"), 1) if "end of document" in message else None
            detail = re.sub(r"\s*\(at end of document\)$", " at the end of the file", message)
        self.add((), f"not valid TOML: {detail}", line=line)

    # -- sections

    def _registry(self, doc):
        top = {"settings", "tasks", "sources", "probes", "notify", "triggers", "serve"}
        for key in doc:
            if key not in top:
                self.add((key,), _unknown(key, top))
        sections = {k: self._table(doc, (k,)) for k in top}
        settings = self._settings(sections["settings"]) if sections["settings"] is not None else Settings()
        probes = self._named(sections["probes"], "probes", self._probe)
        tasks = self._named(sections["tasks"], "tasks", self._task)
        sources = self._named(sections["sources"], "sources", self._source)
        self._dependencies(tasks, doc)
        self._ping_uuids(tasks)
        notify = self._notify(sections["notify"]) if sections["notify"] is not None else Notify()
        triggers = self._triggers(sections["triggers"]) if sections["triggers"] is not None else Triggers()
        serve = self._serve(sections["serve"]) if sections["serve"] is not None else Serve()
        return Registry(path=self.path, home=self.home, settings=settings, tasks=tasks, sources=sources,
                        probes=probes, notify=notify, triggers=triggers, serve=serve)

    def _table(self, parent, key):
        """parent[key[-1]] when it is a table; None when absent; a mistake otherwise."""
        value = parent.get(key[-1])
        if value is None:
            return None
        if not isinstance(value, dict):
            self.add(key, f"must be a table ([{_dotted(key)}]), not {_show(value)}")
            return None
        return value

    def _fields(self, table, key, fields, required=()):
        """Convert every known key of `table`, report unknown and missing ones -> dict."""
        out = {}
        for name, value in table.items():
            if name == "token" and "token_env" in fields:
                self.add(key + (name,), _TOKEN_HINT)
                continue
            if name not in fields:
                self.add(key + (name,), _unknown(name, fields))
                continue
            try:
                out[name] = fields[name](value)
            except _Bad as exc:
                self.add(key + (name,), str(exc))
        for name, example in required:
            if name not in table:
                self.add(key + (name,), f"missing (required, e.g. {name} = {example})")
        return out

    def _named(self, table, section, build):
        """[tasks.NAME] style sections -> {name: record}; broken entries are left out."""
        out = {}
        for name in table or {}:
            key = (section, name)
            entry = self._table(table, key)
            if not NAME_RE.match(name):
                self.add(key, f"{_show(name)} is not a valid name (letters, digits, . _ -, starting with "
                              f"a letter or digit, at most 128 characters)")
                continue
            if entry is None:
                continue
            record = build(entry, key, name)
            if record is not None:
                out[name] = record
        return out

    def _settings(self, table):
        key = ("settings",)
        values = self._fields(table, key, {
            "health_dir": self._health_dir,
            "retention_days": _int(1),
            "default_max_gap": _duration(),
            "discover": _bool,
            "dashboard_url": _url,
            "label_prefix": _matching(_LABEL_RE, "letters, digits, . _ -, e.g. local.alive"),
        })
        values.pop("health_dir", None)
        return Settings(**values)

    def _health_dir(self, value):
        """Heartbeats live in ALIVE_HOME/health for every writer: `alive write`, `alive run`,
        alive.task() and the shim read no fleet.toml, so another folder here would split a
        fleet in two (jobs writing where check does not look). The default is still accepted."""
        if value != "health":
            raise _Bad(f"{_show(value)}: heartbeats always live in ALIVE_HOME/health, where every writer "
                       f"puts them (to move them, set ALIVE_HOME; remove this key)")
        self.add(("settings", "health_dir"), "is always \"health\" now; remove this key", severity="warning")
        return value

    def _task(self, table, key, name):
        values = self._fields(table, key, {
            "schedule": _schedule,
            "max_gap": _duration(),
            "run": _argv,
            "alert_after": _int(1),
            "max_runtime": _duration(),
            "min_duration": _duration(positive=False),
            "depends_on": _names,
            "description": _string,
            "grace": _duration(positive=False),
            "recover_after": _int(1),
            "slow_after": _slow_after,
            "tags": _tags,
            "ping_uuid": _uuid,
            "timeout": _duration(bare_unit="s"),
            "overlap": _bool,
        })
        for only_run in ("timeout", "overlap"):
            if only_run in table and "run" not in table:
                self.add(key + (only_run,), "needs run (alive starts only a task with run, so only it can be stopped)"
                         if only_run == "timeout" else "needs run (alive starts only a task with run)")
        values["depends_on"] = tuple(values.get("depends_on", ()))
        if "run" in values:
            self._not_a_timer(key, values)
        return Task(name=name, line=self.line_of(key), **values)

    def _not_a_timer(self, key, values):
        """A `systemd` schedule says when a systemd timer runs a job: alive cannot write it
        into a crontab or a plist as its own."""
        if getattr(values.get("schedule"), "kind", None) == "systemd":
            self.add(key + ("schedule",), "a `systemd ...` schedule says when a systemd timer runs the job (what "
                                          "`alive adopt systemd` writes); one alive schedules itself takes every, "
                                          "daily, weekly or cron")

    def _source(self, table, key, name):
        before = len(self.problems)
        values = self._fields(table, key, {
            "path": _string,
            "max_age": _duration(),
            "timestamp": _string,
            "producer": _argv,
            "after": _argv,
            "probe": _string,
            "status_field": _string,
            "bad_status": _strings,
            "retries": _int(0),
            "retry_pause": _duration(positive=False),
            "timeout": _duration(bare_unit="s"),
            "alert_after": _int(1),
            "schedule": _schedule,
            "description": _string,
            "tags": _tags,
        }, required=[("path", '"data/file.json"'), ("max_age", '"15m"')])
        probe = values.get("probe")
        if probe is not None and not _has_table(self.doc, "probes", probe):
            self.add(key + ("probe",), f"{_show(probe)} is not defined (add [probes.{_key(probe)}] or remove probe)")
        if values.get("bad_status") and "status_field" not in table:
            self.add(key + ("bad_status",), "needs status_field (the JSON field holding the status)")
        if values.get("schedule") is not None and "producer" not in table:
            self.add(key + ("schedule",), "needs a producer (the schedule refreshes the file by running it)")
        elif "producer" in values:
            self._not_a_timer(key, values)
        if "path" not in values or "max_age" not in values or len(self.problems) > before:
            return None
        values["path"] = _resolve(values["path"], self.home)
        return Source(name=name, line=self.line_of(key), **values)

    def _probe(self, table, key, name):
        values = self._fields(table, key, {
            "command": _argv,
            "timeout": _duration(bare_unit="s"),
            "interval": _duration(),
        }, required=[("command", '["python3", "check_session.py"]')])
        if "command" not in values:
            return None
        return Probe(name=name, line=self.line_of(key), **values)

    def _ping_uuids(self, tasks):
        seen = {}
        for t in tasks.values():
            if t.ping_uuid in seen:
                self.add(("tasks", t.name, "ping_uuid"), f"is also the ping_uuid of {seen[t.ping_uuid]}: one task each")
            elif t.ping_uuid:
                seen[t.ping_uuid] = t.name

    def _dependencies(self, tasks, doc):
        for t in tasks.values():
            for dep in t.depends_on:
                if dep not in tasks and not _has_table(doc, "tasks", dep):
                    self.add(("tasks", t.name, "depends_on"),
                             f"{_show(dep)} is not a registered task (add [tasks.{_key(dep)}] or remove it)")
        # Depth-first search; each cycle is reported once, at its first task in the file.
        state, reported = {}, set()

        def visit(name, trail):
            state[name] = "open"
            for dep in tasks[name].depends_on:
                if dep not in tasks:
                    continue
                if state.get(dep) == "open":
                    cycle = trail[trail.index(dep):] + [dep]
                    members = frozenset(cycle)
                    if members not in reported:
                        reported.add(members)
                        first = min(cycle[:-1], key=lambda n: tasks[n].line or 0)
                        start = cycle.index(first)
                        ordered = cycle[start:-1] + cycle[:start] + [first]
                        self.add(("tasks", first, "depends_on"),
                                 f"dependency cycle {' -> '.join(ordered)} (remove one of these dependencies)")
                elif dep not in state:
                    visit(dep, trail + [dep])
            state[name] = "done"

        for name in tasks:
            if name not in state:
                visit(name, [name])

    def _notify(self, table):
        key = ("notify",)
        values = self._fields(table, key, {
            "renotify": _renotify,
            "recovery": _bool,
            "ntfy": _passthrough,
            "command": _passthrough,
            "deadman": _passthrough,
        })
        ntfy = command = deadman = None
        if "ntfy" in values and self._table(table, key + ("ntfy",)) is not None:
            ntfy = self._ntfy(values["ntfy"], key + ("ntfy",))
        if "command" in values and self._table(table, key + ("command",)) is not None:
            got = self._fields(values["command"], key + ("command",),
                               {"argv": _argv, "timeout": _duration(bare_unit="s")},
                               required=[("argv", '["/usr/bin/logger", "-t", "alive"]')])
            if "argv" in got:
                command = CommandChannel(**got)
        if "deadman" in values and self._table(table, key + ("deadman",)) is not None:
            got = self._fields(values["deadman"], key + ("deadman",), {"url": _url, "timeout": _deadman_timeout},
                               required=[("url", '"https://hc-ping.com/YOUR-UUID"')])
            if "url" in got:
                deadman = Deadman(**got)
        for name in ("ntfy", "command", "deadman"):
            values.pop(name, None)
        return Notify(ntfy=ntfy, command=command, deadman=deadman, **values)

    def _ntfy(self, table, key):
        values = self._fields(table, key, {
            "server": _url,
            "topic": _matching(_TOPIC_RE, "letters, digits, - and _, at most 64"),
            "token_env": _env_name,
            "token_file": _string,
            "priority": _priority,
            "tags": _strings,
        }, required=[("topic", '"my-fleet"')])
        if "topic" not in values:
            return None
        if "token_file" in values:
            values["token_file"] = _resolve(values["token_file"], self.home)
        if "server" in values:
            values["server"] = values["server"].rstrip("/")
        return Ntfy(**values)

    def _triggers(self, table):
        key = ("triggers",)
        values = self._fields(table, key, {
            "backend": _choice("spool", "http-kv"),
            "poll": _duration(),
            "http_kv": _passthrough,
        })
        http_kv = None
        if "http_kv" in values and self._table(table, key + ("http_kv",)) is not None:
            got = self._fields(values["http_kv"], key + ("http_kv",), {
                "url": _url, "token_env": _env_name, "prefix": _string,
            }, required=[("url", '"https://api.cloudflare.com/client/v4/accounts/ACCOUNT/storage/kv/namespaces/NS"')])
            if "url" in got:
                http_kv = HttpKv(**got)
        elif values.get("backend") == "http-kv":
            self.add(key + ("backend",), 'backend "http-kv" needs a [triggers.http_kv] table with url')
        values.pop("http_kv", None)
        return Triggers(http_kv=http_kv, **values)

    def _serve(self, table):
        values = self._fields(table, ("serve",), {"bind": _string, "port": _int(1, 65535), "token_env": _env_name,
                                                  "ping_key_env": _env_name})
        return Serve(**values)


def _has_table(doc, section, name):
    """True/False whether doc[section][name] exists (a broken entry still counts as defined)."""
    table = doc.get(section)
    return isinstance(table, dict) and name in table


def _resolve(text, home):
    p = Path(text).expanduser()
    return p if p.is_absolute() else home / p


# ---------------------------------------------------------------- value converters


def _show(value, limit=80):
    """A value as it would be written in TOML, for messages; a long one is cut (it is
    named by its line anyway), a deeply nested one only described."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a table"
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        try:
            text = str(value)
        except (ValueError, RecursionError):
            text = f"a {type(value).__name__}"
    return text if len(text) <= limit else f"{text[:limit - 20]}... ({len(text)} characters)"


def _passthrough(value):
    return value


def _string(value):
    if isinstance(value, dict):
        raise _Bad("is a table, not a string (write the value in quotes)")
    if not isinstance(value, str) or not value.strip():
        raise _Bad(f"{_show(value)} is not a non-empty string (write it in quotes)")
    return value


def _matching(pattern, rule):
    def convert(value):
        _string(value)
        if not pattern.match(value):
            raise _Bad(f"{_show(value)} is not allowed here ({rule})")
        return value
    return convert


def _env_name(value):
    _string(value)
    if not _ENV_RE.match(value):
        raise _Bad(f"{_show(value)} is not the name of an environment variable (e.g. ALIVE_NTFY_TOKEN)")
    return value


def _uuid(value):
    """A healthchecks check's UUID, as its ping URLs carry it (lowercase)."""
    import uuid

    _string(value)
    try:
        return str(uuid.UUID(value.strip()))
    except ValueError:
        raise _Bad(f"{_show(value)} is not a UUID (copy it from the check's ping URL, "
                   f"e.g. 5bf66975-d4c7-4bf5-bcc8-b8d8a82ea278)") from None


def _url(value):
    _string(value)
    if not value.startswith(("http://", "https://")):
        raise _Bad(f"{_show(value)} is not a URL (start it with https:// or http://)")
    return value


def _bool(value):
    if not isinstance(value, bool):
        hint = f" (write {value.lower()}, without quotes)" if value in ("true", "false") else ""
        raise _Bad(f"{_show(value)} is not true or false{hint}")
    return value


def _int(low, high=None):
    def convert(value):
        if isinstance(value, str) and value.strip().isdigit():
            raise _Bad(f"{_show(value)} is a string (write {value.strip()}, without quotes)")
        if isinstance(value, bool) or not isinstance(value, int):
            raise _Bad(f"{_show(value)} is not a whole number")
        if value < low or (high is not None and value > high):
            span = f"{low} to {high}" if high is not None else f"at least {low}"
            raise _Bad(f"{value} is out of range ({span})")
        return value
    return convert


def _duration(positive=True, bare_unit=None):
    """bare_unit="s" for a timeout: its bare number means seconds (GNU timeout's default
    unit, as `alive run --timeout` says), so the hint is "10s", never "10h"."""
    def convert(value):
        if isinstance(value, bool) or not isinstance(value, (str, int)):
            raise _Bad(f"{_show(value)} is not a duration (use e.g. \"15m\", \"36h\", \"1h30m\")")
        try:
            seconds = parse_duration(value, bare_unit=bare_unit)
        except ValueError as exc:
            message = str(exc)
            quoted = repr(str(value))
            raise _Bad(_show(value) + message[len(quoted):] if message.startswith(quoted) else message) from None
        if positive and seconds <= 0:
            raise _Bad(f"{_show(value)} must be more than 0")
        return seconds
    return convert


def _deadman_timeout(value):
    # A check or watchdog run waits for the ping at most this long: a short wait, by design.
    seconds = _duration()(value)
    if seconds > 60:
        raise _Bad(f"{_show(value)} is too long for a ping that every check waits for (at most 60s)")
    return seconds


def _renotify(value):
    # `renotify = false` (or 0): say it once, never repeat while RED.
    if value is False or value == 0 or value == "0":
        return None
    return _duration(positive=False)(value) or None   # "0" too, as the README says


def _argv(value):
    if isinstance(value, str):
        raise _Bad(f"{_show(value)} is a string; write the command as a list of strings, "
                   f"e.g. {_show(value.split() or ['python3', 'job.py'])}")
    if not isinstance(value, list) or not value or not all(isinstance(v, str) for v in value) or not value[0]:
        raise _Bad(f"{_show(value)} is not a non-empty list of strings (e.g. [\"python3\", \"job.py\"])")
    return list(value)


def _strings(value):
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise _Bad(f"{_show(value)} is not a list of strings (e.g. [\"a\", \"b\"])")
    return list(value)


def _names(value):
    if isinstance(value, str):
        raise _Bad(f"{_show(value)} is a string; write a list: [{_show(value)}]")
    return _strings(value)


_TAG_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}\Z")


def _tags(value):
    """tags = ["finance", "daily"]: words for the dashboard's filter (they go into its URLs)."""
    tags = _names(value)
    bad = [t for t in tags if not _TAG_RE.match(t)]
    if bad:
        raise _Bad(f"{_show(bad[0])} is not a tag (letters, digits, . _ -, starting with a letter or digit, "
                   f"at most 64 characters)")
    return tuple(dict.fromkeys(tags))


def _schedule(value):
    _string(value)
    try:
        return parse_schedule(value)
    except ValueError as exc:
        raise _Bad(str(exc)) from None


def _slow_after(value):
    """"45m" (a duration) or "3x" (times the median of the last 20 runs)."""
    if isinstance(value, str) and value.strip().lower().endswith("x"):
        number = value.strip()[:-1]
        try:
            factor = float(number) if number.isascii() else None
        except ValueError:
            factor = None
        if factor is None or not 1 < factor <= 1000:
            raise _Bad(f"{_show(value)} is not a factor (write e.g. \"3x\": three times the median of the "
                       f"last 20 runs, more than 1x)")
        return ("median", factor)
    return ("seconds", _duration()(value))


def _priority(value):
    norm = _PRIORITIES.get(str(value).lower()) if isinstance(value, (str, int)) and not isinstance(value, bool) else None
    if norm is None:
        raise _Bad(f"{_show(value)} is not a priority (min, low, default, high, urgent, or 1 to 5)")
    return norm


def _choice(*choices):
    def convert(value):
        if value not in choices:
            raise _Bad(f"{_show(value)} is not one of {', '.join(_show(c) for c in choices)}")
        return value
    return convert


def _unknown(name, known):
    import difflib

    close = difflib.get_close_matches(name, list(known), n=1)
    hint = f"did you mean {close[0]}?" if close else "known: " + ", ".join(sorted(known))
    return f"unknown key ({hint})"


# ---------------------------------------------------------------- dotted keys and lines


def _failing_line(text):
    """The line where tomllib hits an error it gives no position for: the shortest run of
    whole lines from the top that still fails the same way (a prefix that ends before the
    culprit parses, or fails only where it was cut)."""
    import tomllib

    lines = text.splitlines(keepends=True)

    def fails(n):
        try:
            tomllib.loads("".join(lines[:n]))
        except tomllib.TOMLDecodeError:
            return False
        except (ValueError, RecursionError):
            return True
        return False

    low, high = 1, max(len(lines), 1)
    while low < high:
        mid = (low + high) // 2
        if fails(mid):
            high = mid
        else:
            low = mid + 1
    return low


def _key(part):
    """One key segment as TOML would accept it in a dotted key."""
    return part if re.fullmatch(r"[A-Za-z0-9_-]+", part) else json.dumps(part, ensure_ascii=False)


def _dotted(key):
    return ".".join(_key(part) for part in key)


_BARE = re.compile(r"[A-Za-z0-9_-]+")


def _parse_key(line, i):
    """A dotted key at line[i:] -> (parts, index after it), or (None, i)."""
    parts = []
    n = len(line)
    while True:
        while i < n and line[i] in " \t":
            i += 1
        if i >= n:
            return None, i
        if line[i] == '"':
            j = i + 1
            while j < n and line[j] != '"':
                j += 2 if line[j] == "\\" else 1
            raw = line[i + 1: j]
            try:
                parts.append(json.loads(f'"{raw}"'))
            except ValueError:
                parts.append(raw)
            i = j + 1
        elif line[i] == "'":
            j = line.find("'", i + 1)
            if j < 0:
                return None, i
            parts.append(line[i + 1: j])
            i = j + 1
        else:
            m = _BARE.match(line, i)
            if not m:
                return None, i
            parts.append(m.group())
            i = m.end()
        while i < n and line[i] in " \t":
            i += 1
        if i < n and line[i] == ".":
            i += 1
            continue
        return parts, i


def _scan_value(line, i, in_string, depth):
    """Follow strings, comments and brackets through line[i:]; returns the state at its end."""
    n = len(line)
    while i < n:
        if in_string:
            if in_string == '"""' and line[i] == "\\":
                i += 2
            elif line.startswith(in_string, i):
                i += 3
                in_string = None
            else:
                i += 1
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            in_string = line[i: i + 3]
            i += 3
            continue
        if c == '"':
            i += 1
            while i < n and line[i] != '"':
                i += 2 if line[i] == "\\" else 1
        elif c == "'":
            j = line.find("'", i + 1)
            i = n if j < 0 else j
        elif c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(depth - 1, 0)
        i += 1
    return in_string, depth


def _locate(text):
    """{dotted key tuple: line} for every table header and `key =` line of a TOML text."""
    lines = {}
    table = ()
    in_string, depth = None, 0

    def record(path, n):
        for k in range(1, len(path) + 1):
            lines.setdefault(path[:k], n)

    for n, line in enumerate(text.splitlines(), 1):
        start = 0
        if in_string is None and depth == 0:
            stripped = line.lstrip()
            indent = len(line) - len(stripped)
            if stripped.startswith("["):
                parts, _ = _parse_key(line, indent + (2 if stripped.startswith("[[") else 1))
                if parts:
                    table = tuple(parts)
                    record(table, n)
                continue
            if not stripped or stripped.startswith("#"):
                continue
            parts, j = _parse_key(line, indent)
            if not parts or j >= len(line) or line[j] != "=":
                continue
            record(table + tuple(parts), n)
            start = j + 1
        in_string, depth = _scan_value(line, start, in_string, depth)
    return lines
