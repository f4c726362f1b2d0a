"""Real parts for the watchdog, refresh and probe tests: producer and probe scripts
written into ALIVE_HOME, data files of a chosen age, and a log of every script run.

Every script appends "<its name>" to ALIVE_HOME/runs.log when it starts, so a test counts
real producer runs from a file, across processes.
"""
import json
import os
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

from helpers import iso

HEAD = f"""#!{sys.executable}
import json, os, sys, time
from datetime import datetime, timedelta, timezone
HOME = os.environ["ALIVE_HOME"]
with open(os.path.join(HOME, "runs.log"), "a") as _log:
    _log.write(os.path.basename(sys.argv[0]) + "\\n")
def now_iso(ago=0):
    return (datetime.now(timezone.utc) - timedelta(seconds=ago)).strftime("%Y-%m-%dT%H:%M:%SZ")
def write_data(doc):
    with open(os.environ["ALIVE_SOURCE_PATH"], "w") as f:
        json.dump(doc, f)
"""

BODIES = {
    # a producer that does its job
    "good.py": 'write_data({"captured_at": now_iso(), "rows": 3})\nprint("wrote 3 rows")\n',
    # a producer that fails, saying why on stderr
    "fail.py": 'print("connecting ...")\nprint("boom: upstream said 503", file=sys.stderr)\nsys.exit(1)\n',
    # a producer that hangs, with a child in its process group; both pids recorded
    "hang.py": ('import subprocess\nchild = subprocess.Popen(["sleep", "60"])\n'
                'open(os.path.join(HOME, "hang.pids"), "w").write(f"{os.getpid()} {child.pid}")\n'
                'time.sleep(60)\n'),
    # a producer that exits 0 but leaves garbage in the data file
    "garbage.py": 'open(os.environ["ALIVE_SOURCE_PATH"], "w").write("<html>502 Bad Gateway")\n',
    # a producer whose login expired: it exits 0 and says so in the status field
    "auth.py": 'write_data({"captured_at": now_iso(), "chrome_bridge_status": "auth_expired"})\n',
    # a producer that succeeds only on its 3rd run (a counter file)
    "third.py": ('path = os.path.join(HOME, "third.count")\n'
                 'n = int(open(path).read()) + 1 if os.path.exists(path) else 1\n'
                 'open(path, "w").write(str(n))\n'
                 'if n < 3:\n    print(f"try {n}: not yet", file=sys.stderr)\n    sys.exit(75)\n'
                 'write_data({"captured_at": now_iso()})\n'),
    # a producer that exits 0 but writes data that is already 2 hours old
    "old.py": 'write_data({"captured_at": now_iso(ago=7200)})\n',
    # a producer that takes a while (for the lock test), then does its job
    "slow.py": 'time.sleep(2)\nwrite_data({"captured_at": now_iso()})\n',
    # after commands (build, deploy) and a failing one
    "deploy.py": 'print("deployed", os.environ.get("ALIVE_SOURCES"))\n',
    "deploy_fail.py": 'print("rsync: connection refused", file=sys.stderr)\nsys.exit(12)\n',
    # probes
    "probe_alive.py": 'print("alive")\n',
    "probe_expired.py": 'print("expired  (cookie gone)")\n',
    "probe_notab.py": 'print("no_tab")\nsys.exit(3)\n',
    "probe_silent_ok.py": "pass\n",
    "probe_silent_fail.py": 'print("chrome not running", file=sys.stderr)\nsys.exit(2)\n',
    "probe_garbage.py": 'print("Traceback (most recent call last): KeyError: tab")\n',
    "probe_hang.py": 'time.sleep(60)\n',
    # the notification command channel: keeps every message it is given
    "notified.py": 'open(os.path.join(HOME, "notified.log"), "a").write(sys.stdin.read() + "\\n---\\n")\n',
}


def script(home, name, executable=True):
    """Write one of BODIES into home as ./name; returns the argv list to use in fleet.toml."""
    path = home / name
    path.write_text(HEAD + BODIES[name])
    path.chmod(0o755 if executable else 0o644)
    return [f"./{name}"]


def scripts(home, *names):
    for name in names:
        script(home, name)


def runs(home, name=None):
    """The scripts run so far, in order (or how many times `name` ran)."""
    try:
        lines = (home / "runs.log").read_text().split()
    except FileNotFoundError:
        lines = []
    return lines if name is None else lines.count(name)


def data(home, rel, age_s=0, **extra):
    """A data file captured age_s seconds ago (real clock)."""
    path = home / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps({"captured_at": iso(datetime.now(timezone.utc) - timedelta(seconds=age_s)), **extra}))
    return path


def fleet(home, text):
    (home / "fleet.toml").write_text(text)


def source(name, producer="good.py", path=None, max_age="15m", **keys):
    """One [sources.NAME] table as TOML text."""
    lines = [f"[sources.{name}]", f'path = "{path or name + ".json"}"', f'max_age = "{max_age}"']
    if producer:
        lines.append(f'producer = ["./{producer}"]')
    for key, value in keys.items():
        lines.append(f"{key} = {json.dumps(value)}")
    return "\n".join(lines) + "\n"


def probe_table(name, script_name, timeout="5s", interval="10m"):
    return (f'[probes.{name}]\ncommand = ["./{script_name}"]\ntimeout = "{timeout}"\n'
            f'interval = "{interval}"\n')


def state(home, name):
    path = home / "state" / name
    return json.loads(path.read_text()) if path.exists() else None


def source_state(home, name):
    return ((state(home, "watchdog.json") or {}).get("sources") or {}).get(name)


def latest(home, task):
    path = home / "health" / f"{task}_latest.json"
    return json.loads(path.read_text()) if path.exists() else None


def check_items(home, run_alive):
    r = run_alive("check", "--json", home=home)
    return {i["name"]: i for i in json.loads(r.stdout)["items"]}


def snapshot(root):
    """Every path under root with its bytes and mtime: equal snapshots = nothing changed."""
    out = {}
    for folder, dirs, files in os.walk(root):
        for name in dirs + files:
            p = os.path.join(folder, name)
            st = os.lstat(p)
            body = Path(p).read_bytes() if os.path.isfile(p) and not os.path.islink(p) else None
            out[os.path.relpath(p, root)] = (st.st_mtime_ns, body)
    return out
