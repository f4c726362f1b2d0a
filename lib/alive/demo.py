"""`alive demo`: the whole triad on a temporary ALIVE_HOME, nothing to configure.

It copies examples/fleet.toml and examples/jobs/ into a fresh folder and runs every
step with the real bin/alive (or the real shim) as a subprocess, exactly as a user's
jobs and schedulers would, printing what each did.
"""
import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path

from alive import cliutil
from alive.base.errors import UsageError
from alive.cliutil import plural

ROOT = Path(__file__).resolve().parent.parent.parent
ALIVE = ROOT / "bin" / "alive"
SHIM = ROOT / "scripts" / "cron-heartbeat-write.sh"
EXAMPLES = ROOT / "examples"


def build_parser():
    p = cliutil.parser("demo", "A self-contained demo fleet in a temporary ALIVE_HOME.")
    p.add_argument("--dir", help="use this (empty or new) folder instead of a fresh temporary one (--home too)")
    return p


def chosen_home(args):
    """--dir or --home (the same thing here: the demo's own ALIVE_HOME, never $ALIVE_HOME),
    which must be empty or new: the demo writes its own fleet.toml there. None: a fresh
    temporary folder."""
    if args.dir and args.home and Path(args.dir).expanduser() != Path(args.home).expanduser():
        raise UsageError("--dir and --home name different folders; give one")
    chosen = args.dir or args.home
    if not chosen:
        return None
    home = Path(chosen).expanduser()
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise UsageError(f"{home} is not empty: the demo writes its own fleet.toml there; give an empty or new folder")
    return home


def title(text):
    print(f"\n\033[1m== {text}\033[0m" if sys.stdout.isatty() else f"\n== {text}")


def environment(home):
    """The demo's jobs call `python3`: make it this interpreter, first on PATH."""
    shims = home / ".demo-bin"
    shims.mkdir(exist_ok=True)
    link = shims / "python3"
    if not link.exists():
        link.symlink_to(sys.executable)
    env = dict(os.environ, ALIVE_HOME=str(home), ALIVE_PYTHON=sys.executable,
               PATH=f"{shims}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("ALIVE_CONFIG", None)
    return env


def step(home, argv, show=True, limit=None, env=None):
    """Run one real command against the demo home; print it and its output."""
    short = {sys.executable: "", str(ALIVE): "alive", str(SHIM): "scripts/cron-heartbeat-write.sh", "bash": ""}
    shown = " ".join(short.get(a, a if " " not in a else repr(a)) for a in argv).strip()
    print(f"$ {shown}")
    r = subprocess.run(argv, capture_output=True, text=True, env={**environment(home), **(env or {})},
                       cwd=home, timeout=120)
    lines = (r.stdout + r.stderr).rstrip().splitlines()
    if show and lines:
        cut = lines[:limit] if limit else lines
        print("\n".join("  " + line for line in cut))
        if len(cut) < len(lines):
            print(f"  ... ({len(lines) - len(cut)} more lines)")
    print(f"  (exit {r.returncode})")
    return r


def alive(home, *args, show=True, limit=None, env=None):
    return step(home, [sys.executable, str(ALIVE), *args], show, limit, env)


def iso(dt):
    return dt.strftime("%Y-%m-%dT%H:%M:%SZ")


def write_layer(home):
    title("1. write: every run leaves a heartbeat, atomically, in one schema")
    now = datetime.now(timezone.utc)
    alive(home, "run", "daily-data-quality-check", "--", "python3", "jobs/job.py", "--sleep")
    alive(home, "write", "sales-report", "--summary", "report sent to 12 people", "--metric", "recipients=12")
    step(home, ["bash", str(SHIM), "weekly-backup", "7d", "partial", "backup done, 2 locked files skipped"])
    alive(home, "write", "backfill-2025", "--complete", "--summary", "backfilled 365 days",
          "--started-at", iso(now - timedelta(days=40, hours=2)), "--completed-at", iso(now - timedelta(days=40)))
    for _ in range(2):
        alive(home, "run", "sync-crm", "--", "python3", "jobs/job.py", "--fail", "CRM token expired")
    alive(home, "write", "publish-dashboard", "--status", "error", "--error", "no CRM data to publish")
    # invoices-import runs every 30 minutes; its last run was two hours ago: late.
    alive(home, "write", "invoices-import", "--summary", "42 invoices imported",
          "--started-at", iso(now - timedelta(hours=2)), "--completed-at", iso(now - timedelta(hours=2) + timedelta(seconds=40)))
    print("\nin Python:  with alive.task('nightly-export', interval='1d') as run: run.metric('rows', 1834)")
    sys.path.insert(0, str(ROOT / "lib"))
    import alive as api
    with api.task("nightly-export", interval="1d", home=home) as run:
        run.metric("rows", 1834)
    health = home / "health"
    print(f"\nhealth/ now holds {plural(len(os.listdir(health)), 'file')}, e.g.:")
    for p in sorted(health.iterdir())[:4]:
        print(f"  {p.name}")
    print("\nthe latest sync-crm heartbeat:")
    print("\n".join("  " + line for line in (health / "sync-crm_latest.json").read_text().splitlines()))


def check_layer(home):
    title("2. check: every job against its cadence, every data file against its age")
    alive(home, "check")
    alive(home, "pause", "weekly-backup", "--for", "2h", "--reason", "drive being replaced")
    alive(home, "schedule", "next", "daily 08:00,12:00,16:00", "--count", "3")
    alive(home, "lint", limit=8)
    alive(home, "prune", "--dry-run", limit=4)


def correct_layer(home):
    title("3. correct: refresh what is stale, tell a person once")
    alive(home, "probe")
    alive(home, "watchdog", "--dry-run", limit=12)
    alive(home, "watchdog", limit=20)
    print("\nthe command channel (notify_log.py) received:")
    log = home / "notifications.log"
    text = log.read_text() if log.exists() else "(nothing)"
    print("\n".join("  " + line for line in text.rstrip().splitlines()[:24]))
    alive(home, "check", "--notify", limit=20)
    print(f"  notifications.log unchanged: {log.exists() and log.read_text() == text} (each flip is told once)")
    alive(home, "refresh", "sales")
    print("\na 'Trigger now' click (or `alive trigger`), twice, then the runner refreshes once:")
    alive(home, "trigger", "sales")
    alive(home, "trigger", "sales")
    alive(home, "triggers")


def report_layer(home):
    title("4. report: the morning brief, the dashboard, metrics")
    site = home / "site"
    alive(home, "report", "--format", "markdown", limit=16)
    alive(home, "report", "--format", "html", "--out", str(site / "index.html"))
    alive(home, "report", "--format", "markdown", "--out", str(site / "brief.md"))
    alive(home, "export", "prometheus", "--out", str(site / "metrics.prom"))
    lines = (site / "metrics.prom").read_text().splitlines()
    print("\n".join("  " + line for line in lines[:6]) + f"\n  ... ({plural(len(lines), 'line')})")
    return site


def ping_layer(home):
    """A job on another machine reports over HTTP, as curl or runitor would: `alive serve`
    takes healthchecks-style pings (ping.py)."""
    import re
    import secrets
    import select
    import signal
    import urllib.request

    title("5. beyond one machine: a job elsewhere pings alive serve over HTTP")
    key = secrets.token_urlsafe(16)
    env = {**environment(home), "ALIVE_PING_KEY": key}
    server = subprocess.Popen([sys.executable, str(ALIVE), "serve", "--port", "0"], stdout=subprocess.PIPE,
                              stderr=subprocess.DEVNULL, text=True, env=env, cwd=home)
    try:
        ready, _, _ = select.select([server.stdout], [], [], 20)
        found = re.search(r"http://127\.0\.0\.1:(\d+)/", server.stdout.readline() if ready else "")
        if not found:
            print("  alive serve did not start; skipped")
            return
        base = f"http://127.0.0.1:{found.group(1)}/ping"
        for path, body in (("start", b""), ("0", b"report sent to 12 people\n")):
            print(f"$ curl -fsS --data-binary @- {base}/$ALIVE_PING_KEY/sales-report/{path}")
            request = urllib.request.Request(f"{base}/{key}/sales-report/{path}", data=body)
            with urllib.request.urlopen(request, timeout=10) as answer:
                print(f"  {answer.read().decode()} (HTTP {answer.status})")
    finally:
        server.send_signal(signal.SIGTERM)
        server.wait(timeout=15)
    latest = json.loads((home / "health" / "sales-report_latest.json").read_text())
    print(f"  sales-report: {latest['status']}, {latest['summary']!r}, host {latest['host']}")


def schedule_layer(home):
    title("6. always scheduled: every unit generated from fleet.toml")
    alive(home, "schedule", "launchd", "--out", str(home / "launchd"), limit=14)
    plist = home / "launchd" / "local.alive.task.sales-report.plist"
    if plist.exists():
        print("\n".join("  " + ln for ln in plist.read_text().splitlines()[3:-1][:30]))
    alive(home, "schedule", "crontab", limit=8)
    # The jobs a person already has: adopt reads a crontab (here a file; by default `crontab -l`)
    # and proposes each line under `alive run`, writing nothing without --apply.
    mine = home / "my-crontab"
    mine.write_text("30 2 * * * /usr/local/bin/backup.sh\n"
                    "0 8 * * 1-5 [ \"$(date +\\%d)\" -le 07 ] && /usr/local/bin/monthly-report.sh\n"
                    "@reboot /usr/local/bin/mount-drives.sh\n")
    alive(home, "adopt", "crontab", str(mine), limit=24)
    # The demo installs nothing, and the machine's scheduler (cron may not even be there) is
    # none of its business: verify looks at launchd units under the demo's own folder.
    print("\nverify, with the units looked for in the demo's own folder (the demo installs none):")
    alive(home, "verify", limit=30, env={"ALIVE_SCHEDULER": "launchd", "HOME": str(home)})


def prepare(home):
    shutil.copy(EXAMPLES / "fleet.toml", home / "fleet.toml")
    shutil.copytree(EXAMPLES / "jobs", home / "jobs", dirs_exist_ok=True)


def main(argv):
    args = build_parser().parse_args(argv)
    home = chosen_home(args) or Path(tempfile.mkdtemp(prefix="alive-demo-"))
    home.mkdir(parents=True, exist_ok=True)
    home = home.resolve()
    print(f"alive demo: ALIVE_HOME={home}  (fleet: examples/fleet.toml)")
    prepare(home)
    write_layer(home)
    check_layer(home)
    correct_layer(home)
    site = report_layer(home)
    ping_layer(home)
    schedule_layer(home)
    print(f"\nEverything the demo wrote is in {home}")
    print(f"  brief:     {site / 'brief.md'}")
    print(f"  metrics:   {site / 'metrics.prom'}")
    print(f"  live page with working 'Trigger now' buttons: ALIVE_HOME={home} {ALIVE} serve")
    print(f"  dashboard: file://{site / 'index.html'}")
    return 0
