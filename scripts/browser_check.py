#!/usr/bin/env python3
"""`make browser-check`: a real browser (headless Chromium, driven over the DevTools
protocol by scripts/cdp.py) uses the dashboard as a person would.

On the demo fleet (`alive demo --dir`, plus a history of runs and one queued trigger):
1. the static report (`alive report --format html`): screenshots at phone (390 px) and
   desktop (1280 px) width, light and dark, into docs/screenshots/; its DOM holds the
   badge, every item and one disabled "Trigger now" per source; axe-core counts;
2. the live page (`alive serve --poll 1s`): axe-core counts, light and dark, phone and
   desktop; keyboard only: Tab to a source's "Trigger now", press Enter, see it queued
   (focus back on the button), run the trigger runner, see the card say "refreshed"
   without a reload (focus kept); the source whose login expired says so; the run log
   page of a task; the badges; the page with JavaScript off (a Reload link, no refresh);
   a form of an older page after a restart (back to the page, with a notice); the
   installed app's service worker showing the last page with the server gone.
3. issue 19 (items 10-15): the run log of a task that never ran (axe); ages that move
   (a trigger's "refreshed" 105 s later, a 16-minute-old static file) or say their time
   (JavaScript off); offline says offline at once, with the time of the data, Trigger now
   off, and an unsaved page is never the dashboard; Trigger now on a filtered page comes
   back to it; one request per poll (the page's own URL, 304 while nothing changed, never
   /status.json), gzip, the run log live; 24x24 px run cells on a phone, icon links.
4. --allow-remote: logged in, the server gone, the saved dashboard shows; after Log out,
   or after a new token brought the login form, it no longer does.
axe-core (AXE_VERSION, MPL-2.0) comes from the npm registry with `npm pack`, checked
against its pinned sha512, and is kept in a cache folder outside the repository.

Exit 0 when every check passed, 1 when one failed. Chromium is installed from Debian
(apt-get) when missing. When Chromium or axe-core cannot be had: exit 1, or, with
ALIVE_BROWSER_CHECK_OPTIONAL=1 (CI), exit 0 saying what was skipped and why.
"""
import base64
import hashlib
import io
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tarfile
import tempfile
import time
import urllib.request
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import cdp  # noqa: E402  (scripts/cdp.py)

ROOT = Path(__file__).resolve().parent.parent
ALIVE = ROOT / "bin" / "alive"
SHOTS = ROOT / "docs" / "screenshots"
SIZES = {"phone": (390, 844, True), "desktop": (1280, 900, False)}
BROWSERS = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")
AXE_VERSION = "4.14.1"
AXE_SHA512 = "FHfa+lmNjQZfJz1q8wKqIDwC6DExcHt/pkjNQb09a3NPjCKg2rhu5qb2S4r76ASyFNNtuFooJpZe37OgudVGtQ=="
OPTIONAL = os.environ.get("ALIVE_BROWSER_CHECK_OPTIONAL") == "1"
failures = []
axe_counts = {}
CHANGE = "upload timed out (a change made by browser-check)"
NEVER_RAN = "new-extractor"     # the demo's task that was just added to fleet.toml and never ran
# the text a person sees (innerText: what CSS hides is not in it)
SEEN = "document.getElementById('checked').innerText"


def say(text):
    print(f"browser-check: {text}", flush=True)


def check(ok, text):
    say(("ok   " if ok else "FAIL ") + text)
    if not ok:
        failures.append(text)
    return ok


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


def load_axe():
    """-> (axe.min.js text, None) or (None, why not). The package tarball is fetched once
    with npm into the cache folder and checked against AXE_SHA512 every time."""
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "alive-browser-check"
    tgz = cache / f"axe-core-{AXE_VERSION}.tgz"
    if not tgz.is_file():
        if not shutil.which("npm"):
            return None, "npm is not installed (it fetches axe-core from the npm registry)"
        cache.mkdir(parents=True, exist_ok=True)
        try:
            r = subprocess.run(["npm", "pack", f"axe-core@{AXE_VERSION}", "--pack-destination", str(cache)],
                               capture_output=True, text=True, timeout=300, cwd=cache)
        except (OSError, subprocess.TimeoutExpired) as exc:
            return None, f"npm pack axe-core@{AXE_VERSION} failed: {exc}"
        if r.returncode != 0 or not tgz.is_file():
            return None, f"npm pack axe-core@{AXE_VERSION} failed: {(r.stderr or r.stdout).strip()[-300:]}"
    data = tgz.read_bytes()
    if base64.b64encode(hashlib.sha512(data).digest()).decode() != AXE_SHA512:
        tgz.unlink()
        return None, f"{tgz} does not match the pinned sha512 of axe-core {AXE_VERSION}; removed"
    with tarfile.open(fileobj=io.BytesIO(data)) as tar:
        return tar.extractfile("package/axe.min.js").read().decode("utf-8"), None


def alive(home, *args, timeout=300):
    env = dict(os.environ, ALIVE_HOME=str(home))
    env.pop("ALIVE_CONFIG", None)
    return subprocess.run([sys.executable, str(ALIVE), *args], capture_output=True, text=True,
                          env=env, timeout=timeout)


def build_fleet(home):
    """The demo fleet, plus a history for the strips and one queued trigger."""
    r = alive(home, "demo", "--dir", str(home), timeout=600)
    check(r.returncode == 0, f"alive demo --dir {home} (exit {r.returncode})")
    commands = alive(home, "help").stdout
    for command in ("probe", "watchdog"):   # the freshness layer, when this tree has it
        if re.search(rf"^\s+{command}\s", commands, re.M):
            alive(home, command, timeout=600)
    sys.path.insert(0, str(ROOT / "lib"))
    from alive.write import heartbeat

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
                                 errors=["timeout"] if st == "error" else [], exit_code=1 if st == "error" else 0,
                                 output_tail=f"step 1 done\nstep 2 {'failed: timeout' if st == 'error' else 'done'}\n")
            heartbeat.write(home / "health", hb)
    report = json.loads(alive(home, "report", "--format", "json").stdout)
    sources = [i["name"] for i in report["items"] if i["kind"] == "source"]
    if sources:
        alive(home, "trigger", sources[0])
    return report


def dom_checks(dom, report, where, live):
    check(f'id="badge" data-overall="{report["overall"]}"' in dom, f"{where}: the badge says {report['overall']}")
    check("<h1" in dom and "0 RED" not in dom, f"{where}: an <h1>, and no \"0 RED\" pill")
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
    else:
        check(all("disabled" in b[1] for b in buttons), f"{where}: the buttons are disabled (no server)")
    check(dom.lower().count("<script") == 1 and 'http-equiv="refresh"' not in dom,
          f"{where}: one script (the page's own), no meta refresh")


def axe(page, axe_js, where):
    """Run axe-core on the page; count the violating nodes by impact; fail on critical or serious."""
    if axe_js is None:
        return
    page.js(axe_js + ";0", timeout=120)
    found = page.js("axe.run(document).then(r => r.violations.map(v => [v.id, v.impact, v.nodes.length]))",
                    timeout=180)
    counts = {impact: sum(n for _, i, n in found if i == impact) for impact in ("critical", "serious", "moderate",
                                                                               "minor")}
    axe_counts[where] = counts
    detail = ", ".join(f"{rule} ({impact}, {n})" for rule, impact, n in found) or "none"
    check(counts["critical"] == 0 and counts["serious"] == 0,
          f"axe {where}: critical {counts['critical']}, serious {counts['serious']} (all violations: {detail})")


def static_page(browser, home, report, axe_js):
    page_file = home / "site" / "index.html"
    r = alive(home, "report", "--format", "html", "--out", str(page_file))
    check(r.returncode == 0 and page_file.is_file(), "alive report --format html --out site/index.html")
    check((home / "site" / "badge.svg").is_file() and (home / "site" / "badge" / "sync-crm.svg").is_file(),
          "the static report wrote its badges (site/badge.svg, site/badge/<item>.svg)")
    SHOTS.mkdir(parents=True, exist_ok=True)
    for label, (width, height, mobile) in SIZES.items():
        for dark in (False, True):
            page = browser.page(width, height, mobile, dark)
            page.goto(page_file.as_uri())
            scheme = "dark" if dark else "light"
            if not dark:
                dom_checks(page.js("document.documentElement.outerHTML"), report, f"static page ({label})", False)
                words = page.js("document.getElementById('checked').textContent")
                check(bool(re.fullmatch(r"snapshot from .+, (just now|\d+ s ago)", words or "")),
                      f"static page says how old it is: {words!r}")
            if not dark and label == "phone":
                cells_are_touch_targets(page, "static page (phone)", ".strip li")
            shot = SHOTS / f"dashboard-{label}{'-dark' if dark else ''}.png"
            page.screenshot(shot, width)
            check(shot.stat().st_size > 10_000, f"screenshot {shot.relative_to(ROOT)} ({width} px, {scheme})")
            axe(page, axe_js, f"static {label} {scheme}")
            page.close()
    old_static_file(browser, page_file)


def old_static_file(browser, page_file):
    """Item 11: the same file opened 16 minutes after it was written says so; without
    JavaScript it says its absolute time, never a frozen "just now"."""
    text = page_file.read_text()
    checked = re.search(r'<p class="checked" id="checked">.*?</p>', text, re.S).group(0)
    at = datetime.fromisoformat(re.search(r'datetime="([^"]+)"', checked).group(1))
    older = checked.replace(re.search(r'datetime="([^"]+)"', checked).group(1),
                            (at - timedelta(minutes=16)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    old = page_file.with_name("old.html")
    old.write_text(text.replace(checked, older))
    page = browser.page(1280, 900)
    page.goto(old.as_uri())
    words = page.js(SEEN)
    check(words.endswith(", 16 min ago"), f"a static file 16 minutes old says so: {words!r}")
    page.close()
    nojs = browser.page(1280, 900)
    nojs.call("Emulation.setScriptExecutionDisabled", {"value": True})
    nojs.goto(old.as_uri())
    root = nojs.call("DOM.getDocument")["root"]["nodeId"]
    node = nojs.call("DOM.querySelector", {"nodeId": root, "selector": "#checked"})["nodeId"]
    html = nojs.call("DOM.getOuterHTML", {"nodeId": node})["outerHTML"]
    check("snapshot from" in html and not re.search(r">(just now|\d+ \w+ ago)<", html),
          f"without JavaScript the static file says its time, no frozen age: {re.sub('<[^>]+>', '', html)!r}")
    nojs.close()


def cells_are_touch_targets(page, where, selector):
    """Item 15: every run cell at least 24x24 CSS px (WCAG 2.2 2.5.8, axe `target-size`)."""
    sizes = page.js(f"[...document.querySelectorAll('{selector}')].map(e => e.getBoundingClientRect())"
                    ".map(r => [Math.round(r.width * 10) / 10, Math.round(r.height * 10) / 10])")
    small = [s for s in sizes if s[0] < 24 or s[1] < 24]
    check(sizes and not small, f"{where}: {len(sizes)} run cells, all at least 24x24 px"
          + (f" (smallest {min(small)})" if small else ""))

class Server:
    """`alive serve --port PORT --poll 1s [ARGS]` on loopback, started and stopped for real."""

    def __init__(self, home, port, *args, env=None):
        self.home, self.port, self.args, self.env = home, port, args, env or {}

    def __enter__(self):
        self.proc = subprocess.Popen([sys.executable, str(ALIVE), "serve", "--port", str(self.port), "--poll", "1s",
                                      *self.args], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
                                     env=dict(os.environ, ALIVE_HOME=str(self.home), **self.env))
        line = self.proc.stdout.readline()
        m = re.search(r"http://\S+/", line)
        if not m:
            raise cdp.CdpError(f"alive serve did not start: {line!r}")
        self.url = m.group(0)
        return self

    def __exit__(self, *exc):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(timeout=5)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def card_state(page, source):
    return page.js(f"(document.querySelector('#source-{source} [data-trigger]') || {{}}).dataset?.trigger || null")


def focused_trigger(page):
    """The source whose Trigger now button has the focus, or None."""
    return page.js("(function(){var a=document.activeElement;"
                   "return a && a.tagName==='BUTTON' && a.closest('form.trigger') ? a.closest('article').id : null})()")


def click(page, selector):
    """A real mouse click at the element's middle (DOM domain: works with JavaScript off too)."""
    root = page.call("DOM.getDocument")["root"]["nodeId"]
    node = page.call("DOM.querySelector", {"nodeId": root, "selector": selector})["nodeId"]
    if not node:
        raise cdp.CdpError(f"no element {selector}")
    page.call("DOM.scrollIntoViewIfNeeded", {"nodeId": node})
    quad = page.call("DOM.getBoxModel", {"nodeId": node})["model"]["content"]
    x, y = sum(quad[0::2]) / 4, sum(quad[1::2]) / 4
    for kind in ("mousePressed", "mouseReleased"):
        page.call("Input.dispatchMouseEvent", {"type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})


def keyboard_trigger(page, source):
    """Tab from the top of the page to the source's Trigger now (at most 300 presses), then Enter."""
    for presses in range(1, 301):
        page.key("Tab")
        if focused_trigger(page) == f"source-{source}":
            break
    else:
        return check(False, f"keyboard: Tab never reached the Trigger now of {source}")
    check(True, f"keyboard: {presses} Tab presses reach the Trigger now of {source}")
    since = page.mark()
    page.key("Enter")
    page.wait_for("Page.loadEventFired", since, 30)
    return True


def live_checks(browser, home, report, axe_js):
    port = free_port()
    with Server(home, port) as server:
        page = browser.page(1280, 900)
        page.goto(server.url)
        dom_checks(page.js("document.documentElement.outerHTML"), report, "live page", live=True)
        check(page.js("document.documentElement.classList.contains('js')") is True
              and not [e for e in page.console_errors() if "Content Security Policy" in e],
              "live page: its script runs under the server's Content-Security-Policy (no violation)")
        for label, (width, height, mobile) in SIZES.items():
            for dark in (False, True):
                p = browser.page(width, height, mobile, dark)
                p.goto(server.url)
                axe(p, axe_js, f"live {label} {'dark' if dark else 'light'}")
                p.close()

        # keyboard only: Tab to "Trigger now" of sales, Enter; queued, and the focus is back on it
        if keyboard_trigger(page, "sales"):
            check(page.js("location.hash") == "#trigger-sales" and focused_trigger(page) == "source-sales",
                  "after Enter the page is back with the focus on the same button")
            check(card_state(page, "sales") == "queued", "the sales card says its refresh is queued (not green)")
            check(page.js("!!document.querySelector('#source-sales [data-trigger] time[data-ago]')"),
                  "the queued refresh says when as an age the script moves")
            pills = page.js("document.querySelector('#badge .counts').textContent")
            check("pending" in pills, f"the header counts the pending triggers: {pills!r}")
        page.js("window.aliveMark = 42")
        r = alive(home, "triggers", timeout=300)
        say(f"alive triggers (the runner) exit {r.returncode}: {r.stdout.strip()[:300]}")
        try:
            page.wait_js("(document.querySelector('#source-sales [data-trigger]')||{}).dataset?.trigger==='refreshed'",
                         timeout=30)
            refreshed = True
        except cdp.CdpError:
            refreshed = False
        check(refreshed and page.js("window.aliveMark") == 42,
              f"without a reload the sales card went to {card_state(page, 'sales')!r} (want 'refreshed')")
        check(focused_trigger(page) == "source-sales", "the live update kept the focus on the button")
        billing = page.js("(document.querySelector('#source-billing [data-trigger]')||{}).textContent||''")
        check("login expired at vendor-portal" in billing, f"the billing card says why it was not refreshed: {billing!r}")
        page.screenshot(SHOTS / "dashboard-live-desktop.png", 1280)

        # the run log of one task, and the badges
        log = browser.page(1280, 900)
        log.goto(server.url + "task/sync-crm")
        runs = log.js("document.querySelectorAll('.runlog > li').length")
        tails = log.js("document.querySelectorAll('.runlog pre').length")
        check(runs >= 19 and tails >= 19, f"/task/sync-crm lists its runs ({runs}) with their output tails ({tails})")
        log.screenshot(SHOTS / "task-log-desktop.png", 1280)
        axe(log, axe_js, "task log desktop light")
        log.scheme(dark=True)
        axe(log, axe_js, "task log desktop dark")
        log.close()
        with urllib.request.urlopen(server.url + "badge.svg", timeout=10) as answer:
            svg = answer.read().decode()
        check(svg.startswith("<svg") and report["overall"] in svg, "/badge.svg is a badge of the overall color")
        issue19_live(browser, server, home, axe_js)

        # JavaScript off: a Reload link, nothing that refreshes by itself
        nojs = browser.page(390, 844, True)
        nojs.call("Emulation.setScriptExecutionDisabled", {"value": True})
        nojs.goto(server.url)
        root = nojs.call("DOM.getDocument")["root"]["nodeId"]
        reload_link = nojs.call("DOM.querySelector", {"nodeId": root, "selector": "noscript a.reload"})["nodeId"]
        check(bool(reload_link), "with JavaScript off the live page offers a Reload link")
        checked = nojs.call("DOM.querySelector", {"nodeId": root, "selector": "#checked"})["nodeId"]
        seen = nojs.call("DOM.getOuterHTML", {"nodeId": checked})["outerHTML"]
        check("snapshot from" in seen and not re.search(r">(just now|\d+ \w+ ago)<", seen),
              "with JavaScript off the header says it is a snapshot, and of when (no frozen \"live, just now\")")

        # the installed app: the service worker takes the page, for the day the server is gone
        sw_ready = page.js("navigator.serviceWorker.ready.then(() => true)", timeout=30)
        since = page.mark()
        page.call("Page.reload")
        page.wait_for("Page.loadEventFired", since, 30)
        controlled = page.js("!!navigator.serviceWorker.controller")
        check(sw_ready and controlled, "the service worker is installed and serves the page")
        manifest = page.js("fetch('/manifest.webmanifest').then(r => r.json()).then(m => m.icons.length)")
        check(manifest >= 3, f"the web app manifest lists its icons ({manifest})")

    # a form of an older page (the server restarted): back to the page, with a notice
    with Server(home, port):
        before = sorted(os.listdir(home / "triggers")) if (home / "triggers").exists() else []
        since = nojs.mark()
        click(nojs, "#source-sales form.trigger button")
        nojs.wait_for("Page.loadEventFired", since, 30)
        root = nojs.call("DOM.getDocument")["root"]["nodeId"]
        notice = nojs.call("DOM.querySelector", {"nodeId": root, "selector": "#notice"})["nodeId"]
        text = nojs.call("DOM.getOuterHTML", {"nodeId": notice})["outerHTML"] if notice else ""
        after = sorted(os.listdir(home / "triggers")) if (home / "triggers").exists() else []
        check("older page" in text and before == after,
              "a form from before a restart leads back to the page with a notice, and queues nothing")
        nojs.close()

    # the server is gone: the app still shows the last page, says so from the first paint, and how old it is
    since = page.mark()
    page.call("Page.reload")
    try:
        page.wait_for("Page.loadEventFired", since, 30)
        at_once = page.js("[document.documentElement.hasAttribute('data-cached'), "
                          "document.getElementById('live-state').textContent, !document.getElementById('offline').hidden, "
                          "document.querySelector('#source-sales form.trigger button').disabled]")
        offline = page.js("document.getElementById('offline').textContent")
    except cdp.CdpError as exc:
        at_once, offline = None, f"({exc})"
    check(at_once == [True, "offline", True, True],
          f"the saved page says offline at once, Trigger now off (saved, state, banner, button off: {at_once})")
    check(offline.startswith("Offline") and " as of " in offline and re.search(r"\((just now|\d+ \w+ ago)\)", offline),
          f"with the server gone the app shows the last page, the time of its data and its age: {offline!r}")
    page.screenshot(SHOTS / "dashboard-offline-desktop.png", 1280)
    page.goto(f"http://127.0.0.1:{port}/task/publish-dashboard")        # never opened: never saved
    unsaved = page.js("[!!document.getElementById('badge'), document.body.innerText]")
    check(not unsaved[0] and "was not saved" in unsaved[1],
          f"offline, a page never opened is an offline page, not the dashboard under its URL: {unsaved[1][:80]!r}")
    page.close()


def issue19_live(browser, server, home, axe_js):
    """Items 10-15 on the live page and the run log (the server up)."""
    from alive.write import heartbeat

    # 11: 105 s later the trigger's "refreshed" has moved on (the page's clock moved on, as a person's would)
    tab = browser.page(1280, 900)
    tab.goto(server.url)
    check(tab.js("!!document.querySelector('#source-sales [data-trigger] time[data-ago]')"),
          "the refreshed trigger says when as an age the script moves")
    tab.js("(function(){var real = Date.now; Date.now = function(){ return real.call(Date) + 105000; };})()")
    try:
        words = tab.wait_js("(function(){var t = document.querySelector('#source-sales [data-trigger]').textContent;"
                            " return /1 min ago/.test(t) && t;})()", timeout=10)
    except cdp.CdpError:
        words = tab.js("document.querySelector('#source-sales [data-trigger]').textContent")
    check("1 min ago" in words and "just now" not in words, f"105 s later the trigger says: {words!r}")
    tab.close()

    # 14: one request per poll, to the page itself; 304 while nothing changed; gzip; never /status.json
    page = browser.page(1280, 900)
    page.goto(server.url)
    # (the navigation itself went through the service worker: its timing shows no encoding)
    nav = page.js("fetch('/task/sync-crm', {cache: 'no-store'}).then(r => r.text()).then(() => (e => "
                  "[e.encodedBodySize, e.decodedBodySize])(performance.getEntriesByName(location.origin + "
                  "'/task/sync-crm').pop()))")
    check(0 < nav[0] < nav[1] / 3, f"the run log comes gzipped: {nav[0]} bytes for {nav[1]}")
    entries = "performance.getEntriesByType('resource').filter(e => e.initiatorType === 'fetch')" \
              ".map(e => [new URL(e.name).pathname + new URL(e.name).search, e.responseStatus, e.encodedBodySize, " \
              "e.decodedBodySize])"
    page.js("performance.setResourceTimingBufferSize(1000); performance.clearResourceTimings(); 0")
    time.sleep(5)
    quiet = page.js(entries)
    check(len(quiet) >= 3 and all(e[0] == "/" for e in quiet) and sum(e[1] == 200 for e in quiet) <= 1,
          f"5 s of polls (every 1 s) with nothing new: {len(quiet)} requests, each for the page itself, "
          f"statuses {sorted({e[1] for e in quiet})}")
    page.js("performance.clearResourceTimings(); window.aliveMark = 7")
    now = datetime.now(timezone.utc).replace(microsecond=0)
    heartbeat.write(home / "health", heartbeat.build("publish-dashboard", now, status="error", started_at=now,
                                                     completed_at=now, errors=[CHANGE]))
    try:
        page.wait_js(f"document.getElementById('task-publish-dashboard').textContent.includes('{CHANGE}')",
                     timeout=15)
        changed = page.js(entries)
    except cdp.CdpError:
        changed = None
    full = [e for e in changed or [] if e[1] == 200]
    check(bool(full) and len(full) <= 2 and all(0 < e[2] < e[3] for e in full) and page.js("window.aliveMark") == 7
          and not any(e[0] == "/status.json" for e in changed),
          f"a change came in {len(full)} full answer(s) of the page, gzipped "
          f"({', '.join(f'{e[2]} of {e[3]} bytes' for e in full)}), swapped in without a reload")

    # 12, 13: the network goes away: offline at once, with the time of the data; Trigger now off; and back
    page.call("Network.enable")
    conditions = {"latency": 0, "downloadThroughput": -1, "uploadThroughput": -1}
    page.call("Network.emulateNetworkConditions", {"offline": True, **conditions})
    try:
        said = page.wait_js("document.getElementById('live-state').textContent === 'offline' && "
                            "document.querySelector('#source-sales form.trigger button').disabled && "
                            "document.getElementById('offline').textContent", timeout=5)
    except cdp.CdpError as exc:
        said = f"({exc})"
    check(said.startswith("Offline") and " as of " in said, f"offline says offline, Trigger now off: {said!r}")
    page.call("Network.emulateNetworkConditions", {"offline": False, **conditions})
    try:
        back = page.wait_js("document.getElementById('live-state').textContent === 'live' && "
                            "!document.querySelector('#source-sales form.trigger button').disabled && "
                            "document.getElementById('offline').hidden", timeout=10)
    except cdp.CdpError:
        back = False
    check(back, "back online: live again, Trigger now on")
    page.close()

    # 13: Trigger now on a filtered page lands on the same filtered page
    shop = browser.page(1280, 900)
    shop.goto(server.url + "?tag=shop")
    since = shop.mark()
    click(shop, "#source-sales form.trigger button")             # sales: tags = ["shop"] in the demo
    shop.wait_for("Page.loadEventFired", since, 30)
    where = shop.js("location.pathname + location.search + location.hash")
    check(where == "/?tag=shop#trigger-sales", f"Trigger now on /?tag=shop comes back to it: {where}")
    shop.close()

    # 14: the run log is live; 15: it links the icons; the manifest's icons, one purpose each
    log = browser.page(1280, 900)
    log.goto(server.url + "task/sync-crm")
    runs = log.js("document.querySelectorAll('.runlog > li').length")
    log.js("window.aliveMark = 9")
    later = datetime.now(timezone.utc).replace(microsecond=0) + timedelta(seconds=1)
    heartbeat.write(home / "health", heartbeat.build("sync-crm", later, status="ok", started_at=later,
                                                     completed_at=later, summary="browser-check run"))
    try:
        log.wait_js(f"document.querySelectorAll('.runlog > li').length > {runs} || "
                    f"document.querySelector('.runlog').textContent.includes('browser-check run')", timeout=15)
        moved = log.js("window.aliveMark") == 9
    except cdp.CdpError:
        moved = False
    check(moved, "the run log page shows a new run without a reload")
    icon = log.js("(l => l && fetch(l.href).then(r => r.status))(document.querySelector('link[rel=icon]'))")
    check(icon == 200, f"/task/<id> links its icon (fetched: {icon})")
    purposes = log.js("fetch('/manifest.webmanifest').then(r => r.json()).then(m => m.icons.map(i => i.purpose))")
    check("any maskable" not in purposes and {"any", "maskable"} <= set(purposes),
          f"the manifest's icons have one purpose each: {purposes}")
    log.close()

    # 10: the run log of a task that never ran: a valid list (axe), no "Last 0 runs"
    never = browser.page(1280, 900)
    never.goto(server.url + "task/" + NEVER_RAN)
    text = never.js("document.getElementById('runs').innerText")
    check("Last 0 runs" not in text and "No run has reported yet" in text
          and not never.js("!!document.querySelector('ol.runlog > :not(li)')"),
          f"/task/{NEVER_RAN} says no run yet, with no list of nothing: {text!r}")
    axe(never, axe_js, "task log, never ran")
    never.close()

    # 15: run cells on a phone
    phone = browser.page(390, 844, True)
    phone.goto(server.url)
    phone.js("document.getElementById('health').open = true")
    cells_are_touch_targets(phone, "live page (phone)", ".strip li")
    phone.close()


def logged_in_page(browser, server, token):
    """A page logged in with the token through the login form, under its service worker."""
    page = browser.page(1280, 900)
    page.goto(server.url + "login")
    since = page.mark()
    page.js(f"document.querySelector('input[name=token]').value = {json.dumps(token)}; "
            "document.querySelector('form').submit(); true")
    page.wait_for("Page.loadEventFired", since, 30)
    page.js("navigator.serviceWorker.ready.then(() => true)", timeout=30)
    since = page.mark()
    page.call("Page.reload")
    page.wait_for("Page.loadEventFired", since, 30)
    return page


def offline_dashboard(page, url):
    """With the server gone: what opening the dashboard shows -> (the dashboard?, its text)."""
    try:
        page.goto(url, timeout=15)
        return page.js("[!!document.getElementById('badge'), document.body ? document.body.innerText : '']")
    except cdp.CdpError as exc:
        return [False, f"({exc})"]


def logout_checks(browser, home):
    """--allow-remote: after a logout, or a login form in place of the page (a new token),
    the device shows nothing of the fleet offline (issue 19 review, item 1)."""
    port, token, other = free_port(), "browser-check-token-0123456789", "browser-check-new-token-987654321"
    remote = ("--allow-remote",)                # the demo's fleet.toml: serve.token_env = "ALIVE_SERVE_TOKEN"
    with Server(home, port, *remote, env={"ALIVE_SERVE_TOKEN": token}) as server:
        page = logged_in_page(browser, server, token)
        check(page.js("!!navigator.serviceWorker.controller && !!document.getElementById('badge')"),
              "logged in (--allow-remote): the dashboard, under the service worker")
    shown = offline_dashboard(page, server.url)
    check(shown[0], "logged in, the server gone: the saved dashboard is shown (what a logout must undo)")
    with Server(home, port, *remote, env={"ALIVE_SERVE_TOKEN": token}):
        page.goto(server.url)
        since = page.mark()
        click(page, "form.logout button")
        page.wait_for("Page.loadEventFired", since, 30)
        check(page.js("location.pathname") == "/login", "Log out leads to the login form")
    shown = offline_dashboard(page, server.url)
    check(not shown[0], f"after Log out, the server gone: the dashboard is not shown ({shown[1][:80]!r})")
    page.close()
    with Server(home, port, *remote, env={"ALIVE_SERVE_TOKEN": token}) as server:
        page = logged_in_page(browser, server, token)
        check(page.js("caches.match('/').then(r => !!r)"), "logged in again: the dashboard is saved on the device")
    with Server(home, port, *remote, env={"ALIVE_SERVE_TOKEN": other}):     # a new token: every browser out
        page.goto(server.url)
        check(bool(page.js("!!document.querySelector('input[name=token]')")), "a new token: the login form")
    shown = offline_dashboard(page, server.url)
    check(not shown[0], f"after the login form, the server gone: the dashboard is not shown ({shown[1][:80]!r})")
    page.close()


def print_axe_table():
    if not axe_counts:
        return
    say("axe-core " + AXE_VERSION + " violations (nodes) by page, width and scheme:")
    for where, c in axe_counts.items():
        say(f"  {where:<28} critical {c['critical']}  serious {c['serious']}  moderate {c['moderate']}  "
            f"minor {c['minor']}")


def main():
    started = time.monotonic()
    exe = find_browser()
    if not exe:
        say(("SKIPPED" if OPTIONAL else "FAIL") + ": chromium is not installed and could not be installed here "
            "(install it: apt-get install chromium); nothing was checked")
        return 0 if OPTIONAL else 1
    say(f"browser: {exe}")
    axe_js, why = load_axe()
    if axe_js is None:
        say(f"axe-core {AXE_VERSION} cannot be had: {why}; the accessibility counts are "
            + ("skipped" if OPTIONAL else "a failure"))
        if not OPTIONAL:
            failures.append("axe-core")
    home = Path(tempfile.mkdtemp(prefix="alive-browser-check-"))
    browser = cdp.Browser(exe)
    try:
        report = build_fleet(home)
        static_page(browser, home, report, axe_js)
        live_checks(browser, home, report, axe_js)
        logout_checks(browser, home)
    except cdp.CdpError as exc:
        check(False, f"the browser: {exc}")
    finally:
        browser.close()
        shutil.rmtree(home, ignore_errors=True)
    print_axe_table()
    say(f"{'all checks passed' if not failures else str(len(failures)) + ' check(s) failed'} "
        f"in {time.monotonic() - started:.0f}s")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
