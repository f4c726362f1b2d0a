"""Shared test plumbing: the package on sys.path, a temporary ALIVE_HOME, and a way
to run the real bin/alive as a subprocess."""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "lib"))
# tests/<package>/ mirror lib/alive's rooms; a test may import another room's fixtures
# (`from test_kv import store`), so every room's folder is importable from any test.
sys.path[1:1] = sorted(str(d) for d in (ROOT / "tests").iterdir()
                       if d.is_dir() and any(d.glob("test_*.py")) and not (d / "__init__.py").exists())
ALIVE = ROOT / "bin" / "alive"
SHIM = ROOT / "scripts" / "cron-heartbeat-write.sh"


@pytest.fixture
def home(tmp_path, monkeypatch):
    """A fresh ALIVE_HOME, also set in the environment for in-process calls."""
    h = tmp_path / "home"
    h.mkdir()
    monkeypatch.setenv("ALIVE_HOME", str(h))
    monkeypatch.delenv("ALIVE_CONFIG", raising=False)
    return h


@pytest.fixture
def local_zone(monkeypatch):
    """local_zone("Europe/Berlin"): the local zone (TZ) for this test, restored afterwards."""
    def use(name):
        monkeypatch.setenv("TZ", name)
        time.tzset()
    yield use
    monkeypatch.undo()
    time.tzset()


def run_alive(*args, home=None, env=None, timeout=60, input=None, cwd=None):
    """Run bin/alive for real; returns the CompletedProcess (text mode)."""
    full_env = dict(os.environ)
    full_env.pop("ALIVE_CONFIG", None)
    if home is not None:
        full_env["ALIVE_HOME"] = str(home)
    full_env.update(env or {})
    return subprocess.run([sys.executable, str(ALIVE), *map(str, args)], capture_output=True, text=True,
                          timeout=timeout, env=full_env, input=input, cwd=cwd)


def heartbeats(home, task=None):
    """Canonical heartbeat files under home/health, sorted, as (path, dict)."""
    folder = Path(home) / "health"
    out = []
    for p in sorted(folder.glob("*.json")):
        if p.name.endswith("_latest.json") or (task and f"_{task}_" not in p.name):
            continue
        out.append((p, json.loads(p.read_text())))
    return out


@pytest.fixture
def alive():
    return run_alive


@pytest.fixture
def zone():
    """Set TZ for this process (and every child) and tzset(); the old TZ is back afterwards."""
    old = os.environ.get("TZ")

    def set_zone(name):
        os.environ["TZ"] = name
        time.tzset()
    yield set_zone
    if old is None:
        os.environ.pop("TZ", None)
    else:
        os.environ["TZ"] = old
    time.tzset()
