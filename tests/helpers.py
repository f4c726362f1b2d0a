"""Helpers more than one test file needs, written once (conftest.py holds the fixtures,
run_alive and heartbeats). Import them by name: `from helpers import beat, fleet`."""
import contextlib
import io
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ALIVE = Path(__file__).resolve().parent.parent / "bin" / "alive"

# The report and dashboard tests' clock: late on a Saturday, after the day's runs.
NOW = datetime(2026, 5, 2, 23, 0, 0, tzinfo=timezone.utc)


def iso(dt):
    """An aware UTC instant as heartbeats write it: 2026-05-02T23:00:00Z."""
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def at(text):
    """An aware instant from ISO text with an offset or Z."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def fleet(home, text=""):
    """home/fleet.toml holding text, loaded."""
    from alive.config import registry
    (home / "fleet.toml").write_text(text)
    return registry.load(home / "fleet.toml", home)


def beat(home, task, at, status="ok", took=30, **kw):
    """A real heartbeat file for a run of task that completed at `at` after `took` seconds."""
    from alive.write import heartbeat
    hb = heartbeat.build(task, at, status=status, started_at=at - timedelta(seconds=took), completed_at=at, **kw)
    return Path(heartbeat.write(home / "health", hb))


def view(home, reg=None, now=NOW, **kw):
    """report's View of home (its fleet.toml unless reg is given) at now."""
    from alive.config import registry
    from alive.report import report
    return report.build_view(home, reg or registry.load(home / "fleet.toml", home), now, **kw)


def item(v, name):
    """The item called name in a View."""
    return next(i for i in v.result.items if i.name == name)


def alive_here(*args):
    """cli.main in this process (what bin/alive calls) -> (exit code, stdout, stderr)."""
    from alive import cli
    out, err = (io.TextIOWrapper(io.BytesIO(), encoding="utf-8", write_through=True) for _ in range(2))
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main([str(a) for a in args])
    return code, out.buffer.getvalue().decode(), err.buffer.getvalue().decode()


def start_alive(home, *args):
    """bin/alive started for real on home, not waited for; stdout and stderr are pipes."""
    env = dict(os.environ, ALIVE_HOME=str(home))
    env.pop("ALIVE_CONFIG", None)
    return subprocess.Popen([sys.executable, str(ALIVE), *args], env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def wait_for(predicate, seconds=20):
    """True as soon as predicate() is, False after `seconds` of it not being."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.02)
    return False


def queued(home):
    """The names in home/triggers (trigger requests waiting), sorted."""
    folder = home / "triggers"
    return sorted(os.listdir(folder)) if folder.exists() else []
