"""Judging a task the way its schedule means it (issue 11): lateness against the expected
run + grace, onboarding, recover_after, slow_after, `alive run --complete`, and lint's
max_gap warning. Every threshold one second before, at and after, over a week of fire
times, DST nights included."""
import json
import os
import sys
from datetime import timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from conftest import heartbeats, run_alive
from helpers import at
from freezegun import freeze_time

from alive.config import registry
from alive.write import heartbeat
from alive.check import lateness
from alive.check.cmd_check import run_check
from alive.config.schedule import fires_between, parse_schedule

UTC = timezone.utc
S = timedelta(seconds=1)
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")


# ---------------------------------------------------------------- the pure rule, a week of fires

WEEKS = [  # schedule, zone, a week that holds a DST night
    ("daily 08:00,12:00,16:00", BERLIN, "2026-03-25T00:00:00Z"),
    ("daily 09:00,13:00,17:00,22:00", BERLIN, "2026-10-21T00:00:00Z"),
    ("weekly mon 06:00", NEW_YORK, "2026-02-25T00:00:00Z"),
    ("cron 30 2 * * *", BERLIN, "2026-03-25T00:00:00Z"),       # 02:30 does not exist on 2026-03-29
    ("cron 30 1 * * *", NEW_YORK, "2026-10-29T00:00:00Z"),     # 01:30 happens twice on 2026-11-01
]


@pytest.mark.parametrize("spec,zone_info,start", WEEKS)
def test_each_expected_run_is_late_one_second_after_its_grace(spec, zone_info, start):
    schedule = parse_schedule(spec)
    begin = at(start)
    fires = fires_between(schedule, begin, begin + timedelta(days=21), zone_info)
    assert len(fires) >= 3
    for previous, fire in zip(fires, fires[1:]):
        gap = (fire - previous).total_seconds()
        grace = timedelta(seconds=max(300, int(gap) // 10))
        last_run = previous + timedelta(seconds=20)           # the previous run happened; this one did not
        for offset, state in ((-S, lateness.ON_TIME), (timedelta(0), lateness.ON_TIME), (S, lateness.LATE)):
            got = lateness.expect(schedule, None, last_run, None, fire + grace + offset, zone_info)
            assert got.state == state, (spec, fire, offset, got)
            if state == lateness.LATE:
                assert got.expected_at == fire and got.grace_s == grace.total_seconds()
        # a run that started at the fire time is on time, however late it is checked
        assert lateness.expect(schedule, None, fire, None, fire + grace + S, zone_info).state == lateness.ON_TIME


def test_the_spring_forward_night_expects_the_moved_run_and_the_repeated_hour_once():
    nightly = parse_schedule("cron 30 2 * * *")
    # 02:30 Berlin does not exist on 2026-03-29: the run is expected at 03:00 CEST (01:00Z)
    last = at("2026-03-28T01:30:00Z")
    grace = timedelta(seconds=(at("2026-03-29T01:00:00Z") - at("2026-03-28T01:30:00Z")).total_seconds() // 10)
    late = lateness.expect(nightly, None, last, None, at("2026-03-29T01:00:00Z") + grace + S, BERLIN)
    assert late.state == lateness.LATE and late.expected_at == at("2026-03-29T01:00:00Z")
    # 01:30 New York happens twice on 2026-11-01: one run, the first, is expected
    ny = parse_schedule("cron 30 1 * * *")
    first_pass = at("2026-11-01T05:30:00Z")
    got = lateness.expect(ny, None, first_pass, None, at("2026-11-01T06:30:00Z") + timedelta(hours=3), NEW_YORK)
    assert got.state == lateness.ON_TIME


def test_an_adopted_systemd_timer_expects_no_run_on_the_night_systemd_skips():
    # `systemd 02:30` (an adopted timer) in Berlin: systemd does not fire on 2026-03-29, the night
    # 02:30 does not exist (systemd-analyze: tests/config/test_schedule_dst.py); cron's rule would
    # expect 03:00 and page. The next expected run is 2026-03-30 02:30 CEST (00:30Z).
    timer = parse_schedule("systemd 02:30")
    last = at("2026-03-28T01:30:00Z")                        # 02:30 CET on the 28th
    grace = timedelta(seconds=(at("2026-03-30T00:30:00Z") - last).total_seconds() // 10)
    for now, state in ((at("2026-03-29T12:00:00Z"), lateness.ON_TIME),
                       (at("2026-03-30T00:30:00Z") + grace - S, lateness.ON_TIME),
                       (at("2026-03-30T00:30:00Z") + grace, lateness.ON_TIME),
                       (at("2026-03-30T00:30:00Z") + grace + S, lateness.LATE)):
        got = lateness.expect(timer, None, last, None, now, BERLIN)
        assert got.state == state, (now, got)
    assert got.expected_at == at("2026-03-30T00:30:00Z")
    cron = lateness.expect(parse_schedule("cron 30 2 * * *"), None, last, None, at("2026-03-29T12:00:00Z"), BERLIN)
    assert cron.state == lateness.LATE and cron.expected_at == at("2026-03-29T01:00:00Z")


@pytest.mark.parametrize("offset,state", [(-S, lateness.ON_TIME), (timedelta(0), lateness.ON_TIME),
                                          (S, lateness.LATE)])
def test_an_adopted_quarter_hour_timer_expects_the_repeated_hour_once(offset, state):
    # `systemd *:0/15` in New York on 2026-11-01: 01:00-01:45 EDT run, 01:00-01:45 EST do not
    # (systemd runs a repeated time once); the run after 01:45 EDT (05:45Z) is 02:00 EST (07:00Z).
    # cron's rule for `*/15 * * * *` expects 01:00 EST (06:00Z) and pages at 06:05Z.
    timer = parse_schedule("systemd *:0/15")
    last = at("2026-11-01T05:45:00Z")
    assert lateness.expect(timer, None, last, None, at("2026-11-01T06:50:00Z"), NEW_YORK).state == lateness.ON_TIME
    cron = parse_schedule("cron */15 * * * *")
    assert lateness.expect(cron, None, last, None, at("2026-11-01T06:05:01Z"), NEW_YORK).state == lateness.LATE
    # its grace is 10% of the 75 minutes since the 01:45 EDT run: 450 s
    got = lateness.expect(timer, None, last, None, at("2026-11-01T07:07:30Z") + offset, NEW_YORK)
    assert got.state == state
    if state == lateness.LATE:
        assert got.expected_at == at("2026-11-01T07:00:00Z") and got.grace_s == 450


@pytest.mark.parametrize("offset,state", [(-S, lateness.ON_TIME), (timedelta(0), lateness.ON_TIME),
                                          (S, lateness.LATE)])
def test_every_is_judged_from_the_last_start_not_from_anchored_fires(offset, state):
    """launchd's StartInterval has no anchor: a run at :07 is not late at :20."""
    every = parse_schedule("every 15m")
    last = at("2026-05-02T12:07:00Z")
    got = lateness.expect(every, None, last, None, last + timedelta(minutes=15 + 5) + offset, UTC)
    assert got.state == state and got.grace_s == 300
    assert lateness.expect(every, None, last, None, at("2026-05-02T12:20:00Z"), UTC).state == lateness.ON_TIME


@pytest.mark.parametrize("offset,state", [(-S, lateness.ON_TIME), (timedelta(0), lateness.ON_TIME),
                                          (S, lateness.LATE)])
def test_an_explicit_grace_replaces_the_default(offset, state):
    daily = parse_schedule("daily 12:00")
    last = at("2026-05-01T12:00:00Z")
    now = at("2026-05-02T12:30:00Z") + offset
    assert lateness.expect(daily, 1800, last, None, now, UTC).state == state


def test_default_grace_is_ten_percent_at_least_five_minutes():
    assert lateness.default_grace(86400) == 8640
    assert lateness.default_grace(3000) == 300 == lateness.default_grace(60)


@pytest.mark.parametrize("offset,state", [(-S, lateness.WAITING), (timedelta(0), lateness.WAITING),
                                          (S, lateness.NEVER)])
def test_a_task_never_run_waits_for_its_first_expected_run_plus_grace(offset, state):
    daily = parse_schedule("daily 08:00,12:00,16:00")
    seen = at("2026-05-02T09:10:00Z")               # registered after the 08:00 run
    grace = timedelta(minutes=24)                     # 10% of 08:00 -> 12:00
    got = lateness.expect(daily, None, None, seen, at("2026-05-02T12:00:00Z") + grace + offset, UTC)
    assert got.state == state and got.expected_at == at("2026-05-02T12:00:00Z")


def test_clock_text_says_the_day_when_it_is_not_today():
    now = at("2026-05-02T10:00:00Z")
    assert lateness.clock_text(at("2026-05-02T12:00:00Z"), now, UTC) == "12:00 UTC"
    assert lateness.clock_text(at("2026-05-04T06:00:00Z"), now, UTC) == "Mon 06:00 UTC"
    assert lateness.clock_text(at("2026-06-01T06:00:00Z"), now, UTC) == "2026-06-01 06:00 UTC"


# ---------------------------------------------------------------- through check, with files

def fleet(home, text):
    (home / "fleet.toml").write_text(text)
    os.utime(home / "fleet.toml", (0, 0))           # registered long ago: no onboarding wait
    return registry.load(home / "fleet.toml", home)


def beat(home, task, started, status="ok", took=0, **kw):
    hb = heartbeat.build(task, started + timedelta(seconds=took), status=status, started_at=started,
                         completed_at=started + timedelta(seconds=took), **kw)
    heartbeat.write(home / "health", hb)


def item(home, reg, now, name="job"):
    result = run_check(home, reg, now)
    return next(i for i in result.items if i.name == name)


@pytest.mark.parametrize("offset,color", [(-S, "GREEN"), (timedelta(0), "GREEN"), (S, "RED")])
def test_check_says_which_run_is_late_its_grace_and_the_next(home, zone, offset, color):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "daily 08:00,12:00,16:00"\n')
    beat(home, "job", at("2026-05-02T08:00:05Z"))
    it = item(home, reg, at("2026-05-02T12:24:00Z") + offset)
    assert it.color == color
    if color == "RED":
        assert it.reasons == ["late: expected 12:00 UTC, grace 24m; next expected 16:00 UTC"]
        assert it.details["expected_at"] == "2026-05-02T12:00:00Z"
        assert it.details["next_expected_at"] == "2026-05-02T16:00:00Z" and it.details["grace_s"] == 1440


def test_the_night_between_runs_is_not_red_any_more(home, zone):
    """The motivating case: max_gap 8h on daily 08:00,12:00,16:00 was RED every night."""
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "daily 08:00,12:00,16:00"\n')
    beat(home, "job", at("2026-05-02T16:00:03Z"))
    for hour in range(17, 24 + 9):
        now = at("2026-05-02T00:00:00Z") + timedelta(hours=hour)
        assert item(home, reg, now).color == "GREEN", now
    assert item(home, reg, at("2026-05-03T09:36:01Z")).color == "RED"     # 08:00 + 10% of 16h


def test_a_run_in_progress_is_a_run(home, zone):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "daily 12:00"\nmax_runtime = "6h"\n')
    beat(home, "job", at("2026-05-01T12:00:00Z"))
    marker = {"pid": os.getpid(), "task_id": "job", "host": os.uname().nodename, "started_at": "2026-05-02T12:01:00Z"}
    (home / "state" / "running").mkdir(parents=True)
    (home / "state" / "running" / "job.json").write_text(json.dumps(marker))
    assert item(home, reg, at("2026-05-02T15:00:00Z")).color == "GREEN"


def test_max_gap_stays_a_hard_ceiling_when_set(home, zone):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "every 1h"\nmax_gap = "30m"\ngrace = "2h"\n')
    beat(home, "job", at("2026-05-02T12:00:00Z"))
    assert item(home, reg, at("2026-05-02T12:30:00Z")).color == "GREEN"
    assert item(home, reg, at("2026-05-02T12:30:01Z")).reasons == ["no heartbeat for 30m (max gap 30m)"]


def test_a_complete_task_is_never_late(home, zone):
    zone("UTC")
    reg = fleet(home, '[tasks.backfill]\nschedule = "daily 03:00"\n')
    beat(home, "backfill", at("2026-01-01T03:00:00Z"), complete=True)
    assert item(home, reg, at("2026-05-02T12:00:00Z"), "backfill").color == "GREEN"


# ---------------------------------------------------------------- onboarding through the CLI

def test_a_new_task_waits_grey_then_turns_red(home, zone):
    from alive.cli import main

    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.new]\nschedule = "daily 12:00"\n')
    seen = "2026-05-02T09:00:00Z"
    os.utime(home / "fleet.toml", (at(seen).timestamp() - 3600,) * 2)    # saved an hour before
    with freeze_time(seen):
        assert main(["check"]) == 0                                       # GREY is not counted
    first = json.loads((home / "state" / "first-seen.json").read_text())["tasks"]
    assert first == {"new": "2026-05-02T08:00:00Z"}                      # registered by then at the latest
    reg = registry.load(home / "fleet.toml", home)
    grace = timedelta(seconds=8640)                                       # 10% of a day
    waiting = item(home, reg, at("2026-05-02T12:00:00Z") + grace, "new")
    assert waiting.color == "GREY" and waiting.reasons == ["waiting for first run (expected 12:00 UTC)"]
    red = item(home, reg, at("2026-05-02T12:00:00Z") + grace + S, "new")
    assert red.color == "RED" and red.reasons == ["never reported: expected first run 12:00 UTC, grace 2h24m"]
    with freeze_time(at("2026-05-02T12:00:00Z") + grace + S):
        assert main(["check"]) == 2


def test_waiting_items_do_not_count_in_the_overall_color(home, zone):
    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.new]\nschedule = "daily 12:00"\n')
    os.utime(home / "fleet.toml", (at("2026-05-02T09:00:00Z").timestamp(),) * 2)
    reg = registry.load(home / "fleet.toml", home)
    result = run_check(home, reg, at("2026-05-02T10:00:00Z"))
    assert result.overall == "GREEN" and result.items[0].color == "GREY"


def test_a_first_seen_in_the_future_never_hides_a_task(home, zone):
    """The clock stepped back after the task was first seen: no wait can be trusted."""
    zone("UTC")
    (home / "fleet.toml").write_text('[tasks.new]\nschedule = "daily 12:00"\n')
    (home / "state").mkdir()
    (home / "state" / "first-seen.json").write_text(json.dumps({"tasks": {"new": "2027-01-01T00:00:00Z"}}))
    reg = registry.load(home / "fleet.toml", home)
    assert item(home, reg, at("2026-05-02T10:00:00Z"), "new").color == "RED"


# ---------------------------------------------------------------- thresholds both ways

@pytest.mark.parametrize("statuses,color", [
    (["error"], "YELLOW"), (["error", "error"], "RED"),
    (["error", "error", "ok"], "RED"), (["error", "error", "ok", "ok"], "GREEN"),
    (["error", "ok"], "GREEN"), (["error", "error", "ok", "error"], "YELLOW"),
    (["ok", "ok"], "GREEN"),
])
def test_alert_after_and_recover_after(home, zone, statuses, color):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "every 1h"\nalert_after = 2\nrecover_after = 2\n')
    start = at("2026-05-02T00:00:00Z")
    for n, status in enumerate(statuses):
        beat(home, "job", start + timedelta(hours=n), status=status)
    it = item(home, reg, start + timedelta(hours=len(statuses) - 1, minutes=1))
    assert it.color == color, it.reasons
    if statuses == ["error", "error", "ok"]:
        assert it.reasons == ["recovering: 1 of 2 ok runs needed after 2 failed runs in a row"]


# ---------------------------------------------------------------- slow runs

@pytest.mark.parametrize("last_minutes,color", [(29, "GREEN"), (30, "GREEN"), (31, "YELLOW")])
def test_slow_after_a_factor_of_the_median(home, zone, last_minutes, color):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "every 1h"\nslow_after = "3x"\n')
    start = at("2026-05-02T00:00:00Z")
    for n, minutes in enumerate([9, 10, 10, 11, 10]):
        beat(home, "job", start + timedelta(hours=n), took=minutes * 60)
    beat(home, "job", start + timedelta(hours=5), took=last_minutes * 60)
    it = item(home, reg, start + timedelta(hours=5, minutes=last_minutes + 1))
    assert it.color == color
    if color == "YELLOW":
        assert it.reasons == ["slow: 31m, usually 10m (slow after 30m)"]


def test_slow_after_a_duration_and_a_slow_run_in_progress(home, zone):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "daily 02:00"\nslow_after = "45m"\nmax_runtime = "3h"\n')
    beat(home, "job", at("2026-05-01T02:00:00Z"), took=46 * 60)
    assert item(home, reg, at("2026-05-01T03:00:00Z")).reasons == ["slow: 46m (slow after 45m)"]
    marker = {"pid": os.getpid(), "task_id": "job", "host": os.uname().nodename, "started_at": "2026-05-02T02:00:00Z"}
    (home / "state" / "running").mkdir(parents=True)
    (home / "state" / "running" / "job.json").write_text(json.dumps(marker))
    assert "slow: running for 50m" in " ".join(item(home, reg, at("2026-05-02T02:50:00Z")).reasons)


@pytest.mark.parametrize("value,message", [('"1x"', "more than 1x"), ('"x"', "is not a factor"),
                                           ('"fast"', "not a duration"), ("3", "no unit")])
def test_a_bad_slow_after_is_refused(home, value, message):
    (home / "fleet.toml").write_text(f'[tasks.job]\nslow_after = {value}\n')
    r = run_alive("check", home=home)
    assert r.returncode == 3 and "tasks.job.slow_after" in r.stderr and message in r.stderr


# ---------------------------------------------------------------- alive run --complete

@pytest.mark.parametrize("argv,complete", [(["true"], True), (["false"], None)])
def test_alive_run_complete_marks_only_a_successful_last_run(home, argv, complete):
    run_alive("run", "backfill", "--complete", "--", *argv, home=home)
    [(_, hb)] = heartbeats(home, "backfill")
    assert hb.get("complete") is complete


def test_alive_run_honours_a_complete_the_job_wrote_itself(home):
    job = f"import subprocess, sys; subprocess.run([sys.executable, {str(run_alive.__globals__['ALIVE'])!r}, " \
          f"'write', 'backfill', '--complete', '--summary', 'all years done'], check=True)"
    r = run_alive("run", "backfill", "--", sys.executable, "-c", job, home=home)
    assert r.returncode == 0, r.stderr
    beats = [hb for _, hb in heartbeats(home, "backfill")]
    assert len(beats) == 2 and all(hb.get("complete") is True for hb in beats)
    r = run_alive("run", "backfill", "--", "true", home=home)           # a later plain run: not complete
    assert sorted(hb.get("complete") is True for _, hb in heartbeats(home, "backfill")) == [False, True, True]


# ---------------------------------------------------------------- lint

def test_lint_warns_when_max_gap_is_shorter_than_the_schedules_longest_gap(home):
    (home / "fleet.toml").write_text('[tasks.job]\nschedule = "daily 08:00,12:00,16:00"\nmax_gap = "8h"\n'
                                     '[tasks.fine]\nschedule = "daily 08:00,12:00,16:00"\nmax_gap = "18h"\n')
    r = run_alive("lint", "--json", home=home)
    problems = json.loads(r.stdout)["problems"]
    assert r.returncode == 1
    assert [p["problem"][:40] for p in problems] == ["tasks.job.max_gap: 8h is shorter than th"]
    assert "(16h)" in problems[0]["problem"] and problems[0]["line"] == 3


# ---------------------------------------------------------------- max_gap as the tolerance (issue 19 item 22)

@pytest.mark.parametrize("offset,color", [(-S, "GREEN"), (timedelta(0), "GREEN"), (S, "RED")])
def test_an_explicit_max_gap_without_grace_sets_the_grace(home, zone, offset, color):
    """"daily 6am, max gap before RED 36h": RED 12h after the missed 06:00 run (36h - 24h),
    not 2h24m after it (the default grace overrode the user's tolerance)."""
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "daily 06:00"\nmax_gap = "36h"\n')
    beat(home, "job", at("2026-05-01T06:00:05Z"))
    it = item(home, reg, at("2026-05-02T18:00:00Z") + offset)
    assert it.color == color, it.reasons
    assert it.details["grace_s"] == 43200 and it.details["grace_from"] == "max_gap"
    if color == "RED":
        assert it.reasons == ["late: expected 06:00 UTC, grace 12h (max_gap 36h minus the schedule's longest gap "
                              "24h); next expected Sun 06:00 UTC"]


def test_the_max_gap_ceiling_and_the_derived_grace_agree_on_an_every_schedule(home, zone):
    zone("UTC")
    reg = fleet(home, '[tasks.job]\nschedule = "every 1h"\nmax_gap = "3h"\n')
    beat(home, "job", at("2026-05-02T12:00:00Z"))
    assert item(home, reg, at("2026-05-02T15:00:00Z")).color == "GREEN"
    late = item(home, reg, at("2026-05-02T15:00:01Z"))
    assert late.color == "RED" and late.details["grace_s"] == 7200
    assert any(r.startswith("late: expected 13:00 UTC, grace 2h (max_gap 3h minus") for r in late.reasons), late.reasons


@pytest.mark.parametrize("text,source,grace_s", [
    ('schedule = "daily 06:00"\n', "default", 8640),
    ('schedule = "daily 06:00"\ngrace = "1h"\n', "grace", 3600),
    ('schedule = "daily 06:00"\ngrace = "1h"\nmax_gap = "36h"\n', "grace", 3600),
    ('schedule = "daily 06:00"\nmax_gap = "24h"\n', "default", 8640),     # nothing to spare: the default
])
def test_check_json_says_where_the_grace_came_from(home, zone, text, source, grace_s):
    zone("UTC")
    reg = fleet(home, "[tasks.job]\n" + text)
    beat(home, "job", at("2026-05-02T06:00:00Z"))
    it = item(home, reg, at("2026-05-02T07:00:00Z"))
    assert (it.details["grace_from"], it.details["grace_s"]) == (source, grace_s)


@pytest.mark.parametrize("grace,decides", [
    ("30m", "tasks.job.grace: grace 30m decides: RED 30m after a missed run, before max_gap 36h would "
            "(12h after it); remove one of them"),
    ("20h", "tasks.job.grace: max_gap 36h decides: RED 12h after a missed run, before grace 20h runs out; "
            "remove one of them"),
])
def test_lint_says_which_of_grace_and_max_gap_decides(home, grace, decides):
    (home / "fleet.toml").write_text(f'[tasks.job]\nschedule = "daily 06:00"\nmax_gap = "36h"\ngrace = "{grace}"\n')
    r = run_alive("lint", "--json", home=home)
    problems = json.loads(r.stdout)["problems"]
    assert r.returncode == 1
    assert [(p["severity"], p["problem"], p["line"]) for p in problems] == [("warning", decides, 4)]


@pytest.mark.parametrize("max_gap,warned", [("23h59m59s", False), ("24h", True), ("24h0m1s", False)])
def test_lint_warns_when_max_gap_leaves_no_grace(home, max_gap, warned):
    """daily + max_gap 24h without grace: max_gap minus the longest gap is 0, so task_grace
    falls back to the default (grace_from "default" above) while max_gap itself turns the
    task RED as soon as a run is late. 1 s shorter is the "shorter than the longest gap"
    warning; 1 s longer is a grace of 1 s, chosen."""
    (home / "fleet.toml").write_text(f'[tasks.job]\nschedule = "daily 06:00"\nmax_gap = "{max_gap}"\n')
    r = run_alive("lint", "--json", home=home)
    problems = [p for p in json.loads(r.stdout)["problems"] if "no grace" in p["problem"]]
    assert [(p["severity"], p["problem"], p["line"]) for p in problems] == ([(
        "warning", "tasks.job.max_gap: max_gap 24h is the longest gap of its schedule 'daily 06:00' and leaves no "
                   "grace (max_gap minus that gap): lateness uses the default grace 2h24m, but max_gap turns the "
                   "task RED as soon as a run is late; set grace = \"2h24m\" and remove max_gap, or make max_gap "
                   "longer than 24h (the grace is what it leaves over that gap)", 3)] if warned else [])
