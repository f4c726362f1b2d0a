"""`alive export prometheus`: node_exporter textfile format."""
import json
import os
import re
import shutil
import subprocess
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive
from helpers import at, beat

from test_lateness import WEEKS

from alive.config import registry
from alive.write import heartbeat
from alive.check import facts, health, lateness
from alive.report import export
from alive.config.schedule import fires_between, parse_schedule

NOW = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)


def metrics(home, now=NOW):
    reg = registry.load(home / "fleet.toml", home)
    f = facts.gather(reg, home, now, 1)
    return export.render(f, health.evaluate(reg, f, now))


def samples(text):
    """{(name, labels text): value} of every sample line."""
    out = {}
    for line in text.splitlines():
        if line and not line.startswith("#"):
            m = re.fullmatch(r"(\w+)(\{.*\})? (\S+)", line)
            assert m, line
            out[(m.group(1), m.group(2) or "")] = float(m.group(3))
    return out


def test_every_family_has_help_and_type_gauge_before_its_samples(home):
    beat(home, "etl", NOW - timedelta(minutes=5))
    text = metrics(home)
    for name, _ in export.FAMILIES:
        help_at, type_at = text.index(f"# HELP {name} "), text.index(f"# TYPE {name} gauge\n")
        assert help_at < type_at
        for m in re.finditer(rf"^{name}[{{ ]", text, re.M):
            assert m.start() > type_at
    assert text.endswith("\n")


def test_task_metrics(home):
    epoch = lambda dt: dt.timestamp()   # noqa: E731
    beat(home, "etl", NOW - timedelta(hours=3), took=12)
    beat(home, "etl", NOW - timedelta(hours=2), status="error")
    beat(home, "etl", NOW - timedelta(hours=1), status="error", took=7)
    s = samples(metrics(home))
    assert s[("alive_task_last_run_timestamp_seconds", '{task="etl"}')] == epoch(NOW - timedelta(hours=1))
    assert s[("alive_task_last_duration_seconds", '{task="etl"}')] == 7
    assert s[("alive_task_last_success_timestamp_seconds", '{task="etl"}')] == epoch(NOW - timedelta(hours=3))
    assert s[("alive_task_consecutive_errors", '{task="etl"}')] == 2


def test_the_last_success_is_looked_for_only_as_far_back_as_check_reads(home):
    beat(home, "etl", NOW - timedelta(hours=20))
    for n in range(10):                                  # 10 errors in a row: the walk stops there
        beat(home, "etl", NOW - timedelta(hours=10 - n), status="error")
    s = samples(metrics(home))
    assert ("alive_task_last_success_timestamp_seconds", '{task="etl"}') not in s
    assert s[("alive_task_consecutive_errors", '{task="etl"}')] == 10
    beat(home, "other", NOW - timedelta(hours=20), status="skipped")
    for n in range(9):
        beat(home, "other", NOW - timedelta(hours=10 - n), status="error")
    assert samples(metrics(home))[("alive_task_last_success_timestamp_seconds", '{task="other"}')] == \
        (NOW - timedelta(hours=20)).timestamp()


def test_partial_counts_as_a_success(home):
    beat(home, "etl", NOW - timedelta(hours=1), status="partial")
    assert samples(metrics(home))[("alive_task_last_success_timestamp_seconds", '{task="etl"}')] == \
        (NOW - timedelta(hours=1)).timestamp()


def test_item_and_overall_status_one_hot(home):
    beat(home, "etl", NOW - timedelta(minutes=5), status="partial")
    s = samples(metrics(home))
    got = {c: s[("alive_item_status", f'{{kind="task",name="etl",color="{c}"}}')] for c in export.COLORS}
    assert got == {"GREEN": 0, "YELLOW": 1, "RED": 0, "GREY": 0}
    overall = {c: s[("alive_overall_status", f'{{color="{c}"}}')] for c in export.COLORS}
    assert overall == {"GREEN": 0, "YELLOW": 1, "RED": 0, "GREY": 0}


def test_source_metrics(home):
    (home / "fleet.toml").write_text('[sources.track]\npath = "t.json"\nmax_age = "15m"\n'
                                     '[sources.gone]\npath = "gone.json"\nmax_age = "1h"\n')
    (home / "t.json").write_text(json.dumps({"captured_at": "2026-05-02T07:58:00Z"}))
    s = samples(metrics(home))
    assert s[("alive_source_age_seconds", '{source="track"}')] == 120
    assert s[("alive_source_max_age_seconds", '{source="track"}')] == 900
    assert ("alive_source_age_seconds", '{source="gone"}') not in s          # unknown age: no sample
    assert s[("alive_source_max_age_seconds", '{source="gone"}')] == 3600
    assert s[("alive_item_status", '{kind="source",name="gone",color="RED"}')] == 1


def test_label_values_are_escaped():
    assert export.label_value('a"b\\c\nd') == 'a\\"b\\\\c\\nd'
    assert export.labels(task='x"}\n') == '{task="x\\"}\\n"}'


def test_a_broken_newest_file_leaves_only_status_and_errors(home):
    (home / "health").mkdir()
    (home / "health" / "2026-05-02_etl_0700.json").write_text("{")
    s = samples(metrics(home))
    assert s[("alive_item_status", '{kind="task",name="etl",color="RED"}')] == 1
    assert ("alive_task_last_run_timestamp_seconds", '{task="etl"}') not in s


def test_the_command_writes_atomically_and_says_where_as_report_does(home, tmp_path):
    beat(home, "etl", datetime.now(timezone.utc))
    out = tmp_path / "textfile" / "alive.prom"
    out.parent.mkdir()           # node_exporter's textfile folder exists; alive does not invent it
    r = run_alive("export", "prometheus", "--out", out, home=home)
    assert r.returncode == 0 and r.stderr == "" and r.stdout == f"alive export: wrote {out} (prometheus)\n"
    assert 'alive_item_status{kind="task",name="etl",color="GREEN"} 1' in out.read_text()
    assert [p.name for p in out.parent.iterdir()] == ["alive.prom"]
    r = run_alive("export", "prometheus", home=home)
    assert r.returncode == 0 and r.stdout.startswith("# HELP alive_task_last_success_timestamp_seconds ")


def test_an_unknown_target_is_exit_3(home):
    r = run_alive("export", "graphite", home=home)
    assert r.returncode == 3 and r.stderr.count("\n") == 1 and "invalid choice: 'graphite'" in r.stderr


@pytest.mark.skipif(not shutil.which("promtool"),
                    reason="promtool is not installed (Debian: apt-get install prometheus; .ci/run tries)")
def test_promtool_accepts_the_output(home):
    (home / "fleet.toml").write_text('[sources.track]\npath = "t.json"\nmax_age = "15m"\n'
                                     '[tasks.daily]\nschedule = "daily 07:00"\n[tasks.new]\nschedule = "daily 09:00"\n')
    (home / "t.json").write_text(json.dumps({"captured_at": "2026-05-02T07:58:00Z"}))
    beat(home, "etl", NOW - timedelta(hours=2), status="error", errors=['quote " and \\ backslash'])
    beat(home, "legacy_task.v2", NOW - timedelta(hours=1), status="partial")
    beat(home, "daily", NOW - timedelta(hours=1))
    os.utime(home / "fleet.toml", ((NOW - timedelta(hours=1)).timestamp(),) * 2)   # "new" first seen then
    pause(home, "task:etl")                            # +Inf: paused until resumed
    text = metrics(home)
    assert "alive_task_deadline_timestamp_seconds{" in text and " +Inf\n" in text
    assert 'alive_task_waiting{task="new"} 1' in text
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    broken = text.replace("# TYPE alive_overall_status gauge\n", "# TYPE alive_overall_status gauge\nbad line\n")
    r = subprocess.run(["promtool", "check", "metrics"], input=broken, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0                           # promtool really checks: the test can fail


# ---------------------------------------------------------------- deadlines, pauses, waiting (issue 18, item 22)

S = timedelta(seconds=1)


def task_color(home, now, name="job"):
    reg = registry.load(home / "fleet.toml", home)
    return next(i for i in health.evaluate(reg, facts.gather(reg, home, now, 1), now).items if i.name == name).color


def deadline(home, now, name="job"):
    return samples(metrics(home, now)).get(("alive_task_deadline_timestamp_seconds", f'{{task="{name}"}}'))


def assert_alive_turns_red_one_second_after(home, when, name="job"):
    """The exported deadline is the instant alive's own check turns the task RED."""
    assert [task_color(home, when + d, name) for d in (-S, timedelta(0), S)] == ["GREEN", "GREEN", "RED"]


@pytest.mark.parametrize("now", ["2026-05-02T08:30:00Z", "2026-05-02T12:10:00Z", "2026-05-02T12:24:00Z"])
def test_a_scheduled_task_exports_its_expected_run_plus_grace_not_its_max_gap(home, zone, now):
    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.job]\nschedule = "daily 08:00,12:00,16:00"\n')
    beat(home, "job", at("2026-05-02T08:00:35Z"))
    # the run expected at 12:00 (grace 10% of the 4h before it: 24m), also while within its grace
    assert deadline(home, at(now)) == at("2026-05-02T12:24:00Z").timestamp()
    assert_alive_turns_red_one_second_after(home, at("2026-05-02T12:24:00Z"))
    assert deadline(home, at("2026-05-02T13:00:00Z")) == at("2026-05-02T12:24:00Z").timestamp()   # late: past


def test_a_late_calendar_deadline_after_a_dst_night_is_still_where_alive_judges_it(home, zone):
    zone("Europe/Berlin")
    (home / "fleet.toml").write_text('[tasks.job]\nschedule = "cron 30 2 * * *"\n')   # no 02:30 on 2026-03-29
    beat(home, "job", at("2026-03-28T01:30:40Z"))          # started 01:30:10Z, 02:30:10 CET
    fire = at("2026-03-29T01:00:00Z")                # cron runs it at 03:00 CEST, after the jump
    when = fire + timedelta(seconds=int((fire - at("2026-03-28T01:30:00Z")).total_seconds()) // 10)
    assert deadline(home, at("2026-03-28T12:00:00Z")) == when.timestamp()
    assert_alive_turns_red_one_second_after(home, when)


def test_an_every_task_and_an_explicit_grace(home, zone):
    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.job]\nschedule = "every 15m"\ngrace = "2m"\n')
    beat(home, "job", at("2026-05-02T07:50:00Z"), took=0)
    assert deadline(home, NOW) == at("2026-05-02T08:07:00Z").timestamp()
    assert_alive_turns_red_one_second_after(home, at("2026-05-02T08:07:00Z"))


def test_a_max_gap_deadline_for_an_unscheduled_task_and_the_earlier_of_both(home, zone):
    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.job]\nmax_gap = "3h"\n'
                                     '[tasks.both]\nschedule = "daily 08:00,20:00"\nmax_gap = "2h"\n')
    beat(home, "job", at("2026-05-02T07:00:00Z"))
    beat(home, "both", at("2026-05-02T07:00:00Z"))
    assert deadline(home, NOW) == at("2026-05-02T10:00:00Z").timestamp()
    assert_alive_turns_red_one_second_after(home, at("2026-05-02T10:00:00Z"))
    # its schedule expects 08:00 + 1h12m, its max gap 09:00: the earlier one rules
    assert deadline(home, NOW, "both") == at("2026-05-02T09:00:00Z").timestamp()
    assert_alive_turns_red_one_second_after(home, at("2026-05-02T09:00:00Z"), "both")


def test_a_complete_task_and_a_task_without_readable_runs_have_no_deadline(home):
    heartbeat.write(home / "health", heartbeat.build("done", NOW - timedelta(days=3), complete=True))
    (home / "health" / "2026-05-02_broken_0700.json").write_text("{")
    assert deadline(home, NOW, "done") is None and deadline(home, NOW, "broken") is None


def test_a_waiting_task_exports_its_first_deadline_and_says_it_waits(home, zone):
    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.job]\nschedule = "daily 09:00"\n')
    seen = at("2026-05-02T07:00:00Z")
    os.utime(home / "fleet.toml", (seen.timestamp(), seen.timestamp()))
    first = at("2026-05-02T09:00:00Z") + timedelta(seconds=24 * 3600 // 10)
    s = samples(metrics(home, NOW))
    assert s[("alive_task_waiting", '{task="job"}')] == 1
    assert s[("alive_task_deadline_timestamp_seconds", '{task="job"}')] == first.timestamp()
    assert [task_color(home, first + d) for d in (-S, timedelta(0), S)] == ["GREY", "GREY", "RED"]
    assert samples(metrics(home, first + S))[("alive_task_waiting", '{task="job"}')] == 0
    beat(home, "job", at("2026-05-02T09:00:10Z"))
    assert samples(metrics(home, first + S))[("alive_task_waiting", '{task="job"}')] == 0


def pause(home, key, until=None):
    (home / "state").mkdir(exist_ok=True)
    doc = {key: {"since": "2026-05-02T07:00:00Z", "until": until, "reason": "maintenance"}}
    (home / "state" / "pauses.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("until, value", [(None, float("inf")), ("2026-05-02T09:00:00Z", at("2026-05-02T09:00:00Z").timestamp())])
def test_a_paused_item_exports_when_its_pause_ends(home, until, value):
    (home / "fleet.toml").write_text('[tasks.job]\nmax_gap = "1h"\n[sources.track]\npath = "t.json"\nmax_age = "15m"\n')
    beat(home, "job", NOW - timedelta(hours=2))
    pause(home, "task:job", until)
    text = metrics(home)
    s = samples(text)
    assert s[("alive_item_paused_until_timestamp_seconds", '{kind="task",name="job"}')] == value
    assert ("alive_item_paused_until_timestamp_seconds", '{kind="source",name="track"}') not in s
    assert s[("alive_item_status", '{kind="task",name="job",color="GREY"}')] == 1
    if until is None:
        assert 'alive_item_paused_until_timestamp_seconds{kind="task",name="job"} +Inf\n' in text
    pause(home, "source:track", until)
    assert samples(metrics(home))[("alive_item_paused_until_timestamp_seconds", '{kind="source",name="track"}')] == value


def test_a_pause_that_has_ended_is_not_exported(home):
    (home / "fleet.toml").write_text('[tasks.job]\nmax_gap = "1h"\n')
    beat(home, "job", NOW - timedelta(minutes=5))
    pause(home, "task:job", "2026-05-02T07:30:00Z")
    assert not any(name == "alive_item_paused_until_timestamp_seconds" for name, _ in samples(metrics(home)))


@pytest.mark.parametrize("spec,zone_info,start", WEEKS)
def test_the_deadline_is_where_alive_turns_late_over_weeks_with_dst_nights(spec, zone_info, start):
    schedule = parse_schedule(spec)
    begin = at(start)
    fires = fires_between(schedule, begin, begin + timedelta(days=21), zone_info)
    for previous in fires:
        last_run = previous + timedelta(seconds=20)
        due = lateness.deadline(schedule, None, last_run, zone_info)
        states = [lateness.expect(schedule, None, last_run, None, due + d, zone_info).state for d in (-S, 0 * S, S)]
        assert states == [lateness.ON_TIME, lateness.ON_TIME, lateness.LATE], (spec, previous, due)


def test_a_source_captured_in_the_future_exports_age_zero(home):
    """README: durations are never negative (the item's reason says clock skew)."""
    (home / "fleet.toml").write_text('[sources.track]\npath = "t.json"\nmax_age = "15m"\n')
    (home / "t.json").write_text(json.dumps({"captured_at": "2030-01-01T00:00:00Z"}))
    assert samples(metrics(home))[("alive_source_age_seconds", '{source="track"}')] == 0


def test_a_completed_at_years_ahead_is_not_exported_as_truth(home):
    """The run started 2 h ago; its completed_at (2035) cannot be trusted: the last run and
    success times are its start, and there is no duration (8 years is not one)."""
    start = NOW - timedelta(hours=2)
    hb = heartbeat.build("etl", start, started_at=start, completed_at=datetime(2035, 1, 1, tzinfo=timezone.utc))
    heartbeat.write(home / "health", hb)
    s = samples(metrics(home))
    assert s[("alive_task_last_run_timestamp_seconds", '{task="etl"}')] == start.timestamp()
    assert s[("alive_task_last_success_timestamp_seconds", '{task="etl"}')] == start.timestamp()
    assert ("alive_task_last_duration_seconds", '{task="etl"}') not in s
