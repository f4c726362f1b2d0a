"""fleet.toml's validation: _Checker reads the file, walks every table with its key's
converter (config/convert.py), builds the records (config/records.py) and collects every
mistake with its line (config/locate.py), so registry.load() can report them all at once."""
import re
from pathlib import Path

from alive.base.record import record
from alive.config.convert import (
    _LABEL_RE, _TOPIC_RE, NAME_RE, _argv, _Bad, _bool, _choice, _deadman_timeout, _duration, _env_name, _int,
    _matching, _names, _passthrough, _priority, _renotify, _schedule, _show, _slow_after, _string, _strings,
    _tags, _unknown, _url, _uuid,
)
from alive.config.locate import _dotted, _failing_line, _key, _locate
from alive.config.records import (
    CommandChannel, Deadman, HttpKv, Notify, Ntfy, Probe, Registry, Serve, Settings, Source, Task, Triggers,
)

_TOKEN_HINT = 'a token does not belong in fleet.toml (use token_env = "NAME_OF_AN_ENV_VAR" or token_file = "~/path")'


@record
class _Problem:
    line: int | None
    key: tuple
    text: str
    severity: str = "error"


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
        from alive.base import regular    # read_regular: a FIFO named fleet.toml is refused, not waited on

        try:
            raw = regular.read_regular(self.path)
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

