#!/usr/bin/env python3
"""`make browser-check`: a real browser looks at the dashboard.

Builds the demo fleet in a temporary ALIVE_HOME (`alive demo --dir`), gives its tasks
some history, renders `alive report --format html`, and has headless Chromium
1. screenshot it at phone (390 px) and desktop (1280 px) widths into docs/screenshots/,
2. dump the DOM it rendered and check it holds the badge, every item of the report and
   one "Trigger now" button per source,
3. do the same DOM check on the live page of `alive serve`, whose buttons must be
   enabled forms carrying the CSRF token.
Chromium is installed from Debian (apt-get) when missing, best effort. Exit 0 when every
check passed, 1 when one failed or the browser cannot be had.
"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ALIVE = ROOT / "bin" / "alive"
SHOTS = ROOT / "docs" / "screenshots"
SIZES = {"phone": (390, 1600), "desktop": (1280, 1800)}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         "--hide-scrollbars", "--force-device-scale-factor=1"]
failures = []


def say(text):
    print(f"browser-check: {text}", flush=True)


def check(ok, text):
    say(("ok   " if ok else "FAIL ") + text)
    if not ok:
        failures.append(text)


def find_browser():
    for name in BROWSERS:
        if shutil.which(name):
            return shutil.which(name)
    if not shutil.which("apt-get"):
        return None
    say("chromium is missing: installing Debian's chromium with apt-get (a few minutes)")
    for argv in (["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"],
                 ["apt-get", "update", "-qq"],
                 ["apt-get", "install", "-y", "-qq", "--no-install-recommends", "chromium"]):
        try:
            subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, timeout=900,
                           env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))
        except (OSError, subprocess.TimeoutExpired):
            break
        if shutil.which("chromium"):
            return shutil.which("chromium")
    return None


def alive(home, *args, timeout=300):
    env = dict(os.environ, ALIVE_HOME=str(home))
    env.pop("ALIVE_CONFIG", None)
    return subprocess.run([sys.executable, str(ALIVE), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def browser(exe, *args, timeout=120):
    profile = tempfile.mkdtemp(prefix="alive-chromium-")
    try:
        return subprocess.run([exe, *FLAGS, f"--user-data-dir={profile}", *args], capture_output=True,
                              text=True, timeout=timeout)
    finally:
        shutil.rmtree(profile, ignore_errors=True)


def build_fleet(home):
    """The demo fleet, plus a history for the strips and one queued trigger."""
    r = alive(home, "demo", "--dir", str(home), timeout=600)
    check(r.returncode == 0, f"alive demo --dir {home} (exit {r.returncode})")
    commands = alive(home, "help").stdout
    for command in ("probe", "watchdog"):   # the freshness layer, when this tree has it
        if re.search(rf"^\s+{command}\s", commands, re.M):
            alive(home, command, timeout=600)
    sys.path.insert(0, str(ROOT / "lib"))
    from alive import heartbeat

    now = datetime.now(timezone.utc).replace(second=0, microsecond=0)
    history = {"sales-report": ("ok", 4 * 3600, 17), "daily-data-quality-check": ("ok", 86400, 12),
               "sync-crm": ("error", 3600, 19), "publish-dashboard": ("ok", 3600, 19)}
    for task, (status, every, count) in history.items():
        for n in range(1, count + 1):
            at = now - timedelta(seconds=every * n + 60)
            st = "partial" if n % 7 == 3 else ("error" if n % 11 == 5 else status)
            if task == "sync-crm" and n > 6:
                st = "ok" if n % 9 else "skipped"
            hb = heartbeat.build(task, at, status=st, started_at=at - timedelta(seconds=40 + n), completed_at=at,
                                 summary=f"run {n} of {task}", warnings=["2 rows late"] if st == "partial" else [],
                                 errors=["timeout"] if st == "error" else [])
            heartbeat.write(home / "health", hb)
    report = json.loads(alive(home, "report", "--format", "json").stdout)
    sources = [i["name"] for i in report["items"] if i["kind"] == "source"]
    if sources:
        alive(home, "trigger", sources[0])
    return report


def dom_checks(dom, report, where, live):
    check(f'id="badge" data-overall="{report["overall"]}"' in dom, f"{where}: the badge says {report['overall']}")
    missing = [f"{i['kind']}:{i['name']}" for i in report["items"]
               if f'data-item="{i["kind"]}:{i["name"]}"' not in dom]
    check(not missing, f"{where}: every item of the report is on the page ({len(report['items'])} items)"
          + (f"; missing {missing}" if missing else ""))
    sources = [i["name"] for i in report["items"] if i["kind"] == "source"]
    buttons = re.findall(r'<form class="trigger" method="post" action="/trigger/([^"]+)">(.*?)</form>', dom, re.S)
    check(sorted(b[0] for b in buttons) == sorted(sources) and all("Trigger now</button>" in b[1] for b in buttons),
          f"{where}: one Trigger now button per source ({len(sources)})")
    if live:
        check(all('name="csrf"' in b[1] and "disabled" not in b[1] for b in buttons),
              f"{where}: the buttons are enabled and carry the CSRF token")
    check("<script" not in dom.lower(), f"{where}: no script on the page")


def live_page(exe, home, report):
    proc = subprocess.Popen([sys.executable, str(ALIVE), "serve", "--port", "0"], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=dict(os.environ, ALIVE_HOME=str(home)))
    try:
        line = proc.stdout.readline()
        m = re.search(r"http://\S+/", line)
        check(bool(m), f"alive serve printed its URL ({line.strip()!r})")
        if m:
            r = browser(exe, "--dump-dom", m.group(0))
            dom_checks(r.stdout, report, "live page", live=True)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.kill()


def main():
    started = time.monotonic()
    exe = find_browser()
    if not exe:
        say("FAIL chromium is not installed and could not be installed here "
            "(install it: apt-get install chromium); nothing was checked")
        return 1
    say(f"browser: {exe}")
    home = Path(tempfile.mkdtemp(prefix="alive-browser-check-"))
    try:
        report = build_fleet(home)
        page = home / "site" / "index.html"
        r = alive(home, "report", "--format", "html", "--out", str(page))
        check(r.returncode == 0 and page.is_file(), "alive report --format html --out site/index.html")
        SHOTS.mkdir(parents=True, exist_ok=True)
        for label, (width, height) in SIZES.items():
            shot = SHOTS / f"dashboard-{label}.png"
            if shot.exists():
                shot.unlink()
            browser(exe, f"--screenshot={shot}", f"--window-size={width},{height}", page.as_uri())
            check(shot.is_file() and shot.stat().st_size > 10_000 and shot.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n",
                  f"screenshot {shot.relative_to(ROOT)} ({width}x{height})")
        r = browser(exe, "--dump-dom", page.as_uri())
        dom_checks(r.stdout, report, "static page", live=False)
        live_page(exe, home, report)
    finally:
        shutil.rmtree(home, ignore_errors=True)
    say(f"{'all checks passed' if not failures else str(len(failures)) + ' check(s) failed'} "
        f"in {time.monotonic() - started:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
