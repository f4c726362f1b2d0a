"""`alive report`: one View, four formats (text, markdown, json, html)."""
import json
import os
import pty
import re
import subprocess
import sys
from datetime import datetime, timedelta, timezone

import pytest
from conftest import ALIVE, run_alive
from helpers import NOW, beat, fleet, item, view

from alive.write import heartbeat
from alive.report import render_html, render_markdown, report

S = timedelta(seconds=1)


# ---- the View ---------------------------------------------------------------

def test_history_is_the_newest_20_runs_newest_first(home):
    for n in range(25):
        beat(home, "etl", NOW - timedelta(hours=25 - n), status="error" if n == 3 else "ok")
    v = view(home)
    runs = v.runs["etl"]
    assert len(runs) == 20
    assert runs[0]["started_at"] == "2026-05-02T21:59:30Z"       # the newest: 1 h before NOW, minus 30 s
    assert runs[-1]["started_at"] == "2026-05-02T02:59:30Z"      # the 20th newest
    assert [r["duration_s"] for r in runs] == [30.0] * 20


def test_runs_in_the_last_24h_count_from_the_names_at_the_boundary(home):
    # started_at = completed_at - 30 s; the window is [NOW - 24 h, NOW], to the minute
    beat(home, "etl", NOW - timedelta(hours=24) + timedelta(seconds=30))           # starts exactly at the cutoff
    beat(home, "etl", NOW - timedelta(hours=24) - timedelta(minutes=1) + timedelta(seconds=30))  # a minute before
    beat(home, "etl", NOW - timedelta(hours=1))
    assert view(home).runs_24h["etl"] == 2
    assert view(home, now=NOW + timedelta(minutes=1)).runs_24h["etl"] == 1


def test_runs_in_the_last_24h_leave_out_other_tasks_the_future_and_count_a_newer_latest_file(home):
    at = NOW - timedelta(hours=2)
    beat(home, "etl", at)
    beat(home, "etl", at)                                   # same minute: ..._HHMM-2.json
    beat(home, "etl", NOW - timedelta(days=1, hours=1))     # the day before, outside
    beat(home, "etl_x", at)                                 # another task sharing the prefix
    beat(home, "etl", NOW + timedelta(minutes=30))          # a clock stepped forward: not a run yet
    assert view(home).runs_24h == {"etl": 2, "etl_x": 1}
    # a writer that keeps only <task>_latest.json, newer than every canonical file
    hb = heartbeat.build("etl", NOW - timedelta(minutes=5), status="ok",
                         started_at=NOW - timedelta(minutes=6), completed_at=NOW - timedelta(minutes=5))
    (home / "health" / "etl_latest.json").write_text(json.dumps(hb))
    old = (NOW - timedelta(hours=1)).timestamp()
    for f in (home / "health").glob("2026-*_etl_*.json"):
        os.utime(f, (old, old))
    assert view(home).runs_24h["etl"] == 3


def test_the_html_view_reads_each_file_at_most_once(home, monkeypatch):
    from alive.check import scan

    for task in ("etl", "sync"):
        for n in range(3):
            beat(home, task, NOW - timedelta(hours=n + 1), status="error" if task == "sync" else "ok")
    (home / "health" / "etl_latest.json").write_text((sorted((home / "health").glob("*_etl_*.json"))[-1]).read_text())
    reads, real = [], scan.read_beat
    monkeypatch.setattr(scan, "read_beat", lambda folder, name, task: reads.append(name) or real(folder, name, task))
    v = view(home)
    assert len(v.runs["etl"]) == 3 and len(v.runs["sync"]) == 3
    assert reads and len(reads) == len(set(reads)), reads


def test_depth_1_reads_only_what_check_reads(home):
    for n in range(5):
        beat(home, "etl", NOW - timedelta(hours=n + 1))
    v = view(home, depth=1)
    assert len(v.runs["etl"]) == 1 and v.runs_24h["etl"] == 5


def test_the_run_cache_remembers_valid_runs_and_rereads_broken_ones(home):
    for n in range(3):
        beat(home, "etl", NOW - timedelta(hours=n + 1), summary=f"run {n}")
    old = sorted((home / "health").glob("2026-*_etl_*.json"))[0]
    old.write_text("{broken")
    v = view(home)
    assert [r["status"] for r in v.runs["etl"]] == ["ok", "ok", None]
    assert any(f["file"] == f"health/{old.name}" for f in v.result.invalid_files)
    cache = json.loads((home / "state" / report.CACHE_NAME).read_text())
    assert old.name not in cache["runs"] and len(cache["runs"]) == 2
    # fixed in place: shows at once (broken files are never cached)
    hb = heartbeat.build("etl", NOW - timedelta(hours=3), summary="fixed",      # its name's minute, as beat() wrote
                         started_at=NOW - timedelta(hours=3, seconds=30))
    old.write_text(json.dumps(hb))
    assert [r["summary"] for r in view(home).runs["etl"]] == ["run 0", "run 1", "fixed"]


def test_a_corrupt_or_foreign_cache_is_ignored(home):
    for n in range(3):
        beat(home, "etl", NOW - timedelta(hours=n + 1), summary=f"run {n}")
    view(home)
    path = home / "state" / report.CACHE_NAME
    doc = json.loads(path.read_text())
    names = list(doc["runs"])
    doc["runs"][names[2]] = ["<b>", {"x": 1}, None, "soon", 5, None]        # not rows we would write
    doc["runs"][names[1]] = [["ok"], "2026-05-02T21:00:00Z", "2026-05-02T21:00:00Z", True, "x", None]
    path.write_text(json.dumps(doc))
    assert [r["summary"] for r in view(home).runs["etl"]] == ["run 0", "run 1", "run 2"]
    path.write_text("garbage")
    assert [r["summary"] for r in view(home).runs["etl"]] == ["run 0", "run 1", "run 2"]


def test_an_unwritable_state_folder_costs_only_time(home):
    beat(home, "etl", NOW - timedelta(hours=2))
    beat(home, "etl", NOW - timedelta(hours=1))
    (home / "state").write_text("not a folder")
    assert len(view(home).runs["etl"]) == 2


def test_advice_says_what_to_do_for_each_kind_of_red(home):
    reg = fleet(home, '[tasks.silent]\nmax_gap = "1h"\n[tasks.never]\nschedule = "every 15m"\n'
                      '[sources.gone]\npath = "gone.json"\nmax_age = "15m"\n')
    beat(home, "silent", NOW - timedelta(hours=3))
    beat(home, "broke", NOW - timedelta(minutes=5), status="error", errors=["disk full"])
    v = view(home, reg)
    assert report.advice(item(v, "silent"), v).startswith("It has not run since ")
    assert report.advice(item(v, "never"), v).startswith("It has never reported")
    assert report.advice(item(v, "broke"), v).startswith("Read the errors of the failed run")
    assert "`alive refresh gone`" in report.advice(item(v, "gone"), v)


# ---- text ---------------------------------------------------------------------

def test_text_is_the_check_table_without_colors_when_piped(home):
    beat(home, "etl", datetime.now(timezone.utc), status="error", errors=["disk full"])
    r = run_alive("report", home=home)
    assert r.returncode == 0                       # a RED item is not a failure of the report
    assert re.search(r"^RED +task +etl +\S+ +latest run failed: disk full$", r.stdout, re.M)
    assert "\033[" not in r.stdout


def run_on_a_tty(home, no_color):
    """bin/alive report with its stdout on a real pseudo-terminal; returns what it printed."""
    env = {k: v for k, v in os.environ.items() if k != "NO_COLOR"}
    env["ALIVE_HOME"] = str(home)
    if no_color:
        env["NO_COLOR"] = "1"
    leader, follower = pty.openpty()
    proc = subprocess.Popen([sys.executable, str(ALIVE), "report"], stdout=follower, stderr=subprocess.PIPE, env=env)
    os.close(follower)
    chunks = []
    for _ in range(10_000):                 # bounded: ends at EOF/EIO long before
        try:
            data = os.read(leader, 65536)
        except OSError:                     # EIO: the child closed its end
            break
        if not data:
            break
        chunks.append(data)
    proc.wait(timeout=30)
    os.close(leader)
    return b"".join(chunks).decode()


def test_text_has_colors_on_a_tty_and_none_with_NO_COLOR(home):
    beat(home, "etl", datetime.now(timezone.utc), status="error")
    assert "\033[31mRED" in run_on_a_tty(home, no_color=False)
    plain = run_on_a_tty(home, no_color=True)
    assert "RED" in plain and "\033[" not in plain


# ---- markdown -------------------------------------------------------------------

def test_markdown_badge_line_in_local_time(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    beat(home, "meh", NOW - timedelta(minutes=5), status="partial", warnings=["2 rows late"])
    text = render_markdown.render(view(home))
    badge = text.splitlines()[2]
    local = NOW.astimezone()
    assert badge == f"🟡 **YELLOW** · 2 items · 0 RED · 1 YELLOW · checked {local:%Y-%m-%d %H:%M}"


def test_markdown_badge_follows_TZ(home):
    beat(home, "etl", datetime.now(timezone.utc))
    utc = run_alive("report", "--format", "markdown", home=home, env={"TZ": "UTC"}).stdout
    tokyo = run_alive("report", "--format", "markdown", home=home, env={"TZ": "Asia/Tokyo"}).stdout
    pick = re.compile(r"checked (\d{4}-\d\d-\d\d) (\d\d):(\d\d)")
    (d1, h1, m1), (d2, h2, m2) = pick.search(utc).groups(), pick.search(tokyo).groups()
    shift = (datetime.fromisoformat(d2).toordinal() - datetime.fromisoformat(d1).toordinal()) * 24 \
        + int(h2) - int(h1)
    assert m1 == m2 and shift == 9
    assert utc.startswith("## Systems status\n\n🟢 **GREEN** · 1 item · 0 RED · 0 YELLOW · checked ")


def test_markdown_priority_lists_red_items_first_with_what_to_do(home):
    reg = fleet(home, '[tasks.silent]\nmax_gap = "1h"\n')
    beat(home, "silent", NOW - timedelta(hours=3))
    beat(home, "broke", NOW - timedelta(minutes=5), status="error", errors=["disk full"])
    beat(home, "meh", NOW - timedelta(minutes=5), status="partial")
    text = render_markdown.render(view(home, reg))
    assert "### Priority #1" in text
    priority = text.split("### Priority #1")[1].split("###")[0]
    assert "1. **broke** (task): latest run failed: disk full" in priority
    assert "2. **silent** (task): no heartbeat for 3h (max gap 1h)" in priority
    assert "   - What to do: It has not run since " in priority
    assert "meh" not in priority
    assert text.index("### Priority #1") < text.index("### Tasks")


def test_markdown_advice_keeps_the_spaces_around_commands(home):
    reg = fleet(home, '[probes.portal]\ncommand = ["true"]\n[sources.bills]\npath = "b.json"\nmax_age = "1h"\nprobe = "portal"\n')
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text(json.dumps(
        {"portal": {"state": "expired", "checked_at": NOW.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
    text = render_markdown.render(view(home, reg))
    assert "(log in again, then run `alive probe`)." in text


def test_markdown_has_no_priority_section_when_nothing_is_red(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    assert "Priority" not in render_markdown.render(view(home))


def test_markdown_task_table_has_one_row_per_task_with_its_numbers(home):
    for n in range(3):
        beat(home, "etl", NOW - timedelta(hours=n + 1), status="error", errors=[f"boom {n}"])
    beat(home, "etl", NOW - timedelta(hours=30))
    text = render_markdown.render(view(home))
    [row] = [line for line in text.splitlines() if line.startswith("| **etl**")]
    cells = [c.strip() for c in row.strip("|").split(" | ")]
    assert cells[1] == "🔴 RED" and cells[3] == "error" and cells[4] == "1h"
    assert cells[5] == "3" and cells[6] == "3" and cells[7] == "error: boom 0"


def test_markdown_sources_table(home):
    reg = fleet(home, '[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    (home / "track.json").write_text(json.dumps({"captured_at": "2026-05-02T22:50:00Z"}))
    text = render_markdown.render(view(home, reg))
    [row] = [line for line in text.splitlines() if line.startswith("| **track**")]
    assert "🟢 GREEN" in row and "10m / 15m" in row


def test_markdown_escapes_pipes_and_newlines_in_cells():
    assert render_markdown.cell("a | b\nc") == "a \\| b c"
    assert render_markdown.md("**x** [y](javascript:z) <b>") == "\\*\\*x\\*\\* \\[y\\](javascript:z) &lt;b&gt;"


# ---- json -------------------------------------------------------------------------

def test_json_is_checks_json_plus_history(home):
    beat(home, "etl", NOW - timedelta(hours=2), took=12)
    beat(home, "etl", NOW - timedelta(hours=1), status="error", took=3)
    doc = report.to_json(view(home))
    assert set(doc) >= {"overall", "checked_at", "items", "invalid_files"}
    [it] = doc["items"]
    assert it["color"] == "RED" and it["runs_24h"] == 2 and it["consecutive_errors"] == 1
    assert it["history"] == [
        {"started_at": "2026-05-02T21:59:57Z", "completed_at": "2026-05-02T22:00:00Z", "status": "error", "duration_s": 3.0},
        {"started_at": "2026-05-02T20:59:48Z", "completed_at": "2026-05-02T21:00:00Z", "status": "ok", "duration_s": 12.0}]


def test_json_history_names_a_broken_file(home):
    beat(home, "etl", NOW - timedelta(hours=2))
    path = beat(home, "etl", NOW - timedelta(hours=1))
    path.write_text("[]")
    [it] = report.to_json(view(home))["items"]
    assert it["history"][0]["status"] is None and it["history"][0]["file"] == path.name
    assert "not a JSON object" in it["history"][0]["invalid"]


def test_duration_s_from_the_writer_wins(home):
    beat(home, "etl", NOW - timedelta(hours=1), took=30, duration_s=29.5)
    assert view(home).runs["etl"][0]["duration_s"] == 29.5


# ---- html ---------------------------------------------------------------------------

def test_html_is_one_self_contained_page_with_only_its_own_script(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    page = render_html.render(view(home))
    assert page.startswith("<!doctype html>") and page.rstrip().endswith("</html>")
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in page
    assert "<style>" in page and page.lower().count("<script") == 1
    assert f"<script>{render_html.SCRIPT}</script>" in page and "<script src" not in page
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", page)          # no external asset
    assert "@import" not in page and "url(" not in page


def test_html_badge_counts_and_health_details_open_when_red_or_yellow(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    page = render_html.render(view(home))
    assert '<details class="section" id="health">' in page
    assert '<ul class="counts" aria-label="counts"><li class="count">1 item</li></ul>' in page
    beat(home, "meh", NOW - timedelta(minutes=5), status="partial")
    page = render_html.render(view(home))
    assert 'id="badge" data-overall="YELLOW"' in page
    assert '<li class="count">2 items</li><li class="count">1 YELLOW</li></ul>' in page and "0 RED" not in page
    assert '<details class="section" id="health" open>' in page and 'id="priority"' not in page
    beat(home, "bad", NOW - timedelta(minutes=5), status="error")
    page = render_html.render(view(home))
    assert '<details class="section" id="health" open>' in page and 'id="priority"' in page


def test_html_strip_has_20_cells_oldest_first_with_titles(home):
    statuses = ["ok", "partial", "error", "skipped"]
    for n in range(4):
        beat(home, "etl", NOW - timedelta(hours=4 - n), status=statuses[n], summary=f"run {n}")
    page = render_html.render(view(home))
    strip = re.search(r'<ol class="strip"[^>]*>(.*?)</ol>', page).group(1)
    cells = re.findall(r'<li class="s-(\w+)"', strip)
    assert cells == ["none"] * 16 + statuses
    assert "· partial · 30 s · run 1</span>" in strip


def test_html_static_trigger_buttons_are_disabled_with_a_hint(home):
    reg = fleet(home, '[settings]\ndashboard_url = "http://127.0.0.1:8765/"\n'
                      '[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    page = render_html.render(view(home, reg))
    form = re.search(r'<form class="trigger" method="post" action="/trigger/track">(.*?)</form>', page).group(1)
    assert "disabled" in form and 'name="csrf"' not in form
    assert '<a href="http://127.0.0.1:8765/">the live dashboard</a>' in page and "alive serve" in page


def test_html_served_trigger_buttons_carry_the_token(home):
    reg = fleet(home, '[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    page = render_html.render(view(home, reg), csrf="tok-123", live=render_html.Live(30))
    assert ('<form class="trigger" method="post" action="/trigger/track"><input type="hidden" name="csrf" '
            'value="tok-123"><button type="submit" id="trigger-track">Trigger now</button></form>') in page
    assert 'data-poll="30"' in page and '<meta http-equiv="refresh"' not in page


def test_html_source_pill_and_trigger_note(home):
    reg = fleet(home, '[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    (home / "track.json").write_text(json.dumps({"captured_at": "2026-05-02T22:59:48Z"}))
    (home / "state").mkdir()
    (home / "state" / "watchdog.json").write_text(json.dumps({"sources": {"track": {
        "consecutive_failures": 0, "last_success_at": "2026-05-02T22:59:48Z",
        "last_trigger_at": "2026-05-02T22:59:45Z"}}}))
    page = render_html.render(view(home, reg))
    assert '<span class="pill p-GREEN">fresh · 12 s old, max 15 min</span>' in page
    assert 'refreshed <time datetime="2026-05-02T22:59:48Z"' in page      # an age the script keeps moving
    later = render_html.render(view(home, reg, now=NOW + timedelta(hours=2)))
    assert "by a trigger" not in later and '<span class="pill p-YELLOW">stale · ' in later


def test_html_shows_a_queued_trigger(home):
    from alive.correct import queue

    reg = fleet(home, '[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    queue.enqueue(home, reg, "track", "cli", NOW - timedelta(seconds=20))
    assert ('refresh queued <time datetime="2026-05-02T22:59:40Z" title="2026-05-02 22:59 UTC" '
            'data-ago>22:59 UTC</time>, waiting for the trigger runner') in render_html.render(view(home, reg))


def test_a_health_folder_full_of_invalid_files_still_renders_and_lists_them(home):
    folder = home / "health"
    folder.mkdir()
    for n in range(40):
        (folder / f"2026-05-02_junk{n}_0700.json").write_text("{" * (n + 1))
    (folder / "x_legacy.json").write_text('{"task_id": null}')
    (folder / "2026-05-02_dir_0700.json").mkdir()
    v = view(home)
    assert len(v.result.invalid_files) == 42
    for fmt in ("html", "markdown", "json", "text"):
        text = report.render(v, fmt)
        shown = render_markdown.md if fmt == "markdown" else str      # markdown escapes the _
        assert all(shown(name) in text for name in ("2026-05-02_junk39_0700.json", "x_legacy.json",
                                                    "2026-05-02_dir_0700.json")), fmt
    page = render_html.render(v)
    assert page.count('<tr><td class="file">') == 42 and "Invalid files" in page


# ---- the command --------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "html"])
def test_out_writes_the_file_atomically_and_says_so(home, tmp_path, fmt):
    beat(home, "etl", datetime.now(timezone.utc))
    out = home / "site" / f"report.{fmt}"     # alive makes its own folders in ALIVE_HOME
    r = run_alive("report", "--format", fmt, "--out", out, home=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout == f"alive report: wrote {out} ({fmt})\n" and r.stderr == ""
    beside = ["badge", "badge.svg", out.name] if fmt == "html" else [out.name]     # html: its badges too
    assert "etl" in out.read_text() and sorted(p.name for p in out.parent.iterdir()) == beside
    if fmt == "json":
        assert json.loads(out.read_text())["items"][0]["name"] == "etl"


def test_bad_format_is_exit_3_in_one_line(home):
    r = run_alive("report", "--format", "pdf", home=home)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "invalid choice: 'pdf'" in r.stderr


def test_an_unwritable_out_is_exit_1_in_one_line(home, tmp_path):
    (tmp_path / "file").write_text("")
    r = run_alive("report", "--out", tmp_path / "file" / "x.html", home=home)
    assert r.returncode == 1 and r.stderr.startswith("alive report: cannot write") and "Traceback" not in r.stderr


def test_report_writes_no_alerts(home):
    beat(home, "etl", datetime.now(timezone.utc), status="error")
    run_alive("report", "--format", "html", home=home)
    assert not (home / "alerts").exists()


def test_a_file_name_that_is_not_utf8_renders_in_every_format(home, tmp_path):
    beat(home, "etl", NOW - timedelta(hours=2))
    hb = heartbeat.build("etl", NOW - timedelta(hours=1), summary="from a legacy writer")
    (home / "health").mkdir(exist_ok=True)
    with open(os.fsencode(home / "health") + b"/etl_\xff\xfe.json", "wb") as f:
        f.write(json.dumps(hb).encode())
    with open(os.fsencode(home / "health") + b"/junk_\xff.json", "wb") as f:
        f.write(b"{")
    for fmt in ("html", "json", "markdown", "text"):
        out = tmp_path / f"out.{fmt}"
        r = run_alive("report", "--format", fmt, "--out", out, home=home)
        assert r.returncode == 0, r.stderr
        assert ("junk\\_\ufffd.json" if fmt == "markdown" else "junk_\ufffd.json") in out.read_text(), fmt
    assert "from a legacy writer" in (tmp_path / "out.html").read_text()
    assert view(home).runs["etl"][0]["file"] == "etl_\ufffd\ufffd.json"


@pytest.mark.parametrize("legacy", [False, True])
@pytest.mark.parametrize("fmt", ["json", "html", "markdown", "text"])
def test_a_broken_latest_file_alone_or_beside_legacy_runs_does_not_take_down_the_report(home, fmt, legacy):
    """issue 19 item 1: runs_since asked a broken <task>_latest.json for its minute (None.data)."""
    (home / "health").mkdir(exist_ok=True)
    (home / "health" / "x_latest.json").write_text('{"task_id": "x"')
    if legacy:      # the legacy walk meets the broken file first too
        hb = heartbeat.build("x", NOW - timedelta(hours=1))
        (home / "health" / "x_old.json").write_bytes(heartbeat.serialize(hb))
        os.utime(home / "health" / "x_old.json", (0, 0))
    fleet(home)
    r = run_alive("report", "--format", fmt, home=home)
    assert r.returncode == 0 and r.stderr == "", r.stderr
    shown = render_markdown.md if fmt == "markdown" else str      # markdown escapes the _
    assert shown("x_latest.json") in r.stdout or fmt == "text"
