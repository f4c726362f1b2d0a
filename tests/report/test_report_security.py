"""Hostile text in heartbeats, state files and fleet.toml reaches the page as text only."""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest

from alive.config import registry
from alive.write import heartbeat
from alive.report import render_html, render_markdown, report

NOW = datetime(2026, 5, 2, 23, 0, 0, tzinfo=timezone.utc)
XSS = "<script>alert(1)</script>"
ATTR = '"><img src=x onerror=alert(2)>'
PAYLOADS = (XSS, ATTR, "<svg onload=alert(3)>", "'><b onmouseover=alert(4)>")
# Tags and attribute breaks that must never survive into the HTML as markup.
RAW = re.compile(r"<script|<img|<svg|<b onmouseover|onerror=alert\(2\)>|onload=alert\(3\)>", re.I)


def hostile_home(home):
    """Every text field a heartbeat, a state file or the registry can carry, each hostile."""
    (home / "fleet.toml").write_text(
        f'[settings]\ndashboard_url = {json.dumps("http://x/" + ATTR + XSS)}\n\n'
        f'[tasks.etl]\ndescription = {json.dumps(XSS + ATTR)}\n\n'
        f'[sources.track]\npath = {json.dumps("data/" + XSS + ".json")}\nmax_age = "15m"\n'
        f'description = {json.dumps(ATTR + XSS)}\nstatus_field = "st"\nbad_status = [{json.dumps(XSS)}]\n\n'
        f'[sources.gone]\npath = {json.dumps(ATTR)}\nmax_age = "15m"\n')
    data = home / "data" / f"{XSS}.json"           # the / of </script> makes a folder: fine
    data.parent.mkdir(parents=True)
    data.write_text(json.dumps({"captured_at": "2026-05-02T22:59:00Z", "st": XSS}))
    (home / "state").mkdir()
    (home / "state" / "watchdog.json").write_text(json.dumps({"sources": {"gone": {
        "consecutive_failures": 4, "last_error": ATTR + XSS, "last_success_at": XSS, "last_trigger_at": ATTR}}}))
    for n, status in enumerate(("ok", "partial", "error")):
        at = NOW - timedelta(hours=3 - n)
        hb = heartbeat.build("etl", at, status=status, summary=f"{PAYLOADS[n]} run {n}",
                             errors=[XSS, ATTR] if status == "error" else [],
                             warnings=[ATTR, "<svg onload=alert(3)>"] if status == "partial" else [],
                             metrics={XSS: ATTR, ATTR: [XSS], "rows": 12}, host=ATTR, run_id=XSS)
        heartbeat.write(home / "health", hb)
    # a legacy file whose very name is hostile, and a broken one
    (home / "health" / f"{ATTR.replace('/', '')}_x.json").write_text("{nope")
    (home / "health" / "etl_<b onmouseover=alert(4)>.json").write_text(json.dumps({"task_id": None}))
    return registry.load(home / "fleet.toml", home)


def test_the_hostile_fleet_is_really_hostile(home):
    """The fixture must reach every renderer's inputs, or the tests below prove nothing."""
    reg = hostile_home(home)
    v = report.build_view(home, reg, NOW)
    assert XSS in v.runs["etl"][2]["summary"] and v.runs["etl"][0]["errors"] == [XSS, ATTR]
    assert XSS in v.runs["etl"][0]["metrics"]
    assert reg.tasks["etl"].description == XSS + ATTR and reg.sources["track"].description == ATTR + XSS
    assert any(XSS in r for i in v.result.items for r in i.reasons)
    assert len(v.result.invalid_files) == 2


def without_our_script(page):
    """The page less its one script, which is a constant (render_html.SCRIPT): nothing else may be markup."""
    ours = f"<script>{render_html.SCRIPT}</script>"
    assert page.count("<script") == 1 and page.count(ours) == 1
    return page.replace(ours, "")


@pytest.mark.parametrize("csrf", [None, "token"])
def test_html_escapes_every_field(home, csrf):
    v = report.build_view(home, hostile_home(home), NOW)
    page = without_our_script(render_html.render(v, csrf=csrf))
    assert not RAW.search(page), RAW.search(page)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page           # shown, as text
    assert "&quot;&gt;&lt;img src=x onerror=alert(2)&gt;" in page
    # the hostile strings are there (escaped) in every place they belong
    if csrf is None:
        assert '<a href="http://x/&quot;&gt;&lt;img src=x onerror=alert(2)&gt;&lt;script&gt;' in page
    for where in ('<p class="desc">&lt;script&gt;', '<p class="summary">&lt;svg onload=alert(3)&gt; run 2',
                  'class="err">&lt;script&gt;', "last error: &quot;&gt;&lt;img", '<span>&lt;script&gt;',
                  'class="file">health/&quot;&gt;&lt;img', "&lt;b onmouseover=alert(4)&gt;.json"):
        assert where in page, where


def test_the_words_of_the_strip_are_escaped(home):
    v = report.build_view(home, hostile_home(home), NOW)
    page = render_html.render(v)
    titles = re.findall(r'<span class="tip">([^<]*)</span>', page)
    assert any("&lt;svg onload=alert(3)&gt;" in t for t in titles)
    assert any("&quot;&gt;&lt;img src=x onerror=alert(2)&gt; run 1" in t for t in titles)
    assert all("<" not in t and ">" not in t for t in titles)


def test_markdown_escapes_every_field(home):
    v = report.build_view(home, hostile_home(home), NOW, depth=1)
    text = render_markdown.render(v)
    assert not RAW.search(text), RAW.search(text)
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    for line in text.splitlines():
        if line.startswith("| **"):
            # a hostile value cannot add a column: every row has the header's number of cells
            cells = re.split(r"(?<!\\)\|", line)[1:-1]
            assert len(cells) in (8, 7), line


def test_markdown_table_cells_survive_pipes_and_newlines(home):
    at = NOW - timedelta(minutes=5)
    hb = heartbeat.build("etl", at, status="error", errors=["a | b\n| c | d |\n\n# heading", "x"])
    heartbeat.write(home / "health", hb)
    text = render_markdown.render(report.build_view(home, registry.load(home / "fleet.toml", home), NOW, 1))
    [row] = [line for line in text.splitlines() if line.startswith("| **etl**")]
    assert "error: a \\| b \\| c \\| d \\| \\# heading" in row
    assert len(re.split(r"(?<!\\)\|", row)[1:-1]) == 8
    assert "\n# heading" not in text


def test_json_keeps_the_text_as_it_is(home):
    v = report.build_view(home, hostile_home(home), NOW)
    doc = report.to_json(v)
    etl = next(i for i in doc["items"] if i["name"] == "etl")
    assert etl["reasons"] == [f"latest run failed: {XSS}"]
