"""A source whose status_field holds a bad_status value (issue 10, item 12).

A producer that exits 0 but leaves `auth_expired` is a failed refresh like any other:
YELLOW (naming the value and the count) until `alert_after` failures in a row, then RED;
the watchdog's own verdict (its heartbeat, its `alerting`) agrees at every step; and the
HTML card of a source that is not GREEN never wears the green "fresh" pill.
"""
import json
import re
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive
from wdkit import check_items, fleet, latest, script, source, source_state

from alive.config import registry
from alive.report import render_html, report
from alive.check.cmd_check import run_check

T0 = datetime(2026, 5, 2, 7, 0, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)
BAD = 'status_field = "bridge"\nbad_status = ["auth_expired", "logged_out"]\n'


def load_fleet(home, extra=""):
    (home / "fleet.toml").write_text(f'[sources.track]\npath = "data/track.json"\nmax_age = "15m"\n{extra}')
    return registry.load(home / "fleet.toml", home)


def data(home, captured_at=T0, **doc):
    (home / "data").mkdir(exist_ok=True)
    (home / "data" / "track.json").write_text(
        json.dumps({"captured_at": captured_at.strftime("%Y-%m-%dT%H:%M:%SZ"), **doc}))


def failures(home, n, error="producer exited 0 but left bridge = 'auth_expired'"):
    (home / "state").mkdir(exist_ok=True)
    (home / "state" / "watchdog.json").write_text(json.dumps(
        {"sources": {"track": {"consecutive_failures": n, "last_error": error}}}))


def source_item(home, reg, now=T0):
    return next(i for i in run_check(home, reg, now).items if i.kind == "source")


# ---- health: the count decides, as for every failed refresh -------------------------------

@pytest.mark.parametrize("recorded,color", [(0, "YELLOW"), (1, "YELLOW"), (2, "YELLOW"), (3, "RED"), (4, "RED")])
def test_a_bad_status_is_yellow_until_alert_after_failures_in_a_row(home, recorded, color):
    reg = load_fleet(home, BAD + "alert_after = 3\n")
    data(home, bridge="auth_expired")
    failures(home, recorded)
    it = source_item(home, reg)
    assert it.color == color
    assert it.details["bad_status"] == "auth_expired"
    [reason] = it.reasons                   # one reason: the value and the count, not the same failure twice
    assert "bridge is 'auth_expired'" in reason
    # the file itself is the evidence of one failed refresh, before the watchdog recorded any
    counted = max(recorded, 1)
    if color == "YELLOW":
        assert f"{counted} of 3 failed refreshes before RED" in reason
    else:
        assert f": {counted} failed refreshes in a row (alert after 3)" in reason


def test_with_the_default_alert_after_a_bad_status_is_red_at_once(home):
    reg = load_fleet(home, BAD)
    data(home, bridge="logged_out")
    it = source_item(home, reg)
    assert it.color == "RED" and it.reasons == ["bridge is 'logged_out'"]


def test_a_good_status_value_leaves_the_source_green(home):
    reg = load_fleet(home, BAD + "alert_after = 3\n")
    data(home, bridge="ok")
    it = source_item(home, reg)
    assert it.color == "GREEN" and it.reasons == [] and "bad_status" not in it.details


@pytest.mark.parametrize("offset,color", [(-1, "YELLOW"), (0, "YELLOW"), (1, "YELLOW")])
def test_a_bad_status_below_alert_after_stays_yellow_whatever_the_age(home, offset, color):
    """Stale or fresh, a bad status below alert_after is never RED by itself (and never GREEN)."""
    reg = load_fleet(home, BAD + "alert_after = 2\n")
    data(home, captured_at=T0 - timedelta(minutes=15) - offset * S, bridge="auth_expired")
    it = source_item(home, reg)
    assert it.color == color and any("bridge is 'auth_expired'" in r for r in it.reasons)


def test_a_failure_that_is_not_the_bad_status_keeps_its_own_reason(home):
    reg = load_fleet(home, "alert_after = 3\n")
    data(home)
    failures(home, 2, error="producer exited 1: boom")
    assert source_item(home, reg).reasons == ["2 failed refreshes (3 before RED): producer exited 1: boom"]


# ---- the HTML pill follows the verdict, not only the age ----------------------------------

def pill(page):
    return re.search(r'<span class="pill ([^"]+)">([^<]*)</span>', page).groups()


def test_a_red_auth_expired_source_never_wears_the_green_fresh_pill(home):
    reg = load_fleet(home, BAD)
    data(home, captured_at=T0 - 12 * S, bridge="auth_expired")     # 12 s old: young data
    view = report.build_view(home, reg, T0)
    assert report.ordered(view.result.items)[0].color == "RED"
    css, text = pill(render_html.render(view))
    assert "p-fresh" not in css and "fresh" not in text
    assert css == "p-RED" and text.startswith("auth_expired · 12 s old, max 15 min")


def test_a_source_red_by_its_probe_with_young_data_has_a_red_pill(home):
    reg = load_fleet(home, 'probe = "browser"\n[probes.browser]\ncommand = ["true"]\ninterval = "10m"\n')
    data(home, captured_at=T0 - 12 * S)
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text(json.dumps({"browser": {"state": "expired",
                                                                        "checked_at": "2026-05-02T06:59:00Z"}}))
    css, text = pill(render_html.render(report.build_view(home, reg, T0)))
    assert css == "p-RED" and "fresh" not in text and "12 s old, max 15 min" in text


@pytest.mark.parametrize("offset,css,word", [(-1, "p-GREEN", "fresh"), (0, "p-GREEN", "fresh"),
                                             (1, "p-YELLOW", "stale")])
def test_a_green_source_keeps_its_fresh_pill_until_max_age(home, offset, css, word):
    reg = load_fleet(home)
    data(home, captured_at=T0 - timedelta(minutes=15) - offset * S)
    got_css, text = pill(render_html.render(report.build_view(home, reg, T0)))
    assert got_css == css and text.startswith(word + " · ")


def test_a_bad_status_value_in_the_pill_is_escaped_and_cut(home):
    reg = load_fleet(home, 'status_field = "bridge"\nbad_status = ["<b>' + "x" * 200 + '"]\n')
    data(home, captured_at=T0 - 12 * S, bridge="<b>" + "x" * 200)
    _, text = pill(render_html.render(report.build_view(home, reg, T0)))
    assert "<b>" not in text and text.startswith("&lt;b&gt;xxx") and len(text) < 120


# ---- the watchdog, for real: its count feeds health, and both agree ------------------------

def test_the_watchdog_counts_a_bad_status_refresh_and_agrees_with_check(home):
    script(home, "auth.py")             # exits 0, writes a fresh file saying auth_expired
    fleet(home, source("track", producer="auth.py", status_field="chrome_bridge_status",
                       bad_status=["auth_expired"], alert_after=3))
    seen = []
    for _ in range(4):                  # bounded: four ticks
        r = run_alive("watchdog", "--json", home=home)
        assert r.returncode == 1
        outcome = json.loads(r.stdout)["sources"]["track"]
        item = check_items(home, run_alive)["track"]
        seen.append((source_state(home, "track")["consecutive_failures"], outcome["alerting"],
                     latest(home, "alive-watchdog")["status"], item["color"]))
        assert "chrome_bridge_status is 'auth_expired'" in item["reasons"][0]
        assert item["consecutive_failures"] == seen[-1][0]
    # the tick itself ran: its heartbeat stays partial; the source carries the alert (one message, not two)
    assert seen == [(1, False, "partial", "YELLOW"), (2, False, "partial", "YELLOW"),
                    (3, True, "partial", "RED"), (4, True, "partial", "RED")]
