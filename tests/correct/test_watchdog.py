"""`alive watchdog`: one tick with real producers, probes and locks, as cron would run it."""
import json
import os
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

from conftest import ALIVE, ROOT, run_alive
from wdkit import (check_items, data, fleet, iso, latest, probe_table, runs, script, scripts, snapshot, source,
                   source_state, state)

from alive.config import registry
from alive.check import health
from alive.correct import watchdog, watchdog_plan
from alive.report.report import iso_short
from alive.check.health import SourceFacts

NOW = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)


def tick(home, *extra):
    return run_alive("watchdog", *extra, home=home)


# ---------------------------------------------------------------- refreshing


def test_a_stale_source_is_refreshed_and_a_fresh_one_left_alone(home):
    script(home, "good.py")
    fleet(home, source("stale") + source("fresh"))
    data(home, "stale.json", age_s=3600)
    fresh = data(home, "fresh.json", age_s=60)
    r = tick(home)
    assert r.returncode == 0, r.stderr
    assert runs(home) == ["good.py"]  # once, for the stale one only
    assert "refreshed stale (data is 1h old (max age 15m); attempt 1 of 1)" in r.stdout
    assert "2 sources: 1 fresh, 1 stale; 1 refreshed" in r.stdout
    entry = source_state(home, "stale")
    assert entry["consecutive_failures"] == 0 and entry["last_refresh_by"] == "watchdog"
    assert entry["last_success_at"] and entry["last_error"] is None
    assert source_state(home, "fresh") == {"last_success_at": json.loads(fresh.read_text())["captured_at"]}
    beat = latest(home, "alive-watchdog")
    assert beat["status"] == "ok" and beat["metrics"] == {
        "sources": 2, "fresh": 1, "stale": 1, "refreshed": 1, "failed": 0, "skipped": 0, "paused": 0,
        "no_producer": 0}
    assert all(i["color"] == "GREEN" for i in check_items(home, run_alive).values())


def test_good_data_a_tick_sees_is_the_last_good_data_and_outlives_the_file(home):
    # issue 19 item 20: the per-source state says when the data was last good, also for data
    # alive did not refresh itself, so the dashboard and the brief can say it once it broke.
    fleet(home, source("track", producer=None) + source("future", producer=None))
    captured = json.loads(data(home, "track.json", age_s=60).read_text())["captured_at"]
    data(home, "future.json", age_s=-120)                     # 2 min ahead: not a time to record
    assert tick(home).returncode == 0
    assert source_state(home, "track")["last_success_at"] == captured
    assert source_state(home, "future")["last_success_at"] <= iso(datetime.now(timezone.utc))
    (home / "track.json").write_text("<html>502 Bad Gateway")      # then the file breaks
    tick(home)
    assert source_state(home, "track")["last_success_at"] == captured
    item = check_items(home, run_alive)["track"]
    assert item["color"] == "RED" and item["last_success_at"] == captured
    brief = run_alive("report", "--format", "markdown", home=home).stdout
    [row] = [line for line in brief.splitlines() if line.startswith("| **track** |")]
    assert "| last good data |" in brief and row.split(" | ")[4] == iso_short(captured, datetime.now(timezone.utc))
    html = run_alive("report", "--format", "html", home=home).stdout
    assert "Last good data" in html and f'datetime="{captured}"' in html


def test_a_tick_records_good_data_only_when_it_is_newer_than_what_is_recorded(home):
    script(home, "good.py")
    fleet(home, source("track") + source("fine", producer=None))
    data(home, "track.json", age_s=3600)
    captured = (datetime.now(timezone.utc) - timedelta(seconds=30)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    (home / "fine.json").write_text(json.dumps({"captured_at": captured}))      # a fraction of a second
    assert tick(home).returncode == 0 and runs(home) == ["good.py"]     # refreshed: last_success_at set
    recorded = source_state(home, "track")["last_success_at"]
    assert source_state(home, "fine")["last_success_at"] == captured[:19] + "Z"
    stamp = (home / "state" / "watchdog.json").stat().st_mtime_ns
    assert tick(home).returncode == 0 and source_state(home, "track")["last_success_at"] == recorded
    assert (home / "state" / "watchdog.json").stat().st_mtime_ns == stamp      # nothing newer: not rewritten


def test_good_data_that_cannot_be_recorded_is_a_warning_not_a_failed_tick(home):
    fleet(home, source("track", producer=None))
    data(home, "track.json", age_s=60)
    (home / "state").mkdir()
    (home / "state" / "watchdog.json.lock").mkdir()          # the state cannot be locked or written
    r = tick(home)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert r.stderr.count("\n") == 1 and "alive watchdog: warning: cannot record the last good data" in r.stderr
    beat = latest(home, "alive-watchdog")
    assert beat["status"] == "partial" and beat["warnings"][0].startswith("cannot record the last good data")


def test_a_missing_data_file_counts_as_stale(home):
    script(home, "good.py")
    fleet(home, source("track", path="pwa/track.json"))
    (home / "pwa").mkdir()
    r = tick(home)
    assert r.returncode == 0 and "refreshed track (data file is missing" in r.stdout
    assert json.loads((home / "pwa" / "track.json").read_text())["rows"] == 3


def test_a_failing_producer_is_retried_after_its_pause_and_its_stderr_kept(home):
    script(home, "fail.py")
    fleet(home, source("shop", producer="fail.py", retries=2, retry_pause="1s", alert_after=3))
    data(home, "shop.json", age_s=3600)
    t0 = time.monotonic()
    r = tick(home)
    took = time.monotonic() - t0
    assert r.returncode == 1
    assert runs(home, "fail.py") == 3 and took >= 2.0  # 1 try + 2 retries, 1s apart
    entry = source_state(home, "shop")
    assert entry["consecutive_failures"] == 1 and entry["attempts"] == 3
    assert entry["last_error"] == "producer exited 1: boom: upstream said 503"
    assert "boom: upstream said 503" in entry["last_stderr_tail"]
    beat = latest(home, "alive-watchdog")
    assert beat["status"] == "partial"  # 1 failure, alert after 3
    assert beat["errors"] == ["shop: producer exited 1: boom: upstream said 503"]
    item = check_items(home, run_alive)["shop"]
    assert item["color"] == "YELLOW" and "1 failed refresh (3 before RED)" in " ".join(item["reasons"])


def test_a_producer_that_succeeds_on_its_third_try_is_a_refresh(home):
    script(home, "third.py")
    fleet(home, source("flaky", producer="third.py", retries=2, retry_pause="0s"))
    r = tick(home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert runs(home, "third.py") == 3
    assert "refreshed flaky (data file is missing (flaky.json); attempt 3 of 3)" in r.stdout
    entry = source_state(home, "flaky")
    assert entry["consecutive_failures"] == 0 and entry["attempts"] == 3


def test_one_retry_too_few_and_the_third_try_never_comes(home):
    script(home, "third.py")
    fleet(home, source("flaky", producer="third.py", retries=1, retry_pause="0s"))
    assert tick(home).returncode == 1
    assert runs(home, "third.py") == 2
    assert source_state(home, "flaky")["last_error"] == "producer exited 75: try 2: not yet"


def test_exit_0_with_a_bad_status_is_a_failed_refresh(home):
    script(home, "auth.py")
    fleet(home, source("track", producer="auth.py", status_field="chrome_bridge_status",
                       bad_status=["auth_expired"]))
    r = tick(home)
    assert r.returncode == 1
    assert source_state(home, "track")["last_error"] == \
        "producer exited 0 but left chrome_bridge_status = 'auth_expired'"
    assert check_items(home, run_alive)["track"]["color"] == "RED"


def test_exit_0_but_data_still_old_is_a_failed_refresh_saying_how_old(home):
    script(home, "old.py")
    fleet(home, source("track", producer="old.py"))
    data(home, "track.json", age_s=5 * 3600)
    r = tick(home)
    assert r.returncode == 1
    assert source_state(home, "track")["last_error"] == \
        "producer ran but the data is still 2h old (max age 15m)"
    assert "FAILED track after 1 attempt: producer ran but the data is still 2h old" in r.stdout


def test_missing_unexecutable_and_garbage_producers_are_each_named_and_the_tick_goes_on(home):
    script(home, "good.py")
    script(home, "garbage.py")
    (home / "noexec.py").write_text("#!/bin/sh\necho hi\n")
    (home / "noexec.py").chmod(0o644)
    fleet(home, source("a_missing", producer="nowhere.py", retries=2, retry_pause="0s")
          + source("b_noexec", producer="noexec.py", retries=2, retry_pause="0s")
          + source("c_garbage", producer="garbage.py", retries=1, retry_pause="0s")
          + source("d_good"))
    r = tick(home)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert source_state(home, "a_missing")["last_error"] == "producer ./nowhere.py not found"
    assert source_state(home, "a_missing")["attempts"] == 1  # not started: not retried
    assert source_state(home, "b_noexec")["last_error"] == "producer ./noexec.py is not executable"
    assert source_state(home, "c_garbage")["last_error"].startswith(
        "producer exited 0 but the data file is not valid JSON (")
    assert runs(home, "garbage.py") == 2
    assert source_state(home, "d_good")["consecutive_failures"] == 0
    assert "3 failed" in r.stdout and "1 refreshed" in r.stdout


def test_a_hanging_producer_is_killed_at_its_timeout_with_its_group_and_the_rest_refreshes(home):
    scripts(home, "hang.py", "good.py")
    fleet(home, source("a_hang", producer="hang.py", timeout="1s") + source("b_after") + source("c_after"))
    t0 = time.monotonic()
    r = tick(home)
    took = time.monotonic() - t0
    assert r.returncode == 1 and took < 20
    assert source_state(home, "a_hang")["last_error"] == "producer timed out after 1s and was killed"
    assert runs(home, "good.py") == 2
    assert source_state(home, "b_after")["consecutive_failures"] == 0
    assert source_state(home, "c_after")["consecutive_failures"] == 0
    pids = [int(p) for p in (home / "hang.pids").read_text().split()]
    for pid in pids:  # the producer and the child it started: the whole group is gone
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline and alive_pid(pid):
            time.sleep(0.05)
        assert not alive_pid(pid), f"pid {pid} survived"


def alive_pid(pid):
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    try:  # a zombie (not yet reaped by init) is dead for our purpose
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split(")")[-1].split()[0] != "Z"
    except OSError:
        return True


def test_two_sources_written_by_one_producer_run_it_once(home):
    (home / "both.py").write_text(
        f"#!{sys.executable}\nimport json, os, datetime\n"
        "open(os.path.join(os.environ['ALIVE_HOME'], 'runs.log'), 'a').write('both.py\\n')\n"
        "t = datetime.datetime.now(datetime.timezone.utc).strftime('%Y-%m-%dT%H:%M:%SZ')\n"
        "for n in ('x.json', 'y.json'):\n    json.dump({'captured_at': t}, open(n, 'w'))\n")
    (home / "both.py").chmod(0o755)
    fleet(home, source("x", producer="both.py") + source("y", producer="both.py"))
    r = tick(home)
    assert r.returncode == 0 and runs(home, "both.py") == 1
    assert "refreshed y (data file is missing (y.json); by the same producer run)" in r.stdout


# ---------------------------------------------------------------- probes


def test_a_source_whose_probe_says_expired_is_not_refreshed_and_is_red(home):
    scripts(home, "good.py", "probe_expired.py")
    fleet(home, source("shop", probe="browser") + probe_table("browser", "probe_expired.py"))
    data(home, "shop.json", age_s=3600)
    assert run_alive("probe", home=home).returncode == 0
    r = tick(home)
    assert r.returncode == 0  # nothing failed: it was not tried
    assert runs(home, "good.py") == 0 and runs(home, "probe_expired.py") == 1  # fresh probe state: not re-run
    assert "skipped shop (data is 1h old (max age 15m)): probe browser says expired: a person must re-authenticate" \
        in r.stdout
    beat = latest(home, "alive-watchdog")
    assert beat["status"] == "partial" and beat["metrics"]["skipped"] == 1
    assert beat["warnings"] == ["shop: not refreshed: probe browser says expired: a person must re-authenticate"]
    item = check_items(home, run_alive)["shop"]
    assert item["color"] == "RED" and item["probe"] == "expired"
    assert "probe browser says expired: a person must re-authenticate" in item["reasons"]


def test_a_probe_state_older_than_3_intervals_is_probed_again_before_refreshing(home):
    scripts(home, "good.py", "probe_alive.py")
    fleet(home, source("shop", probe="browser") + probe_table("browser", "probe_alive.py", interval="10m"))
    data(home, "shop.json", age_s=3600)
    old = datetime.now(timezone.utc) - timedelta(minutes=31)
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text(json.dumps(
        {"browser": {"state": "expired", "checked_at": old.strftime("%Y-%m-%dT%H:%M:%SZ"), "detail": "old"}}))
    r = tick(home)
    assert r.returncode == 0, r.stdout + r.stderr
    assert runs(home) == ["probe_alive.py", "good.py"]
    assert "re-probed browser: alive" in r.stdout
    assert state(home, "probes.json")["browser"]["state"] == "alive"


def test_a_re_probe_that_prints_garbage_keeps_the_producer_from_running(home):
    scripts(home, "good.py", "probe_garbage.py")
    fleet(home, source("shop", probe="browser") + probe_table("browser", "probe_garbage.py"))
    r = tick(home)
    assert runs(home, "good.py") == 0 and r.returncode == 0
    assert 'skipped shop (data file is missing (shop.json)): probe browser says error (printed "Traceback' \
        in r.stdout
    assert state(home, "probes.json")["browser"]["state"] == "error"


def test_a_probe_is_run_once_per_tick_for_all_its_sources(home):
    scripts(home, "good.py", "probe_alive.py")
    fleet(home, source("a", probe="b") + source("c", probe="b") + probe_table("b", "probe_alive.py"))
    assert tick(home).returncode == 0
    assert runs(home) == ["probe_alive.py", "good.py", "good.py"]


# ---------------------------------------------------------------- after


def test_after_runs_once_for_two_refreshed_sources_and_not_when_nothing_refreshed(home):
    scripts(home, "good.py", "deploy.py")
    fleet(home, source("a", after=["./deploy.py"]) + source("b", after=["./deploy.py"])
          + source("c", after=["./deploy.py"]))
    data(home, "c.json", age_s=10)
    r = tick(home)
    assert r.returncode == 0
    assert runs(home).count("deploy.py") == 1 and runs(home)[-1] == "deploy.py"
    assert "after ./deploy.py: ok" in r.stdout
    r = tick(home)
    assert r.returncode == 0 and runs(home).count("deploy.py") == 1 and runs(home).count("good.py") == 2


def test_a_failing_after_command_fails_the_tick(home):
    scripts(home, "good.py", "deploy_fail.py")
    fleet(home, source("a", after=["./deploy_fail.py"]))
    r = tick(home)
    assert r.returncode == 1
    assert "after ./deploy_fail.py: FAILED: after command ./deploy_fail.py exited 12: rsync: connection refused" \
        in r.stdout
    beat = latest(home, "alive-watchdog")
    assert beat["status"] == "error" and beat["metrics"]["refreshed"] == 1
    assert source_state(home, "a")["consecutive_failures"] == 0  # the data itself is fresh


# ---------------------------------------------------------------- lock, state, dry run


def test_two_watchdogs_started_at_once_one_runs_and_one_skips(home):
    script(home, "slow.py")
    fleet(home, source("track", producer="slow.py"))
    env = dict(os.environ, ALIVE_HOME=str(home))
    procs = [subprocess.Popen([sys.executable, str(ALIVE), "watchdog"], env=env, stdout=subprocess.PIPE,
                              stderr=subprocess.PIPE, text=True) for _ in range(2)]
    outs = [p.communicate(timeout=60) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], outs
    assert runs(home, "slow.py") == 1
    beats = sorted(json.loads(p.read_text())["status"] for p in (home / "health").glob("*_alive-watchdog_*.json"))
    assert beats == ["ok", "skipped"]
    skipped = [o for o, _ in outs if "skipped" in o]
    assert len(skipped) == 1 and "previous watchdog tick or refresh still running (pid " in skipped[0]


def test_a_corrupt_watchdog_json_is_set_aside_with_a_warning_and_the_tick_goes_on(home):
    script(home, "good.py")
    fleet(home, source("track"))
    (home / "state").mkdir()
    (home / "state" / "watchdog.json").write_text('{"sources": {"track": ')
    r = tick(home)
    assert r.returncode == 0 and "Traceback" not in r.stderr
    assert "warning: watchdog.json is not valid JSON" in r.stderr and "set aside as watchdog.json.corrupt-" in r.stderr
    aside = list((home / "state").glob("watchdog.json.corrupt-*"))
    assert len(aside) == 1 and aside[0].read_text() == '{"sources": {"track": '
    assert source_state(home, "track")["consecutive_failures"] == 0
    beat = latest(home, "alive-watchdog")
    assert beat["status"] == "partial" and "set aside" in beat["warnings"][0]


def test_dry_run_says_what_it_would_do_and_changes_nothing(home):
    scripts(home, "good.py", "probe_alive.py", "deploy.py")
    fleet(home, source("a", after=["./deploy.py"]) + source("b", probe="p") + source("c", producer=None)
          + source("d") + probe_table("p", "probe_alive.py"))
    data(home, "d.json", age_s=5)
    (home / "state").mkdir()
    (home / "state" / "watchdog.json").write_text("garbage")
    before = snapshot(home)
    r = tick(home, "--dry-run")
    assert r.returncode == 0, r.stderr
    assert snapshot(home) == before and runs(home) == []
    assert r.stdout.splitlines() == [
        "dry run: no producer, probe or after command runs; nothing is written",
        "would set aside state/watchdog.json, which is not valid JSON (Expecting value: line 1 column 1 "
        "(char 0)), and start afresh",
        "would refresh a (data file is missing (a.json)): ./good.py",
        "would re-probe p (probe p has no state younger than 3 x 10m), then refresh b "
        "(data file is missing (b.json)) if it says alive: ./good.py",
        "would not refresh c (data file is missing (c.json)): it has no producer",
        "would run after: ./deploy.py (once, if a refreshes)",
        "4 sources: 1 fresh, 3 stale; would try 2",
    ]


def test_consecutive_failures_reaching_alert_after_turn_the_source_red(home):
    script(home, "fail.py")
    fleet(home, source("shop", producer="fail.py", alert_after=2))
    data(home, "shop.json", age_s=3600)
    assert tick(home).returncode == 1
    item = check_items(home, run_alive)["shop"]
    assert item["color"] == "YELLOW" and item["consecutive_failures"] == 1
    assert latest(home, "alive-watchdog")["status"] == "partial"
    assert tick(home).returncode == 1
    item = check_items(home, run_alive)["shop"]
    assert item["color"] == "RED" and item["consecutive_failures"] == 2
    assert "2 failed refreshes in a row (alert after 2): producer exited 1: boom: upstream said 503" \
        in item["reasons"]
    assert latest(home, "alive-watchdog")["status"] == "partial"   # the source is the news (issue 10.8)
    assert (home / "alerts" / "source.shop.alert").exists()  # the tick's own check wrote it


def test_a_paused_stale_source_is_left_alone_by_the_tick(home):
    script(home, "good.py")
    fleet(home, source("shop"))
    assert run_alive("pause", "source:shop", home=home).returncode == 0
    r = tick(home)
    assert r.returncode == 0 and runs(home) == []
    assert latest(home, "alive-watchdog")["metrics"]["paused"] == 1
    assert latest(home, "alive-watchdog")["status"] == "ok"


# ---------------------------------------------------------------- notifications


def test_a_probe_expired_source_is_told_once_through_the_command_channel(home):
    scripts(home, "good.py", "probe_expired.py", "notified.py")
    fleet(home, source("shop", probe="browser") + probe_table("browser", "probe_expired.py")
          + f'[notify]\nrecovery = true\n[notify.command]\nargv = ["{home / "notified.py"}"]\n')
    data(home, "shop.json", age_s=60)
    run_alive("probe", home=home)
    tick(home)
    tick(home)
    messages = (home / "notified.log").read_text().split("\n---\n")[:-1]
    shop = [m for m in messages if "shop" in m]
    assert len(shop) == 1 and "re-authenticate" in shop[0]


# ---------------------------------------------------------------- idle ticks


def test_an_idle_tick_runs_nothing_rewrites_no_state_and_imports_no_subprocess(home):
    script(home, "good.py")
    fleet(home, "".join(source(f"s{i}") for i in range(20)))
    good = {f"s{i}": {"last_success_at": json.loads(data(home, f"s{i}.json", age_s=30).read_text())["captured_at"]}
            for i in range(20)}                            # the good data already recorded by an earlier tick
    (home / "state").mkdir()
    (home / "state" / "watchdog.json").write_text(json.dumps({"sources": good}))
    assert run_alive("check", home=home).returncode == 2  # the watchdog never reported: RED
    assert (home / "alerts" / "alive-watchdog.alert").exists()
    stamp = (home / "state" / "watchdog.json").stat().st_mtime_ns
    code = ("import sys; sys.path.insert(0, %r); from alive.cli import main; rc = main(['watchdog']); "
            "print('subprocess' in sys.modules, 'urllib.request' in sys.modules); sys.exit(rc)"
            % str(ROOT / "lib"))
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                       env=dict(os.environ, ALIVE_HOME=str(home)), timeout=60)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == ["20 sources: 20 fresh", "False False"]
    assert runs(home) == [] and (home / "state" / "watchdog.json").stat().st_mtime_ns == stamp
    # judged with its own new heartbeat: the watchdog is no longer RED, its alert is gone
    assert not (home / "alerts" / "alive-watchdog.alert").exists()


# ---------------------------------------------------------------- the pure core


def src(**kw):
    base = dict(name="s", path="s.json", max_age=900)
    base.update(kw)
    return registry.Source(**base)


def facts_at(age_s, **kw):
    return SourceFacts("s", NOW - timedelta(seconds=age_s), **kw)


def test_staleness_at_one_second_before_at_and_after_max_age():
    s = src()
    assert watchdog_plan.stale_reason(s, facts_at(899), NOW) is None
    assert watchdog_plan.stale_reason(s, facts_at(900), NOW) is None
    assert watchdog_plan.stale_reason(s, facts_at(901), NOW) == "data is 15m old (max age 15m)"
    assert watchdog_plan.stale_reason(s, SourceFacts("s", None, "is missing (s.json)"), NOW) == \
        "data file is missing (s.json)"
    assert watchdog_plan.stale_reason(s, facts_at(-3600), NOW) is None  # clock skew is check's to report


def test_the_probe_gate_at_one_second_before_at_and_after_3_intervals():
    reg = registry.Registry(path=None, home=None, probes={"p": registry.Probe("p", ["x"], interval=600)})
    s = src(probe="p", producer=["x"])

    def entry(age_s, st="alive"):
        return {"state": st, "checked_at": (NOW - timedelta(seconds=age_s)).strftime("%Y-%m-%dT%H:%M:%SZ")}

    assert watchdog_plan.gate(s, reg, entry(1799), NOW)[0] == watchdog_plan.REFRESH
    assert watchdog_plan.gate(s, reg, entry(1800), NOW)[0] == watchdog_plan.REFRESH
    assert watchdog_plan.gate(s, reg, entry(1801), NOW)[0] == watchdog_plan.PROBE_FIRST
    assert watchdog_plan.gate(s, reg, None, NOW)[0] == watchdog_plan.PROBE_FIRST
    assert watchdog_plan.gate(s, reg, entry(10, "no_tab"), NOW) == (
        watchdog_plan.SKIP, "probe p says no_tab: a person must re-authenticate")
    assert watchdog_plan.gate(src(producer=["x"]), reg, None, NOW) == (watchdog_plan.REFRESH, None)


def test_plan_honours_pauses_in_a_tick_but_not_when_asked_by_name():
    reg = registry.Registry(path=None, home=None, sources={"s": src(producer=["x"])})
    paused = {"since": "2026-05-01T00:00:00Z", "until": None}
    sf = {"s": facts_at(3600, pause=paused)}
    assert [s.decision for s in watchdog_plan.plan(reg, sf, NOW)] == [watchdog_plan.PAUSED]
    [step] = watchdog_plan.plan(reg, sf, NOW, names=["s"])
    assert step.decision == watchdog_plan.REFRESH
    [step] = watchdog_plan.plan(reg, {"s": facts_at(10)}, NOW, names=["s"])
    assert (step.decision, step.stale) == (watchdog_plan.REFRESH, "asked for")


def test_tick_status_ok_partial_error():
    o = watchdog_plan.Outcome
    assert watchdog_plan.tick_status([o("a", "refreshed")], [], []) == "ok"
    assert watchdog_plan.tick_status([o("a", "skipped")], [], []) == "partial"
    assert watchdog_plan.tick_status([o("a", "failed", consecutive_failures=1)], [], []) == "partial"
    assert watchdog_plan.tick_status([o("a", "failed", consecutive_failures=3, alerting=True)], [], []) == "partial"
    assert watchdog_plan.tick_status([], [{"ok": False}], []) == "error"
    assert watchdog_plan.tick_status([], [], ["state set aside"]) == "partial"
    assert health.WATCHDOG_TASK == watchdog.TASK
