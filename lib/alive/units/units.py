"""The scheduled jobs of a fleet (DESIGN §4, §6 `alive schedule`): one list, from fleet.toml,
shared by the three unit writers (launchd.py, systemd.py, crontab.py) and by `alive verify`.

jobs(reg, setup) -> [Job]: the core jobs (watchdog, check, triggers, probe when probes exist,
report + export, the nightly brief + prune), one `alive run` job per task with `run` and
`schedule`, one `alive refresh --by schedule` job per source with `schedule`
(the cron floor). Every argv is absolute: the interpreter, bin/alive, its arguments.

Also here, because every writer needs them: the environment of a scheduled run, which
scheduler this system uses, and the few subprocess calls the installers make. The calendar
helpers and daylight saving time are in timing.py (its names are imported here too, as
`units.clock_groups`, ...).
"""
import os
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from alive.base.errors import UsageError
from alive.config.schedule import parse_schedule
from alive.units.timing import (  # noqa: F401  (the unit writers say units.clock_groups, ...)
    ALL_HOURS, ALL_MINUTES, clock, clock_groups, day_filter, dst_conflicts, dst_extra, every_points,
    product_groups, progression,
)

ROOT = Path(__file__).resolve().parents[3]
ALIVE_BIN = ROOT / "bin" / "alive"
SCHEDULERS = ("launchd", "systemd", "crontab")
CORE = ("watchdog", "check", "triggers", "probe", "report", "export", "brief", "prune")
# settings.label_prefix's default until it became local.alive: it ended up in users' units.
OLD_DEFAULT_PREFIX = "com.example.alive"
# After the interpreter's own folder: Homebrew (Apple silicon, then Intel) and the system.
# A fixed list, not the installing shell's PATH, so the units are the same from any shell.
# /opt/homebrew/bin is Homebrew's on macOS only (on Linux it would be a folder anyone could make).
BASE_PATH = ("/opt/homebrew/bin", "/usr/local/bin", "/usr/bin", "/bin", "/usr/sbin", "/sbin")
MACOS_ONLY_PATH = ("/opt/homebrew/bin",)
TOOL_TIMEOUT_S = 30


@dataclass(frozen=True)
class Job:
    name: str           # "watchdog", "task.<task>", "refresh.<source>"
    argv: tuple         # absolute: interpreter, bin/alive, arguments
    schedule: object    # schedule.Schedule
    description: str


@dataclass(frozen=True)
class Setup:
    """Where a fleet's jobs run: the same for each of its jobs."""

    python: str
    alive: str
    home: str
    label_prefix: str
    path: str
    config: str | None = None  # ALIVE_CONFIG, only when fleet.toml is not ALIVE_HOME/fleet.toml

    def label(self, job):
        return f"{self.label_prefix}.{job.name}"

    def log(self, job):
        return f"{self.home}/logs/{job.name}.log"

    def env(self):
        env = {"ALIVE_HOME": self.home, "PATH": self.path}
        if self.config:
            env["ALIVE_CONFIG"] = self.config
        return env


PLACEHOLDERS = Setup(python="@PYTHON@", alive="@ALIVE@", home="@ALIVE_HOME@",
                     label_prefix="@LABEL_PREFIX@", path="@PATH@")


def setup_for(reg):
    """The Setup of this interpreter and this checkout for the registry's fleet."""
    if not sys.executable:
        raise UsageError("cannot tell which Python runs alive (sys.executable is empty)")
    # Absolute but not symlink-resolved: a Homebrew or pyenv shim path survives upgrades,
    # its versioned target does not.
    python = os.path.abspath(sys.executable)
    home = os.path.abspath(os.fspath(reg.home))
    config = None
    if reg.path is not None and os.path.abspath(reg.path) != os.path.join(home, "fleet.toml"):
        config = os.path.abspath(reg.path)
    base = [p for p in BASE_PATH if sys.platform == "darwin" or p not in MACOS_ONLY_PATH]
    folders = [os.path.dirname(python)] + [p for p in base if p != os.path.dirname(python)]
    for text in (python, str(ALIVE_BIN), home, config or ""):
        if "~" in text:
            raise UsageError(f"{text!r} holds a ~, which no scheduler expands (use an absolute path)")
    return Setup(python=python, alive=str(ALIVE_BIN), home=home, label_prefix=reg.settings.label_prefix,
                 path=":".join(folders), config=config)


def exact_duration(seconds):
    """3600 -> '1h', 5400 -> '1h30m': what parse_duration reads back as the same seconds."""
    parts = []
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60), ("s", 1)):
        count, seconds = divmod(seconds, size)
        if count:
            parts.append(f"{count}{unit}")
    return "".join(parts) or "0s"


def jobs(reg, setup):
    """Every scheduled job of the fleet, core jobs first, then tasks and sources by name."""
    def alive(*args):
        return (setup.python, setup.alive, *args)

    site = f"{setup.home}/site"
    out = [
        Job("watchdog", alive("watchdog"), parse_schedule("every 3m"), "freshness tick: refresh stale sources"),
        Job("check", alive("check", "--notify"), parse_schedule("every 15m"), "judge everything, notify flips"),
        # The scheduled one-shot run; `alive triggers --loop` polls faster (triggers.poll).
        Job("triggers", alive("triggers"), parse_schedule("every 30s"), "run queued trigger requests"),
    ]
    if reg.probes:
        every = min(p.interval for p in reg.probes.values())
        out.append(Job("probe", alive("probe"), parse_schedule(f"every {exact_duration(every)}"),
                       "run the probes"))
    out += [
        Job("report", alive("report", "--format", "html", "--out", f"{site}/index.html"),
            parse_schedule("every 30m"), "render the dashboard"),
        Job("export", alive("export", "prometheus", "--out", f"{site}/metrics.prom"),
            parse_schedule("every 30m"), "write the Prometheus textfile"),
        Job("brief", alive("report", "--format", "markdown", "--out", f"{site}/brief.md"),
            parse_schedule("daily 23:00"), "the nightly brief"),
        Job("prune", alive("prune"), parse_schedule("daily 23:00"), "remove heartbeats past retention"),
    ]
    for name in sorted(reg.tasks):
        task = reg.tasks[name]
        if task.run and task.schedule is not None:
            limits = (("--timeout", exact_duration(task.timeout)) if task.timeout else ()) + \
                (() if task.overlap else ("--no-overlap",))
            out.append(Job(f"task.{name}", alive("run", name, *limits, "--", *task.run), task.schedule,
                           f"task {name} ({task.schedule.text})"))
    for name in sorted(reg.sources):
        source = reg.sources[name]
        if source.schedule is not None:  # the registry refuses a schedule without a producer
            out.append(Job(f"refresh.{name}", alive("refresh", name, "--by", "schedule"), source.schedule,
                           f"cron floor of source {name} ({source.schedule.text})"))
    return out


def owned(label, prefix):
    """True when `label` is one of the labels alive writes for `prefix`. The job part must
    be a core job, task.* or refresh.*: a fleet with the longer prefix com.x.alive.work
    must not be taken for jobs of com.x.alive."""
    if not label.startswith(prefix + "."):
        return False
    job = label[len(prefix) + 1:]
    return job in CORE or job.startswith(("task.", "refresh."))


def old_default_names(folder, setup, suffixes):
    """The units an install with the old default prefix (OLD_DEFAULT_PREFIX) wrote in folder for
    this ALIVE_HOME (their log paths name it): install replaces them, uninstall removes them and
    verify shows them as extra, so the new default orphans nothing. Another home's are left alone."""
    if setup.label_prefix == OLD_DEFAULT_PREFIX:
        return []
    names = owned_names(folder, OLD_DEFAULT_PREFIX, suffixes)
    mark = f"{setup.home}/logs/".encode()
    ours = {n.rsplit(".", 1)[0] for n, data in read_files(folder, names).items() if mark in data}
    return [n for n in names if n.rsplit(".", 1)[0] in ours]


def owned_names(folder, prefix, suffixes):
    """Our unit files in `folder`, sorted: names ending in one of `suffixes` whose label
    (the name without that ending) is ours. Other fleets' and programs' files are left alone."""
    try:
        names = os.listdir(folder)
    except (FileNotFoundError, NotADirectoryError):
        return []
    return sorted(n for n in names if n.endswith(suffixes) and owned(n.rsplit(".", 1)[0], prefix))


# ---------------------------------------------------------------- this system


def detect_scheduler(environ=None):
    """launchd | systemd | crontab: $ALIVE_SCHEDULER when set, else launchd on macOS,
    systemd where `systemctl --user` reaches a user manager, else crontab."""
    environ = os.environ if environ is None else environ
    chosen = environ.get("ALIVE_SCHEDULER")
    if chosen:
        if chosen not in SCHEDULERS:
            raise UsageError(f"ALIVE_SCHEDULER={chosen!r} is not one of {', '.join(SCHEDULERS)}")
        return chosen
    if sys.platform == "darwin":
        return "launchd"
    if shutil.which("systemctl") and tool(["systemctl", "--user", "show-environment"], check=False)[0] == 0:
        return "systemd"
    return "crontab"


def module(kind):
    """The writer module of a scheduler."""
    import importlib

    if kind not in SCHEDULERS:
        raise UsageError(f"{kind!r} is not a scheduler ({', '.join(SCHEDULERS)})")
    return importlib.import_module(f"alive.units.{kind}")


def require_tool(program, what, dry_run=False):
    """Refuse (exit 3, one line) when `program` is not on PATH; in a dry run only say so
    (on stderr) and go on. True when it is there."""
    if shutil.which(program):
        return True
    if not dry_run:
        raise UsageError(f"{program} not found on PATH: {what}")
    note(f"{program} not found on PATH: without --dry-run this refuses")
    return False


def note(text):
    """A line for the person running `alive schedule`, on stderr (stdout may be a unit)."""
    print(f"alive schedule: note: {text}", file=sys.stderr)


def tool(argv, input=None, check=True, timeout=TOOL_TIMEOUT_S, text=True):
    """Run a scheduler tool -> (exit code, stdout, stderr). With check, a failure is a
    RuntimeFailure naming the command and its last line of stderr. text=False: input and
    stdout are bytes, as they are (a crontab's CRLF or Latin-1 kept)."""
    from alive.base.errors import RuntimeFailure

    try:
        ran = subprocess.run(argv, input=input, capture_output=True, text=text, timeout=timeout)
    except FileNotFoundError:
        if check:
            raise RuntimeFailure(f"{argv[0]} not found on PATH") from None
        return 127, "", f"{argv[0]} not found"
    except subprocess.TimeoutExpired:
        if check:
            raise RuntimeFailure(f"`{' '.join(argv)}` did not finish within {timeout}s") from None
        return 124, "", "timed out"
    err = ran.stderr if text else ran.stderr.decode("utf-8", "replace")
    if check and ran.returncode != 0:
        raise RuntimeFailure(f"`{' '.join(argv)}` failed (exit {ran.returncode}): {last_line(err)}")
    return ran.returncode, ran.stdout, err


def last_line(text):
    lines = [ln.strip() for ln in (text or "").splitlines() if ln.strip()]
    return lines[-1][:300] if lines else "no message"


def write_files(folder, files):
    """Write {name: bytes|str} into folder (created), each atomically -> [paths]."""
    from alive.base import atomic

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    written = []
    for name, content in files.items():
        atomic.write_atomic(folder / name, content)
        written.append(folder / name)
    return written


def read_files(folder, names):
    """{name: bytes} of those of `names` that exist in folder."""
    out = {}
    for name in names:
        try:
            out[name] = (Path(folder) / name).read_bytes()
        except (FileNotFoundError, NotADirectoryError):
            continue
    return out


@dataclass
class Comparison:
    """Installed units against those `alive schedule` would write, by unit name."""

    scheduler: str
    where: str
    installed: bool
    missing: list
    extra: list
    different: list
    inactive: list      # installed and current, but not loaded / not active
    inactive_word: str  # how the scheduler says it: "not loaded", "not active"
    total: int          # how many units the fleet needs

    @property
    def ok(self):
        return self.installed and not (self.missing or self.extra or self.different or self.inactive)

    def to_json(self):
        return {"scheduler": self.scheduler, "where": self.where, "installed": self.installed,
                "missing": self.missing, "extra": self.extra, "different": self.different,
                "inactive": self.inactive, "expected": self.total}


def comparison(scheduler, where, expected, found, inactive=(), inactive_word="not active"):
    """Comparison from {name: content} expected and found."""
    return Comparison(scheduler, where, bool(found),
                      sorted(set(expected) - set(found)), sorted(set(found) - set(expected)),
                      sorted(n for n in expected if n in found and found[n] != expected[n]),
                      sorted(inactive), inactive_word, len(expected))
