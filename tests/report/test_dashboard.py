"""The dashboard a person keeps open (issue 12), without a browser: what the page says and
how (render_html, report's words), the badges, the app's files, the queue it counts.
The real browser's part is `make browser-check`."""
import base64
import hashlib
import json
import os
import re
import shutil
import struct
import subprocess
import time
import zlib
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive
from helpers import NOW, beat, fleet, item, view
from test_kv import TOKEN as KV_TOKEN
from test_kv import store  # noqa: F401  (the fixture: a Workers KV stand-in on 127.0.0.1)

from alive.config import registry
from alive.correct import queue
from alive.report import badges, html_kit, render_html, render_task, report
from alive.serve import pwa
from alive.base.errors import UsageError

S = timedelta(seconds=1)
SOURCE = '[sources.track]\npath = "track.json"\nmax_age = "15m"\n'


@pytest.fixture(autouse=True)
def utc(local_zone):
    """The local zone is UTC in these tests (the page names it: "23:00 UTC")."""
    local_zone("UTC")


# ---- one time language ------------------------------------------------------------------

@pytest.mark.parametrize("seconds, words", [
    (0, "0 s"), (59, "59 s"), (60, "1 min"), (119, "1 min"), (3599, "59 min"), (3600, "1 h"), (3660, "1 h 1 min"),
    (9 * 3600 + 59 * 60, "9 h 59 min"), (10 * 3600 + 60, "10 h"), (3 * 86400 - 1, "71 h"), (3 * 86400, "3 d"),
    (3 * 86400 + 3600, "3 d 1 h"), (10 * 86400 + 3600, "10 d"), (-90, "1 min")])
def test_span_says_lengths_of_time_in_one_style(seconds, words):
    assert report.span(seconds) == words


@pytest.mark.parametrize("seconds, words", [(0, "under 1 s"), (0.999, "under 1 s"), (1, "1 s"), (41.5, "41 s")])
def test_a_runs_duration_is_never_zero_seconds(seconds, words):
    assert html_kit.took(seconds) == words


@pytest.mark.parametrize("seconds, words", [(0, "just now"), (4.9, "just now"), (5, "5 s ago"), (720, "12 min ago"),
                                            (-4, "just now"), (-300, "in 5 min"), (3 * 3600, "3 h ago")])
def test_ages_read_as_so_long_ago(seconds, words):
    assert report.ago_words(seconds) == words


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed: the page's JavaScript is not run here")
def test_the_pages_script_says_ages_in_the_same_words_as_python():
    functions = re.search(r"function span\(s\).*?\nfunction ago\(s\).*?\n", render_html.SCRIPT, re.S).group(0)
    values = [0, 4, 5, 59, 60, 3599, 3600, 3660, 35999, 36060, 259199, 259200, 262800, 867600, -300, 123456789]
    program = functions + f"console.log(JSON.stringify({json.dumps(values)}.map(ago)));"
    out = subprocess.run(["node", "-e", program], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout) == [report.ago_words(v) for v in values]


def test_times_are_time_elements_with_the_zone_and_ages_the_script_keeps_current():
    # an age is written as its absolute time: the script turns it into "12 min ago" and keeps
    # it moving; without the script it never freezes into a wrong "just now" (issue 19, item 11)
    tag = render_html.time_tag("2026-05-02T22:48:00Z", NOW)
    assert tag == '<time datetime="2026-05-02T22:48:00Z" title="2026-05-02 22:48 UTC" data-ago>22:48 UTC</time>'
    absolute = render_html.time_tag("2026-05-01T07:05:00Z", NOW, relative=False)
    assert absolute == '<time datetime="2026-05-01T07:05:00Z" title="2026-05-01 07:05 UTC">Fri 07:05 UTC</time>'
    assert render_html.time_tag("not a time", NOW) == "not a time"


def test_reasons_on_the_page_use_the_pages_words_but_never_touch_a_jobs_text():
    now = NOW
    assert html_kit.reason_html("no heartbeat for 3h (max gap 1h30m)", now) == \
        "no heartbeat for 3 h (max gap 1 h 30 min)"
    assert html_kit.reason_html("data is 2d3h old (max age 15m)", now) == "data is 51 h old (max age 15 min)"
    done = html_kit.reason_html("complete: finished for good at 2026-04-30T08:00:00Z", now)
    assert done.startswith("complete: finished for good at <time datetime=\"2026-04-30T08:00:00Z\"")
    # a job's own words after alive's: "5m" and the time stay exactly as the job wrote them
    assert html_kit.reason_html("latest run failed: disk 5m behind, since 2026-04-30T08:00:00Z", now) == \
        "latest run failed: disk 5m behind, since 2026-04-30T08:00:00Z"
    assert html_kit.reason_html("warning: <b>5m</b>", now) == "warning: &lt;b&gt;5m&lt;/b&gt;"
    assert html_kit.reason_html("2 failed refreshes in a row (alert after 3): took 30s", now) == \
        "2 failed refreshes in a row (alert after 3): took 30s"


def test_the_static_report_says_how_old_it_is(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    page = render_html.render(view(home))
    assert ('<p class="checked" id="checked">snapshot from 2026-05-02 23:00 UTC<span class="when-js">, '
            '<time datetime="2026-05-02T23:00:00Z" title="2026-05-02 23:00 UTC" data-ago>23:00 UTC</time>'
            '</span></p>') in page
    assert "html:not(.js) .when-js{display:none}" in render_html.CSS
    assert "Finished</dt><dd><time datetime=\"2026-05-02T22:55:00Z\"" in page


# ---- live without a meta refresh ----------------------------------------------------------------

def test_the_live_page_polls_with_its_script_and_offers_a_reload_link_without_it(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    page = render_html.render(view(home), csrf="tok", live=render_html.Live(15, 'W/"abc"'))
    assert 'http-equiv="refresh"' not in page
    assert '<html lang="en" data-poll="15" data-etag="W/&quot;abc&quot;" data-sw>' in page
    assert '<noscript>· <a class="reload" href="/">Reload</a>' in page
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page
    assert page.count("<script") == 1 and f"<script>{render_html.SCRIPT}</script>" in page
    # the parts the script swaps in place, each with a stable id
    for live_id in ("badge", "priority-slot", "task-grid", "health-counts", "invalid-slot"):
        assert re.search(rf'id="{live_id}"[^>]* data-live', page), live_id


def test_the_script_allowed_by_hash_is_the_one_on_the_page(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    page = render_html.render(view(home))
    [script] = re.findall(r"<script>(.*?)</script>", page, re.S)
    digest = "sha256-" + base64.b64encode(hashlib.sha256(script.encode()).digest()).decode()
    assert digest == html_kit.SCRIPT_HASH
    # the static file brings its own policy: that script, styles, nothing fetched, no form sent
    assert (f'<meta http-equiv="Content-Security-Policy" content="default-src &#x27;none&#x27;; style-src '
            f'&#x27;unsafe-inline&#x27;; script-src &#x27;{digest}&#x27;; form-action &#x27;none&#x27;">') in page


def test_a_notice_is_said_only_from_the_fixed_texts(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    v = view(home)
    page = render_html.render(v, csrf="tok", live=render_html.Live(15), notice="stale")
    assert '<p class="notice" id="notice" role="alert">That button came from an older page' in page
    assert 'id="notice"' not in render_html.render(v, csrf="tok", live=render_html.Live(15), notice="<b>x</b>")


# ---- badge, sections, strip -----------------------------------------------------------------------

def test_the_header_never_shows_a_zero_and_counts_pending_and_running(home, tmp_path):
    reg = fleet(home, SOURCE + '[tasks.etl]\nmax_gap = "1h"\n')
    beat(home, "etl", NOW - timedelta(minutes=5))
    (home / "track.json").write_text(json.dumps({"captured_at": "2026-05-02T22:59:00Z"}))
    page = render_html.render(view(home, reg))
    pills = re.search(r'<ul class="counts"[^>]*>(.*?)</ul>', page).group(1)
    assert re.findall(r'<li class="count">([^<]*)</li>', pills) == ["3 items", "1 RED"]   # alive-watchdog: never ran
    queue.enqueue(home, reg, "track", "cli", NOW - 20 * S)
    queue.enqueue(home, reg, "track", "cli", NOW - 10 * S)
    (home / "state" / "running").mkdir(parents=True)
    (home / "state" / "running" / "etl.json").write_text(json.dumps(
        {"task_id": "etl", "pid": os.getpid(), "started_at": "2026-05-02T22:59:00Z", "host": os.uname().nodename}))
    v = view(home, reg)
    assert v.pending_count == 2 and v.running_count == 1
    assert render_html.badge_pills(v) == ["3 items", "1 RED", "1 running now", "2 triggers pending"]


def test_grey_items_are_counted_as_paused_or_waiting(home):
    reg = fleet(home, '[tasks.new]\nschedule = "daily 07:00"\n[tasks.etl]\n')
    beat(home, "etl", NOW - timedelta(minutes=5))
    (home / "state").mkdir()
    (home / "state" / "pauses.json").write_text(json.dumps({"task:etl": {"since": "2026-05-02T22:00:00Z"}}))
    v = view(home, reg, now=datetime.now(timezone.utc))    # registered now: its first expected run is ahead
    assert [i.color for i in v.result.items] == ["GREY", "GREY"]
    assert render_html.badge_pills(v) == ["2 items", "1 paused", "1 waiting"]
    assert report.badge_counts(v)[-2:] == ["1 paused", "1 waiting"]


def test_system_health_opens_for_yellow_too(home):
    beat(home, "etl", NOW - timedelta(minutes=5), status="partial")
    page = render_html.render(view(home))
    assert '<details class="section" id="health" open>' in page and 'id="priority"' not in page


def test_each_run_of_the_strip_is_focusable_and_says_time_status_duration_exit_code_and_summary(home):
    for n, status in enumerate(("ok", "error")):
        beat(home, "etl", NOW - timedelta(hours=2 - n), status=status, took=41, exit_code=n, summary=f"run {n}")
    v = view(home)
    static = render_html.strip("etl", v.runs["etl"], v)
    assert static.startswith('<ol class="strip" aria-label="etl: last 2 runs, oldest first">')
    assert static.count('<li class="s-none" aria-hidden="true"></li>') == 18
    assert ('<li class="s-error" tabindex="0"><span class="tip">21:59 UTC · error · 41 s · exit 1 · run 1'
            '</span></li>') in static
    live = render_html.strip("etl", v.runs["etl"], v, live=True)
    assert ('<li class="s-ok"><a href="/task/etl#run-2026-05-02_etl_2059.json"><span class="tip">20:59 UTC · ok · '
            '41 s · exit 0 · run 0</span></a></li>') in live


def test_a_run_in_progress_is_said_once_on_its_card(home):
    """Issue 19: a card said "Running since 10 min ago" beside "run in progress for 11 min".
    As in check's table, the card says the run once: a reason that says it (hung) replaces the fact."""
    fleet(home, '[tasks.etl]\nmax_runtime = "1h"\n[tasks.sync]\nmax_runtime = "3h"\n')
    for task in ("etl", "sync"):
        beat(home, task, NOW - timedelta(hours=3))
    (home / "state" / "running").mkdir(parents=True)
    for task in ("etl", "sync"):
        (home / "state" / "running" / f"{task}.json").write_text(json.dumps(
            {"pid": os.getpid(), "task_id": task, "started_at": "2026-05-02T21:00:00Z"}))
    page = render_html.render(view(home))
    hung = page[page.index('id="task-etl"'):page.index("</article>", page.index('id="task-etl"'))]
    running = page[page.index('id="task-sync"'):page.index("</article>", page.index('id="task-sync"'))]
    assert "hung: run in progress for 2 h" in hung and "Running since" not in hung
    assert "Running since" in running and "in progress for" not in running


# ---- a trigger's whole life on the card ----------------------------------------------------------------

def runner_state(home, run=None, results=None, pid=None):
    """state/triggers.json and the runner's lock file, as the trigger runner leaves them."""
    state = home / "state"
    state.mkdir(exist_ok=True)
    doc = {"backend": "spool"} | ({"run": run} if run else {}) | ({"results": results} if results else {})
    (state / "triggers.json").write_text(json.dumps(doc))
    (state / "triggers.lock").write_text(f"{pid or os.getpid()}\n")


def life(home, reg, now=NOW):
    v = view(home, reg, now=now)
    return report.trigger_life(item(v, "track"), v)


def test_a_queued_trigger_is_queued_not_green(home):
    reg = fleet(home, SOURCE)
    queue.enqueue(home, reg, "track", "serve/form", NOW - 20 * S)
    assert life(home, reg) == ("queued", "refresh queued 20 s ago, waiting for the trigger runner")
    page = render_html.render(view(home, reg))
    assert ('<p class="trig t-queued" data-trigger="queued">refresh queued <time datetime="2026-05-02T22:59:40Z" '
            'title="2026-05-02 22:59 UTC" data-ago>22:59 UTC</time>, waiting') in page


def test_a_trigger_the_runner_took_is_running_while_its_runner_lives(home):
    reg = fleet(home, SOURCE)
    path = queue.enqueue(home, reg, "track", "serve/form", NOW - 20 * S)
    run = {"id": "r1", "taken_at": "2026-05-02T22:59:50Z", "ran": False, "started": ["track"],
           "requests": [{"ref": path.name, "source": "track", "attempt": 1}]}
    runner_state(home, run)
    v = view(home, reg)
    assert report.trigger_life(item(v, "track"), v) == ("running", "refreshing now (taken 10 s ago)")
    assert v.pending_count == 0 and v.running_count == 1          # taken: not counted as pending too
    runner_state(home, dict(run, started=[]))
    assert life(home, reg)[0] == "running"
    dead = subprocess.run(["true"])                                  # a pid that is gone
    runner_state(home, run, pid=99999999 if dead.returncode == 0 else None)
    assert life(home, reg)[0] == "queued"                            # a dead runner: the request waits again


def test_how_the_newest_trigger_ended_is_said_for_an_hour(home):
    reg = fleet(home, '[probes.vendor-portal]\ncommand = ["true"]\n' + SOURCE + 'probe = "vendor-portal"\n')
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text(json.dumps(
        {"vendor-portal": {"state": "expired", "checked_at": "2026-05-02T22:58:00Z"}}))
    skipped = {"at": "2026-05-02T22:59:00Z", "result": "skipped", "error": None,
               "reason": "probe vendor-portal says expired: a person must re-authenticate"}
    runner_state(home, results={"track": skipped})
    state, words = life(home, reg)
    assert state == "refused" and words.startswith("not refreshed: login expired at vendor-portal") \
        and words.endswith("(1 min ago)")
    runner_state(home, results={"track": dict(skipped, result="failed", error="exit 2")})
    assert life(home, reg) == ("failed", "refresh by a trigger failed 1 min ago: exit 2")
    runner_state(home, results={"track": dict(skipped, result="refreshed")})
    assert life(home, reg) == ("refreshed", "refreshed 1 min ago by a trigger")
    assert life(home, reg, now=NOW + timedelta(seconds=3600 - 61))[0] == "refreshed"      # 1 s before the hour
    assert life(home, reg, now=NOW + timedelta(seconds=3600 - 60)) is not None              # at it
    assert life(home, reg, now=NOW + timedelta(seconds=3600 - 59)) is None                  # 1 s after


def test_the_runner_notes_how_each_trigger_ended(home):
    (home / "data.json").write_text("{}")
    reg = fleet(home, '[probes.portal]\ncommand = ["sh", "-c", "echo expired"]\n'
                      '[sources.bills]\npath = "bills.json"\nmax_age = "1h"\nproducer = ["true"]\nprobe = "portal"\n')
    queue.enqueue(home, reg, "bills", "cli", datetime.now(timezone.utc))
    r = run_alive("triggers", home=home)
    assert r.returncode == 1, r.stdout + r.stderr
    results = json.loads((home / "state" / "triggers.json").read_text())["results"]
    assert results["bills"]["result"] == "skipped" and "expired" in results["bills"]["reason"]


# ---- tags ---------------------------------------------------------------------------------------------

def test_tags_are_read_from_fleet_toml_and_checked(home):
    reg = fleet(home, '[tasks.etl]\ntags = ["finance", "daily", "finance"]\n' + SOURCE + 'tags = ["finance"]\n')
    assert reg.tasks["etl"].tags == ("finance", "daily") and reg.sources["track"].tags == ("finance",)
    for bad in ('"finance"', '["a b"]', '["-x"]', "[1]", '["' + "x" * 65 + '"]'):
        (home / "fleet.toml").write_text(f"[tasks.etl]\ntags = {bad}\n")
        with pytest.raises(UsageError, match="tags"):
            registry.load(home / "fleet.toml", home)


def test_the_tag_filter_shows_only_the_tagged_items(home):
    reg = fleet(home, '[tasks.etl]\ntags = ["finance"]\n[tasks.other]\n')
    beat(home, "etl", NOW - timedelta(minutes=5))
    beat(home, "other", NOW - timedelta(minutes=5))
    v = view(home, reg)
    page = render_html.render(v, tag="finance")
    assert 'data-item="task:etl"' in page and 'data-item="task:other"' not in page
    assert '<a href="?tag=finance" aria-current=page>finance</a>' in page and '<a href="?">all</a>' in page
    full = render_html.render(v)
    assert 'data-item="task:other"' in full and 'data-tags="finance"' in full
    assert '<nav class="tags"' not in render_html.render(view(home, fleet(home, "[tasks.etl]\n")))


# ---- the run log of one task ----------------------------------------------------------------------

def test_the_run_log_shows_the_last_50_runs_newest_first_with_their_output_escaped(home):
    for n in range(60):
        beat(home, "etl", NOW - timedelta(hours=60 - n), status="error" if n == 59 else "ok", exit_code=n % 3,
             output_tail=f"line {n}\n<script>alert({n})</script>", summary=f"run {n}")
    reg = fleet(home)
    found = report.task_log(home, reg, "etl", NOW)
    item_, runs = found
    assert len(runs) == 50 and runs[0]["summary"] == "run 59" and runs[-1]["summary"] == "run 10"
    page = render_task.task_page("etl", item_, runs, NOW)
    assert page.count('<li class="run"') == 50 and "<script>alert" not in page
    assert "&lt;script&gt;alert(59)&lt;/script&gt;" in page and "exit 2" in page
    assert '<h1 class="badge">' in page and 'id="run-2026-05-02_etl_2159.json"' in page
    assert report.task_log(home, reg, "nope", NOW) is None
    assert report.task_log(home, reg, "../etl", NOW) is None


# ---- badges -----------------------------------------------------------------------------------------

def test_a_badge_is_a_shields_style_svg_in_the_items_color_with_its_name_escaped():
    svg = badges.svg("alive", "RED")
    assert svg.startswith('<svg xmlns="http://www.w3.org/2000/svg"') and 'fill="#cf222e"' in svg
    assert ">alive</text>" in svg and ">RED</text>" in svg and 'aria-label="alive: RED"' in svg
    assert ">paused</text>" in badges.svg("x", "GREY")
    hostile = badges.svg('a<b>&"c', "GREEN")
    assert "<b>" not in hostile and "a&lt;b&gt;&amp;" in hostile
    assert badges.text_width("WWW") > badges.text_width("iii")


def test_the_static_report_writes_its_badges_and_rewrites_only_what_changed(home):
    fleet(home, SOURCE)
    beat(home, "etl", datetime.now(timezone.utc))
    out = home / "site" / "index.html"
    assert run_alive("report", "--format", "html", "--out", out, home=home).returncode == 0
    site = home / "site"
    names = sorted(p.name for p in (site / "badge").iterdir())
    assert names == ["alive-watchdog.svg", "etl.svg", "source.track.svg"]
    assert ">RED</text>" in (site / "badge.svg").read_text() and ">GREEN</text>" in (site / "badge" / "etl.svg").read_text()
    before = (site / "badge" / "etl.svg").stat().st_mtime_ns
    time.sleep(0.05)
    assert run_alive("report", "--format", "html", "--out", out, home=home).returncode == 0
    assert (site / "badge" / "etl.svg").stat().st_mtime_ns == before


# ---- the app: manifest and icons ------------------------------------------------------------------------

def test_the_icon_is_a_valid_png_of_its_size():
    data = pwa.icon_png(192, maskable=True)
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, chunks = 8, {}
    while pos < len(data):
        length, kind = struct.unpack("!I4s", data[pos:pos + 8])
        body = data[pos + 8:pos + 8 + length]
        assert struct.unpack("!I", data[pos + 8 + length:pos + 12 + length])[0] == zlib.crc32(kind + body)
        chunks[kind] = body
        pos += 12 + length
    width, height, depth, color = struct.unpack("!IIBB", chunks[b"IHDR"][:10])
    assert (width, height, depth, color) == (192, 192, 8, 2)
    raw = zlib.decompress(chunks[b"IDAT"])
    assert len(raw) == 192 * (1 + 3 * 192)
    middle = 96 * (1 + 3 * 192) + 1 + 3 * 96
    assert raw[middle:middle + 3] == b"\xff\xff\xff" and raw[1:4] == bytes(pwa.GREEN)   # white dot, green corner


def test_the_manifest_makes_an_installable_app():
    doc = json.loads(pwa.manifest())
    assert doc["start_url"] == "/" and doc["display"] == "standalone" and doc["short_name"] == "alive"
    assert {i["sizes"] for i in doc["icons"]} == {"any", "192x192", "512x512"}
    assert len(doc["icons"]) == 5
    assert "fetch" in pwa.SERVICE_WORKER and 'req.mode !== "navigate"' in pwa.SERVICE_WORKER


# ---- the queue the header counts: spool and http-kv -------------------------------------------------------

def kv_fleet(home, url):
    return fleet(home, SOURCE + f'[triggers]\nbackend = "http-kv"\n[triggers.http_kv]\nurl = "{url}"\n'
                                f'token_env = "ALIVE_KV_TOKEN"\n')


def test_pending_is_read_from_the_kv_listing(home, store, monkeypatch):
    monkeypatch.setenv("ALIVE_KV_TOKEN", KV_TOKEN)
    reg = kv_fleet(home, store.url)
    queue.enqueue(home, reg, "track", "serve/form", NOW - 20 * S)
    queue.enqueue(home, reg, "track", "cli", NOW - 10 * S)
    store.put("trigger:unknown:20260502T225900Z.aa", {})          # not a registered source: not counted
    requests, problem = queue.pending_requests(home, reg)
    assert problem is None and [r["requested_at"] for r in requests] == ["2026-05-02T22:59:40Z",
                                                                         "2026-05-02T22:59:50Z"]
    assert all(r["ref"].startswith("trigger:track:") for r in requests)
    assert not store.requests("GET") or all("/keys?" in path for _, path, _ in store.requests("GET"))
    v = view(home, reg)
    assert v.pending_count == 2 and report.trigger_life(item(v, "track"), v)[0] == "queued"


def test_a_kv_store_that_cannot_be_listed_is_said_never_zero(home, store, monkeypatch):
    monkeypatch.setenv("ALIVE_KV_TOKEN", "wrong-token-value")
    reg = kv_fleet(home, store.url)
    v = view(home, reg)
    assert v.pending_count == 0 and "the trigger queue cannot be read" in v.pending_problem
    assert "wrong-token-value" not in v.pending_problem
    assert "pending triggers unknown" in render_html.badge_pills(v)
    assert 'class="lasterr" role="status">the trigger queue cannot be read' in render_html.render(v)


# ---- issue 19: the run log of a task that never ran, touch targets, icons -----------------------------

def test_the_run_log_of_a_task_that_never_ran_is_a_valid_list_and_says_so(home):
    page = render_task.task_page("etl", None, [], NOW)
    runlog = re.search(r'<ol class="runlog">(.*?)</ol>', page, re.S)
    assert runlog is None or "<p" not in runlog.group(1)           # axe `list`: an <ol> holds <li> only
    assert "Last 0 runs" not in page and "No run has reported yet." in page


def test_the_run_log_links_the_icons_like_the_dashboard():
    page = render_task.task_page("etl", None, [], NOW, live=render_html.Live(15, 'W/"x"'))
    assert '<link rel="icon" href="/icon.svg" type="image/svg+xml">' in page     # no favicon 404
    assert '<link rel="manifest" href="/manifest.webmanifest">' in page


def test_run_cells_are_touch_targets_of_at_least_24_px():
    # WCAG 2.2 2.5.8 (axe `target-size`): 24x24 CSS px. 10 cells a row fit a 390 px phone's card.
    css = render_html.CSS
    assert ".strip{display:grid;grid-template-columns:repeat(10,minmax(24px,1fr))" in css
    assert re.search(r"\.strip li\{[^}]*height:24px", css)


def png_pixels(data):
    """(width, height, color type, rows of bytes) of a PNG with filter 0 on every row."""
    pos, chunks = 8, {}
    while pos < len(data):
        length, kind = struct.unpack("!I4s", data[pos:pos + 8])
        chunks[kind] = data[pos + 8:pos + 8 + length]
        pos += 12 + length
    width, height, _, color = struct.unpack("!IIBB", chunks[b"IHDR"][:10])
    channels = 4 if color == 6 else 3
    raw = zlib.decompress(chunks[b"IDAT"])
    stride = 1 + channels * width
    return width, height, color, [raw[y * stride + 1:(y + 1) * stride] for y in range(height)]


def test_the_manifest_has_separate_any_and_maskable_icons():
    # W3C manifest: purpose is a set of "any", "maskable", "monochrome"; Chrome warns on "any maskable"
    # (one image cannot be both: a maskable one is full-bleed, cropped by the platform).
    doc = json.loads(pwa.manifest())
    purposes = [i.get("purpose", "any") for i in doc["icons"]]
    assert all(" " not in p for p in purposes) and {"any", "maskable"} <= set(purposes)
    for icon in doc["icons"]:
        if icon["type"] == "image/png":
            assert icon["src"] in serve_app_files(), icon["src"]
    width, _, color, rows = png_pixels(pwa.icon_png(192, maskable=False))
    assert color == 6 and rows[0][3] == 0 and rows[96][96 * 4 + 3] == 255     # "any": see-through corners
    _, _, color, rows = png_pixels(pwa.icon_png(192, maskable=True))
    assert rows[0][:3] == bytes(pwa.GREEN)                                     # maskable: full bleed


def serve_app_files():
    from alive.serve import handler

    return handler.APP_FILES


# ---- issue 19, item 11: every age moves or says its absolute time ---------------------------------------

def frozen_words(page):
    """Ages written as words into the page (outside the script): they would freeze."""
    body = page.split("<script>")[0]
    return re.findall(r"just now|\d+ (?:s|min|h|d) ago|in \d+ (?:s|min|h|d)\b", re.sub(r"<[^>]+>", " ", body))


def test_no_age_is_written_as_words_that_would_freeze(home):
    reg = fleet(home, '[probes.vendor-portal]\ncommand = ["true"]\n' + SOURCE)
    beat(home, "etl", NOW - timedelta(seconds=3))
    (home / "track.json").write_text("{}")
    for results in ({"track": {"at": "2026-05-02T22:59:58Z", "result": "refreshed"}},
                    {"track": {"at": "2026-05-02T22:59:58Z", "result": "failed", "error": "exit 2"}},
                    {"track": {"at": "2026-05-02T22:59:58Z", "result": "skipped", "reason": "no"}}):
        runner_state(home, results=results)
        v = view(home, reg)
        page = render_html.render(v)
        assert frozen_words(page) == [], results
        live = render_html.render(v, csrf="t", live=render_html.Live(15))
        assert frozen_words(live) == [], results
        assert '<time datetime="2026-05-02T22:59:58Z" title="2026-05-02 22:59 UTC" data-ago>' in page
    path = queue.enqueue(home, reg, "track", "serve/form", NOW - 2 * S)
    assert frozen_words(render_html.render(view(home, reg))) == []
    runner_state(home, {"id": "r1", "taken_at": "2026-05-02T22:59:58Z", "started": ["track"],
                        "requests": [{"ref": path.name, "source": "track", "attempt": 1}]})
    page = render_html.render(view(home, reg))
    assert "refreshing now (taken <time datetime=\"2026-05-02T22:59:58Z\"" in page and frozen_words(page) == []
    log = render_task.task_page("etl", item(view(home, reg), "etl"), report.task_log(home, reg, "etl", NOW)[1], NOW)
    assert frozen_words(log) == []


def test_the_snapshot_line_names_its_date_so_a_day_old_file_does_not_read_as_today(home):
    """Without the script nothing updates: "snapshot from 23:00 UTC" on a file opened the
    next day would read as today's, so the line names the date (the zone as before)."""
    beat(home, "etl", NOW - timedelta(minutes=5))
    for page in (render_html.render(view(home)), render_html.render(view(home), csrf="t", live=render_html.Live(15))):
        header = re.search(r'<p class="checked" id="checked">(.*?)</p>', page, re.S).group(1)
        nojs = re.sub(r"<[^>]+>", "", re.sub(r'<span class="when-js">.*?</time></span>', "", header))
        assert nojs.startswith("snapshot from 2026-05-02 23:00 UTC"), nojs


def test_without_javascript_the_live_header_says_snapshot_not_live(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    page = render_html.render(view(home), csrf="t", live=render_html.Live(15))
    header = re.search(r'<p class="checked" id="checked">(.*?)</p>', page, re.S).group(1)
    nojs = re.sub(r'<span class="when-js">.*?</time></span>', "", header)     # what shows with the script off
    assert "snapshot from 2026-05-02 23:00 UTC" in nojs and "live" not in re.sub(r"<[^>]+>", "", nojs)
    assert '<span class="when-js"><span id="live-state">live</span>, updated <time' in header



# ---- issue 19, item 12: offline says offline ------------------------------------------------------------

SW_HARNESS = r"""
// pwa.SERVICE_WORKER run by node against a Cache Storage stand-in and a network that is down.
const saved = new Map(), handlers = {};
globalThis.self = {addEventListener: (kind, fn) => { handlers[kind] = fn; }, skipWaiting() {},
                   clients: {claim: async () => {}}};
const store = {match: async (url) => saved.get(url)?.clone(), put: async (url, res) => { saved.set(url, res); }};
globalThis.caches = {open: async () => store, keys: async () => [], delete: async () => true};
globalThis.fetch = async () => { throw new TypeError("Failed to fetch"); };
eval(SW);
async function navigate(url) {
  let answer;
  handlers.fetch({request: {method: "GET", mode: "navigate", url}, respondWith: (p) => { answer = p; }});
  const res = await answer;
  return {status: res.status, type: res.headers.get("Content-Type"), body: await res.text()};
}
(async () => {
  const page = '<!doctype html>\n<html lang="en" data-poll="15" data-sw>\n<body>the dashboard</body></html>';
  saved.set("http://127.0.0.1:8765/", new Response(page, {headers: {"Content-Type": "text/html; charset=utf-8",
                                                                     "Content-Encoding": "gzip"}}));
  const out = {};
  for (const path of ["/", "/?tag=shop", "/task/etl"]) out[path] = await navigate("http://127.0.0.1:8765" + path);
  console.log(JSON.stringify(out));
})();
"""


def test_offline_the_saved_page_is_marked_and_an_unsaved_page_is_never_the_dashboard(tmp_path):
    program = tmp_path / "sw.js"
    program.write_text(f"const SW = {json.dumps(pwa.SERVICE_WORKER)};\n{SW_HARNESS}")
    out = subprocess.run(["node", str(program)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["/"]["status"] == 200 and '<html data-cached lang="en"' in got["/"]["body"]   # the page says offline at once
    assert got["/?tag=shop"]["status"] == 200 and "data-cached" in got["/?tag=shop"]["body"]  # the dashboard, filtered by its script
    task = got["/task/etl"]
    assert task["status"] == 503 and "the dashboard" not in task["body"]
    assert task["type"].startswith("text/html") and "Offline" in task["body"] and 'href="/"' in task["body"]


# ---- issue 19 review, item 1: a logout takes the saved page off the device ------------------------------

SW_LOGOUT_HARNESS = r"""
// pwa.SERVICE_WORKER run by node: the network answers as a server would, then goes down.
const stores = new Map(), handlers = {};
globalThis.self = {addEventListener: (kind, fn) => { handlers[kind] = fn; }, skipWaiting() {},
                   clients: {claim: async () => {}}};
function store(name) {
  if (!stores.has(name)) {
    const saved = new Map();
    stores.set(name, {match: async (url) => saved.get(url)?.clone(), put: async (url, res) => { saved.set(url, res); }});
  }
  return stores.get(name);
}
globalThis.caches = {open: async (name) => store(name), keys: async () => [...stores.keys()],
                     delete: async (name) => stores.delete(name)};
let answers = null;     // path -> [status, body]; null: the network is down
globalThis.fetch = async (req) => {
  if (!answers) throw new TypeError("Failed to fetch");
  const [status, body] = answers[new URL(req.url).pathname];
  return new Response(body, {status, headers: {"Content-Type": "text/html; charset=utf-8"}});
};
eval(SW);
async function send(method, url) {
  let answer = null, kept = [];
  handlers.fetch({request: {method, mode: "navigate", url}, respondWith: (p) => { answer = p; },
                  waitUntil: (p) => { kept.push(p); }});
  await Promise.all(kept);
  if (!answer) return null;           // the browser goes to the network itself
  const res = await answer;
  return {status: res.status, body: await res.text()};
}
const base = "http://127.0.0.1:8765";
(async () => {
  const out = {};
  answers = {"/": [200, '<html lang="en" data-sw><body>the dashboard</body></html>'], "/logout": [303, ""]};
  await send("GET", base + "/");
  answers = null;
  out.before = await send("GET", base + "/");                     // offline: the saved dashboard
  answers = {"/": [200, '<html lang="en" data-sw><body>the dashboard</body></html>'], "/logout": [303, ""]};
  out.logout = await send("POST", base + "/logout");
  answers = null;
  out.after_logout = await send("GET", base + "/");
  answers = {"/": [200, '<html lang="en" data-sw><body>the dashboard</body></html>']};
  await send("GET", base + "/");
  answers = {"/": [401, '<html lang="en"><body>log in</body></html>']};
  out.expired = await send("GET", base + "/");                   // the login form: this device is logged out
  answers = null;
  out.after_expired = await send("GET", base + "/");
  console.log(JSON.stringify(out));
})();
"""


@pytest.mark.skipif(not shutil.which("node"), reason="node is not installed: the service worker is not run here")
def test_after_a_logout_or_a_login_form_offline_never_shows_the_dashboard(tmp_path):
    program = tmp_path / "sw.js"
    program.write_text(f"const SW = {json.dumps(pwa.SERVICE_WORKER)};\n{SW_LOGOUT_HARNESS}")
    out = subprocess.run(["node", str(program)], capture_output=True, text=True, timeout=30)
    assert out.returncode == 0, out.stderr
    got = json.loads(out.stdout)
    assert got["before"]["status"] == 200 and "the dashboard" in got["before"]["body"]    # it could have
    for when in ("after_logout", "after_expired"):
        assert got[when]["status"] == 503 and "the dashboard" not in got[when]["body"], when
        assert "was not saved" in got[when]["body"], when
    assert got["expired"]["status"] == 401 and "log in" in got["expired"]["body"]       # the form itself is shown


# ---- the page's CSS and script are files, inlined (issue 20.2) ------------------------------

ASSETS = html_kit.__file__.rsplit("/", 1)[0]


@pytest.mark.parametrize("name, tag", [("dashboard.css", "style"), ("dashboard.js", "script")])
def test_the_css_and_script_are_files_next_to_the_renderer_inlined_whole(home, tmp_path, name, tag):
    """Editors and linters see them as what they are; the page stays one self-contained file,
    also from bin/alive run elsewhere (the files are found next to the module, not in the cwd)."""
    with open(f"{ASSETS}/{name}", encoding="utf-8") as f:
        text = f.read()
    assert len(text) > 1000 and text.endswith("\n")
    fleet(home, "")
    beat(home, "etl", NOW - timedelta(minutes=5))
    r = run_alive("report", "--format", "html", home=home, cwd=tmp_path)
    assert r.returncode == 0, r.stderr
    assert f"<{tag}>{text}</{tag}>" in r.stdout
    assert "<link rel=\"stylesheet\"" not in r.stdout and "<script src" not in r.stdout
