"""Time, end to end: schedules and checks across daylight saving in both directions (TZ set
in the test, for the subprocess and for this process), a year's end, a leap day, and a
system clock that steps backwards.

`alive schedule next` runs as a real process with TZ in its environment. Checks, writes and
prunes at chosen instants run cli.main (what bin/alive calls) in this process under
freezegun, with TZ set and time.tzset() called, against real files in a temporary
ALIVE_HOME. The expected instants are written out by hand (an oracle independent of the
code under test): Berlin springs forward 2026-03-29 02:00 and falls back 2026-10-25 03:00;
New York springs forward 2026-03-08 02:00 and falls back 2026-11-01 02:00.
"""
import json
import os
import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive
from helpers import alive_here, at
from freezegun import freeze_time
from test_notify import FakeNtfy

from alive.correct import watchdog

UTC = timezone.utc
DAY = 86400


def check_json(when):
    with freeze_time(when):
        code, out, err = alive_here("check", "--json")
    assert code in (0, 1, 2), err
    return code, {i["name"]: i for i in json.loads(out)["items"]}


def write_at(when, task, *extra):
    with freeze_time(when):
        code, out, err = alive_here("write", task, *extra)
    assert code == 0, err
    return os.path.basename(out.strip())


# ---------------------------------------------------------------- schedules across DST

DST_CASES = [
    # zone, spec, --after (local), the next three fires (local, with offset)
    ("Europe/Berlin", "daily 07:00", "2026-03-28T06:00",
     ["2026-03-28T07:00:00+01:00", "2026-03-29T07:00:00+02:00", "2026-03-30T07:00:00+02:00"]),
    ("Europe/Berlin", "cron 30 2 * * *", "2026-03-28T06:00",      # 02:30 does not exist on the 29th
     ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]),
    ("Europe/Berlin", "every 1h", "2026-03-29T00:30",              # UTC-anchored: 02:00 local never comes
     ["2026-03-29T01:00:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T04:00:00+02:00"]),
    ("Europe/Berlin", "daily 07:00", "2026-10-24T06:00",
     ["2026-10-24T07:00:00+02:00", "2026-10-25T07:00:00+01:00", "2026-10-26T07:00:00+01:00"]),
    ("Europe/Berlin", "cron 30 2 * * *", "2026-10-24T06:00",      # 02:30 happens twice on the 25th: once, as cron
     ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00", "2026-10-27T02:30:00+01:00"]),
    ("Europe/Berlin", "every 1h", "2026-10-25T01:30",
     ["2026-10-25T02:00:00+02:00", "2026-10-25T02:00:00+01:00", "2026-10-25T03:00:00+01:00"]),
    ("America/New_York", "daily 07:00", "2026-03-07T06:00",
     ["2026-03-07T07:00:00-05:00", "2026-03-08T07:00:00-04:00", "2026-03-09T07:00:00-04:00"]),
    ("America/New_York", "cron 30 2 * * *", "2026-03-07T06:00",
     ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00", "2026-03-10T02:30:00-04:00"]),
    ("America/New_York", "every 1h", "2026-03-08T00:30",
     ["2026-03-08T01:00:00-05:00", "2026-03-08T03:00:00-04:00", "2026-03-08T04:00:00-04:00"]),
    ("America/New_York", "daily 07:00", "2026-10-31T06:00",
     ["2026-10-31T07:00:00-04:00", "2026-11-01T07:00:00-05:00", "2026-11-02T07:00:00-05:00"]),
    ("America/New_York", "cron 30 1 * * *", "2026-10-31T06:00",   # 01:30 happens twice on Nov 1: once
     ["2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00", "2026-11-03T01:30:00-05:00"]),
    ("America/New_York", "every 1h", "2026-11-01T00:30",
     ["2026-11-01T01:00:00-04:00", "2026-11-01T01:00:00-05:00", "2026-11-01T02:00:00-05:00"]),
    # a year's end and a leap day
    ("Europe/Berlin", "weekly thu 06:00", "2026-12-30T12:00",
     ["2026-12-31T06:00:00+01:00", "2027-01-07T06:00:00+01:00", "2027-01-14T06:00:00+01:00"]),
    ("Europe/Berlin", "cron 0 0 1 1 *", "2026-12-31T23:59",
     ["2027-01-01T00:00:00+01:00", "2028-01-01T00:00:00+01:00", "2029-01-01T00:00:00+01:00"]),
    ("America/New_York", "cron 59 23 31 12 *", "2026-12-31T23:58",
     ["2026-12-31T23:59:00-05:00", "2027-12-31T23:59:00-05:00", "2028-12-31T23:59:00-05:00"]),
    ("Europe/Berlin", "cron 0 0 29 2 *", "2026-03-01T00:00",
     ["2028-02-29T00:00:00+01:00", "2032-02-29T00:00:00+01:00", "2036-02-29T00:00:00+01:00"]),
    ("America/New_York", "cron 0 12 29 2 *", "2028-02-29T12:00",  # strictly after: the next leap day
     ["2032-02-29T12:00:00-05:00", "2036-02-29T12:00:00-05:00", "2040-02-29T12:00:00-05:00"]),
]


def test_schedule_next_across_dst_year_end_and_leap_day_in_real_processes():
    """One `alive schedule next` process per case, TZ in its environment only."""
    for zone_name, spec, after, expected in DST_CASES:
        r = run_alive("schedule", "next", spec, "--after", after, "--count", "3", env={"TZ": zone_name}, timeout=30)
        assert r.returncode == 0, (zone_name, spec, r.stderr)
        assert r.stdout.split() == expected, (zone_name, spec, after)


# ---------------------------------------------------------------- checks across DST

CHANGES = [  # zone, the local day before the change, its 07:00 in UTC, direction
    ("Europe/Berlin", "2026-03-28", "2026-03-28T06:00:00Z", "spring"),
    ("Europe/Berlin", "2026-10-24", "2026-10-24T05:00:00Z", "fall"),
    ("America/New_York", "2026-03-07", "2026-03-07T12:00:00Z", "spring"),
    ("America/New_York", "2026-10-31", "2026-10-31T11:00:00Z", "fall"),
]


@pytest.mark.parametrize("zone_name, day, utc_0700, direction", CHANGES)
def test_a_daily_task_is_late_at_the_next_local_0700_plus_grace_across_dst(home, zone, zone_name, day,
                                                                          utc_0700, direction):
    """The next run is expected at 07:00 local the next day: 23 h later in real seconds
    after a spring change, 25 h after a fall one; grace is 10% of that gap."""
    zone(zone_name)
    (home / "fleet.toml").write_text('[tasks.daily]\nschedule = "daily 07:00"\n'
                                     '[tasks.nightly]\nschedule = "cron 30 1 * * *"\n')
    os.utime(home / "fleet.toml", (0, 0))                          # registered long ago
    # the heartbeat's time given without a zone is read as local time, in TZ
    name = write_at(utc_0700, "daily", "--started-at", f"{day}T07:00")
    assert name == f"{day}_daily_{utc_0700[11:13]}00.json"
    gap = timedelta(hours=23 if direction == "spring" else 25)
    due = at(utc_0700) + gap + gap / 10
    for offset, color in ((-1, "GREEN"), (0, "GREEN"), (1, "RED")):
        code, items = check_json(due + timedelta(seconds=offset))
        daily = items["daily"]
        assert daily["max_gap_s"] == 2 * DAY and items["nightly"]["max_gap_s"] == 2 * DAY
        assert daily["color"] == color, (offset, daily)
    assert items["daily"]["reasons"][0].startswith(f"late: expected 07:00 {(at(utc_0700) + gap).astimezone().strftime('%Z')}, grace ")


@pytest.mark.parametrize("zone_name, day, utc_0700, direction", CHANGES)
def test_a_job_that_runs_at_every_fire_time_stays_green_through_the_change(home, zone, zone_name, day, utc_0700,
                                                                           direction):
    """The fires `alive schedule next` names, each followed by a real write; checked one second
    after each run and one second before the next fire: GREEN throughout, a repeated hour
    fires once (cron's rule: 25 h to the next run), and a missed run turns RED one second
    after its fire time plus grace (10% of the gap before it)."""
    zone(zone_name)
    spec = "cron 30 1 * * *" if zone_name == "America/New_York" else "cron 30 2 * * *"
    (home / "fleet.toml").write_text(f'[tasks.job]\nschedule = "{spec}"\n')
    r = run_alive("schedule", "next", spec, "--after", f"{day}T00:00", "--count", "4", env={"TZ": zone_name})
    fires = [at(t) for t in r.stdout.split()]
    assert len(fires) == 4 and fires == sorted(fires)
    names = []
    for n, fire in enumerate(fires):
        names.append(write_at(fire, "job"))
        assert check_json(fire + timedelta(seconds=1))[1]["job"]["color"] == "GREEN"
        if n + 1 < len(fires):
            assert check_json(fires[n + 1] - timedelta(seconds=1))[1]["job"]["color"] == "GREEN"
    assert len(set(names)) == 4                                       # never one file for two runs
    gaps = {(b - a).total_seconds() / 3600 for a, b in zip(fires, fires[1:])}
    if direction == "fall":
        assert 25.0 in gaps and 1.0 not in gaps                       # the repeated hour fired once
    r = run_alive("schedule", "next", spec, "--after", fires[-1].isoformat(), "--count", "1", env={"TZ": zone_name})
    missed = at(r.stdout.strip())
    due = missed + (missed - fires[-1]) / 10
    assert check_json(due)[1]["job"]["color"] == "GREEN"
    assert check_json(due + timedelta(seconds=1))[1]["job"]["color"] == "RED"


# ---------------------------------------------------------------- a year's end

def test_a_weekly_task_across_new_year_checks_and_prunes_by_real_dates(home, zone):
    zone("Europe/Berlin")
    (home / "fleet.toml").write_text('[tasks.weekly]\nschedule = "weekly thu 06:00"\n'
                                     '[tasks.newyear]\nschedule = "cron 0 0 1 1 *"\n')
    runs = ["2026-12-10T05:00:00Z", "2026-12-17T05:00:00Z", "2026-12-24T05:00:00Z", "2026-12-31T05:00:00Z",
            "2027-01-07T05:00:00Z"]
    names = [write_at(t, "weekly") for t in runs]
    assert names[-2:] == ["2026-12-31_weekly_0500.json", "2027-01-07_weekly_0500.json"]
    # local midnight of New Year is still the old year in UTC, and the file name says UTC
    assert write_at("2026-12-31T23:00:00Z", "newyear", "--started-at", "2027-01-01T00:00") == \
        "2026-12-31_newyear_2300.json"
    _, items = check_json("2027-01-07T05:00:01Z")
    weekly = items["weekly"]
    assert weekly["color"] == "GREEN" and weekly["last_completed_at"] == "2027-01-07T05:00:00Z"
    assert weekly["max_gap_s"] == 14 * DAY
    assert items["newyear"]["color"] == "GREEN" and items["newyear"]["max_gap_s"] > 365 * DAY
    # the run of 2027-01-14 never comes: RED at its fire time plus grace (10% of a week)
    assert check_json("2027-01-14T21:48:00Z")[1]["weekly"]["color"] == "GREEN"
    assert check_json("2027-01-14T21:48:01Z")[1]["weekly"]["color"] == "RED"
    # prune across the year: today 2027-01-10, 30 days kept -> 2026-12-10 (31 days) goes, 12-17 stays
    with freeze_time("2027-01-10T12:00:00Z"):
        code, out, err = alive_here("prune", "--days", "30")
    assert code == 0, err
    left = sorted(p.name for p in (home / "health").glob("20*_weekly_*.json"))
    assert left == sorted(names[1:])


# ---------------------------------------------------------------- a leap day

def test_a_leap_day_heartbeat_is_valid_checked_and_pruned_by_its_real_age(home, zone):
    zone("America/New_York")
    (home / "fleet.toml").write_text('[tasks.leap]\nschedule = "cron 0 12 29 2 *"\n'
                                     '[tasks.daily]\nschedule = "daily 07:00"\n')
    name = write_at("2028-02-29T17:00:00Z", "leap", "--started-at", "2028-02-29T12:00")
    assert name == "2028-02-29_leap_1700.json"
    with freeze_time("2028-02-29T17:05:00Z"):
        code, out, _ = alive_here("lint", "--json")
        assert code == 0 and json.loads(out)["problems"] == []
    _, items = check_json("2028-03-01T17:00:00Z")
    assert items["leap"]["color"] == "GREEN" and items["leap"]["age_s"] == DAY
    # a daily job around the leap day: the run of Feb 29 07:00 EST is expected, grace 2h24m
    daily = ["2028-02-27T12:00:00Z", "2028-02-28T12:00:00Z"]
    names = [write_at(t, "daily") for t in daily]
    assert check_json("2028-02-29T14:24:00Z")[1]["daily"]["color"] == "GREEN"
    assert check_json("2028-02-29T14:24:01Z")[1]["daily"]["color"] == "RED"
    names += [write_at(t, "daily") for t in ("2028-02-29T12:00:00Z", "2028-03-01T12:00:00Z")]
    assert names[2] == "2028-02-29_daily_1200.json"
    # prune on 2028-03-30 keeps 30 days: Feb 29 is exactly 30 days back (kept), Feb 28 is 31 (gone)
    with freeze_time("2028-03-30T23:59:59Z"):
        code, out, err = alive_here("prune", "--days", "30")
    assert code == 0, err
    left = sorted(p.name for p in (home / "health").glob("2028-*.json"))
    assert left == ["2028-02-29_daily_1200.json", "2028-02-29_leap_1700.json", "2028-03-01_daily_1200.json"]


# ---------------------------------------------------------------- a clock that steps back

def test_a_heartbeat_from_the_future_is_clock_skew_in_a_real_check(home):
    now = datetime.now(UTC)
    for task, ahead in (("near", 240), ("far", 600), ("years", 20 * 365 * DAY)):
        write_at(now + timedelta(seconds=ahead), task)      # stamped by a clock that ran ahead (write refuses
        #                                                     a --started-at more than 5 minutes ahead)
    r = run_alive("check", "--json", home=home)
    items = {i["name"]: i for i in json.loads(r.stdout)["items"]}
    assert r.returncode == 2
    assert items["near"]["color"] == "GREEN"                            # within 5 minutes: tolerated
    for task in ("far", "years"):                   # not counted: no run of theirs is dated up to now
        assert items[task]["color"] == "RED" and "dated in the future (clock skew?)" in items[task]["reasons"][0]
    lint = run_alive("lint", "--json", home=home)
    future = sorted(os.path.basename(p["file"]) for p in json.loads(lint.stdout)["problems"]
                    if "in the future" in p["problem"])
    assert len(future) == 4 and [n for n in future if "near" in n] == []     # canonical and _latest, twice


def test_after_the_clock_steps_back_a_dead_job_is_never_green_for_longer_than_its_gap(home):
    """The clock ran a day ahead; hourly runs were stamped a day in the future. It is set
    back, and the job dies. Sampled every 30 minutes for four days: RED while the stamps are
    ahead (no run dated up to now counts), then GREEN only while a real run would be on
    time, then RED for good."""
    (home / "fleet.toml").write_text('[tasks.hourly]\nschedule = "every 1h"\n')
    real = at("2026-06-01T12:00:00Z")
    for h in range(3):                                                  # the clock says tomorrow
        write_at(real + timedelta(days=1, hours=h - 2), "hourly")
    last_stamp = real + timedelta(days=1)
    colors = []
    for step in range(4 * 48):
        when = real + timedelta(minutes=30 * step)
        colors.append((when, check_json(when)[1]["hourly"]["color"]))
    green = [w for w, c in colors if c == "GREEN"]
    first_stamp = real + timedelta(days=1, hours=-2)
    assert all(c == "RED" for w, c in colors if w < first_stamp - timedelta(minutes=5))
    assert green and min(green) >= first_stamp - timedelta(minutes=5)   # each run counts from its own stamp
    assert max(green) <= last_stamp + timedelta(hours=2)                  # max gap of every 1h: 2 h
    assert all(c == "RED" for w, c in colors if w > last_stamp + timedelta(hours=2))
    assert colors[-1][1] == "RED"


def test_alive_run_measures_its_duration_on_the_monotonic_clock(home, monkeypatch):
    """The wall clock steps back an hour while the command runs: duration_s is still the real
    run time, and the heartbeat is valid (completed_at not before started_at)."""
    real_time = time.time
    calls = []

    def stepping():
        calls.append(1)
        return real_time() - (3600 if len(calls) > 1 else 0)

    from alive.write import runner
    monkeypatch.setattr(runner.time, "time", stepping)
    try:
        code, out, err = alive_here("run", "stepper", "--", "sleep", "0.3")
    finally:
        monkeypatch.undo()
    assert code == 0, err
    assert len(calls) >= 2                                              # the clock was read after the step
    [path] = (home / "health").glob("20*_stepper_*.json")
    hb = json.loads(path.read_text())
    assert 0.25 <= hb["duration_s"] < 5, hb["duration_s"]
    assert hb["completed_at"] >= hb["started_at"]
    r = run_alive("lint", "--json", home=home)
    assert r.returncode == 0, r.stdout


def test_a_watchdog_tick_during_which_the_clock_steps_back_has_no_negative_duration(home, monkeypatch):
    """The tick's `now` is read, then the clock steps back an hour before it ends."""
    (home / "fleet.toml").write_text('[sources.track]\npath = "track.json"\nmax_age = "15m"\n')
    (home / "track.json").write_text(json.dumps({"captured_at": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")}))
    ahead = datetime.now(UTC) + timedelta(hours=1)
    monkeypatch.setattr(watchdog, "utcnow", lambda: ahead)             # read once, at the start of the tick
    code, out, err = alive_here("watchdog")
    assert code == 0, err
    hb = json.loads((home / "health" / "alive-watchdog_latest.json").read_text())
    assert hb["duration_s"] >= 0, hb
    assert hb["completed_at"] >= hb["started_at"]


def test_renotify_after_the_clock_steps_back_neither_spams_nor_goes_silent(home, monkeypatch):
    """A RED task; reminders every 60 minutes. The clock ran a year ahead when the first
    message went out; then it is set right. Checks every 10 minutes (and watchdog ticks) for
    three hours must keep reminding about once an hour: not at every check, and not only
    after a year. Then the clock jumps ahead and back once more: one reminder per jump."""
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)
    ntfy = FakeNtfy()
    ntfy.start()
    try:
        (home / "fleet.toml").write_text(f'[tasks.etl]\nschedule = "every 1h"\n'
                                         f'[notify]\nrenotify = "60m"\n'
                                         f'[notify.ntfy]\nserver = "{ntfy.url}"\ntopic = "fleet"\n')
        real = at("2026-06-01T08:00:00Z")
        ahead = real + timedelta(days=365)

        def titles():     # about etl (the watchdog's own heartbeat, a year old after a jump, is RED too,
            # and shares the message then: one run, one message; its lines read like titles)
            told = []
            for r in ntfy.requests:
                title = r["headers"]["Title"]
                grouped = re.match(r"\d+ items?\b", title)
                told += [": ".join(ln.split(": ")[:2]) for ln in r["body"].splitlines()] if grouped else [title]
            return [t for t in told if t.endswith("task etl")]

        with freeze_time(ahead):
            assert alive_here("check", "--notify")[0] == 2             # never reported: RED
        assert titles() == ["RED: task etl"]
        for step in range(19):                                          # 0, 10, ..., 180 minutes
            with freeze_time(real + timedelta(minutes=10 * step)):
                command = ("watchdog",) if step % 3 == 2 else ("check", "--notify")
                alive_here(*command)
        reminders = titles().count("still RED: task etl")
        assert 3 <= reminders <= 4, titles()                            # about hourly, not 19, not 0
        before = len(titles())
        for when in (ahead + timedelta(hours=2), real + timedelta(hours=3, minutes=10),
                     real + timedelta(hours=3, minutes=20)):
            with freeze_time(when):
                alive_here("check", "--notify")
        assert len(titles()) - before == 2                               # one per jump, none after
        with freeze_time(real + timedelta(hours=3, minutes=30)):
            assert alive_here("write", "etl")[0] == 0
            alive_here("check", "--notify")
        assert titles()[-1] == "recovered: task etl"
    finally:
        ntfy.stop()


@pytest.mark.parametrize("back", [timedelta(hours=1), timedelta(days=1), timedelta(days=10), timedelta(days=40),
                                  timedelta(days=400)])
def test_prune_with_a_clock_that_stepped_back_removes_nothing_the_right_clock_would_keep(home, back):
    real = at("2026-06-01T12:00:00Z")
    with freeze_time(real):
        for d in range(60):                                             # a run a day for 60 days, two tasks
            for task in ("a", "b"):
                started = (real - timedelta(days=d)).strftime("%Y-%m-%dT%H:%M:%SZ")
                assert alive_here("write", task, "--started-at", started)[0] == 0
        # and one stamped while the clock ran two days ahead
        write_at(at("2026-06-03T12:00:00Z"), "a")
    everything = {p.name for p in (home / "health").glob("20*.json")}
    with freeze_time(real):
        code, out, _ = alive_here("prune", "--days", "30", "--dry-run", "--json")
    assert code == 0
    right = {os.path.basename(n) for n in json.loads(out)["removed"]}
    with freeze_time(real - back):
        code, out, err = alive_here("prune", "--days", "30")
    assert code == 0, err
    left = {p.name for p in (home / "health").glob("20*.json")}
    removed = everything - left
    assert len(right) == 2 * 29
    assert removed <= right                                             # never more than the right clock
    assert "2026-06-03_a_1200.json" in left                             # the future-stamped one stays
    assert all(n[:10] < (real - back - timedelta(days=30)).strftime("%Y-%m-%d") for n in removed)
