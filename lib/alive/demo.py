"""`alive demo`: the whole triad on a temporary ALIVE_HOME, nothing to configure.

Every step runs the real bin/alive (or the real shim) as a subprocess, exactly as a
user's jobs would, and prints what it did.
"""
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from . import cliutil

ROOT = Path(__file__).resolve().parent.parent.parent
ALIVE = ROOT / "bin" / "alive"
SHIM = ROOT / "scripts" / "cron-heartbeat-write.sh"


def build_parser():
    p = cliutil.parser("demo", "A self-contained demo fleet in a temporary ALIVE_HOME.")
    p.add_argument("--dir", help="use this (empty or new) folder instead of a fresh temporary one")
    return p


def title(text):
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}")


def step(home, argv, show=True):
    """Run one real command against the demo home; print it and its output."""
    env = dict(os.environ, ALIVE_HOME=str(home), ALIVE_PYTHON=sys.executable)
    env.pop("ALIVE_CONFIG", None)
    shown = " ".join(a if " " not in a else repr(a) for a in argv)
    print(f"$ {shown}")
    r = subprocess.run(argv, capture_output=True, text=True, env=env, timeout=120)
    out = (r.stdout + r.stderr).rstrip()
    if show and out:
        print("\n".join("  " + line for line in out.splitlines()))
    print(f"  (exit {r.returncode})")
    return r


def alive(home, *args, show=True):
    return step(home, [sys.executable, str(ALIVE), *args], show)


def write_layer(home):
    title("1. write: every run leaves a heartbeat, atomically, in one schema")
    alive(home, "write", "daily-report", "--summary", "report sent to 12 people",
          "--metric", "recipients=12", "--interval", "1d")
    alive(home, "write", "nightly-backup", "--status", "partial", "--summary", "backup done, 2 files skipped",
          "--warning", "2 files were locked", "--interval", "1d")
    alive(home, "run", "extract-sales", "--interval", "15m", "--", sys.executable, "-c",
          "print('extracted 240 rows')")
    alive(home, "run", "sync-crm", "--interval", "1h", "--", sys.executable, "-c",
          "import sys; print('connecting...'); print('error: token expired', file=sys.stderr); sys.exit(2)")
    step(home, ["bash", str(SHIM), "cron-cleanup", "1h", "ok", "removed 31 temp files"])
    health = home / "health"
    print("\nhealth/ now holds:")
    for p in sorted(health.iterdir()):
        print(f"  {p.name}")
    print("\none heartbeat (sync-crm, the failing run):")
    print("\n".join("  " + line for line in (health / "sync-crm_latest.json").read_text().splitlines()))


def main(argv):
    args = build_parser().parse_args(argv)
    home = Path(args.dir) if args.dir else Path(tempfile.mkdtemp(prefix="alive-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    print(f"alive demo: ALIVE_HOME={home}")
    write_layer(home)
    print(f"\nEverything the demo wrote is in {home}")
    return 0
