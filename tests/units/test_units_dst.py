"""The units `alive schedule launchd|systemd|crontab` writes, on daylight-saving nights, against
what `alive schedule next` promises there (cron's rule, tests/config/test_schedule_dst.py).

- systemd skips a wall time the clock jumps over and fires a repeated one once (issues
  systemd#5595, #8647; seen here with `systemd-analyze calendar`): the timers get extra
  OnCalendar lines in UTC for those nights, checked by systemd-analyze itself.
- cron is the reference: its lines are run through cron.c's loop (tests/vixie_cron.py).
- launchd does not document what it does: `alive schedule launchd` says so for the jobs
  concerned.
Also here: `--install --dry-run` without the scheduler's tools.
"""
import re
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import vixie_cron
from alive.units import crontab, launchd, systemd, units
from alive.config.schedule import next_fires, parse_schedule
from conftest import run_alive
from test_units import example, fleet, job, needs_systemd, systemd_fires, timer_specs

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney", "Australia/Lord_Howe", "America/Havana"]
NOW = datetime(2026, 1, 10, 12, 0, tzinfo=UTC)  # when the units are written
CALENDAR_SPECS = [
    "cron 30 2 * * *", "daily 02:30", "daily 02:00,02:30,03:00", "weekly sun 02:15", "cron 0,30 2 * * *",
    "cron 45 1 * * *", "cron 30 2 1,15 * sun", "cron 30 0-23 * * *", "cron */15 * * * *", "cron 30 * * * *",
    "cron */20 1-3 * * *", "cron 0 */2 * * *", "cron * 2 * * *", "daily 00:00,06:00,12:00,18:00",
    "weekly sat,sun 00:30", "daily 07:00",
]
EVERY_SPECS = ["every 15m", "every 1h", "every 30m", "every 90m", "every 2h", "every 1d"]


def nights(zone_name, years=(2026, 2027, 2031)):
    """The instants (UTC) at which the zone changes its UTC offset in those years."""
    zone, out = ZoneInfo(zone_name), []
    for year in years:
        t = datetime(year, 1, 1, tzinfo=UTC)
        before = t.astimezone(zone).utcoffset()
        while t.year == year:
            t += timedelta(minutes=30)
            offset = t.astimezone(zone).utcoffset()
            if offset != before:
                out.append(t)
                before = offset
    return out


def promised(spec, zone, start, end):
    fires = next_fires(parse_schedule(spec), start, 200, zone)
    assert fires[-1] >= end
    return [t.astimezone(UTC) for t in fires if t <= end]


# ---------------------------------------------------------------- systemd


@needs_systemd
@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("spec", CALENDAR_SPECS + EVERY_SPECS)
def test_systemd_timers_fire_on_dst_nights_when_next_says_by_systemd_analyze(spec, zone_name):
    zone = ZoneInfo(zone_name)
    specs = timer_specs("\n".join(systemd.timer_lines(parse_schedule(spec), zone, NOW)))
    for change in nights(zone_name):
        start, end = change - timedelta(hours=4), change + timedelta(hours=4)
        want = promised(spec, zone, start, end)
        got = [t for t in systemd_fires(specs, start, len(want) + 2, zone_name) if t <= end]
        assert got == want, (spec, zone_name, change)


@needs_systemd
def test_without_its_dst_lines_systemd_misses_what_next_promises():
    """The lines are needed: systemd by itself skips 02:30 on the spring night and fires the
    repeated `30 * * * *` once."""
    spring = datetime(2026, 3, 29, 1, tzinfo=UTC)
    assert systemd_fires(["*-*-* 02:30:00"], spring - timedelta(hours=4), 1, "Europe/Berlin") == \
        [datetime(2026, 3, 30, 0, 30, tzinfo=UTC)]
    fall = datetime(2026, 10, 25, 1, tzinfo=UTC)
    assert systemd_fires(["*-*-* *:30:00"], fall - timedelta(minutes=45), 2, "Europe/Berlin") == \
        [datetime(2026, 10, 25, 0, 30, tzinfo=UTC), datetime(2026, 10, 25, 2, 30, tzinfo=UTC)]


def test_the_dst_lines_say_the_nights_by_weekday_and_are_explained():
    lines = systemd.timer_lines(parse_schedule("cron 30 2 * * *"), BERLIN, NOW)
    assert lines[0] == "OnCalendar=*-*-* 02:30:00"
    assert lines[1].startswith("# alive: daylight saving time")
    assert lines[2] == "OnCalendar=Sun *-03-25/1 01:00:00 UTC"   # 03:00 CEST on the last Sunday of March
    new_york = systemd.timer_lines(parse_schedule("cron */15 * * * *"), ZoneInfo("America/New_York"), NOW)
    assert "OnCalendar=Sun *-11-01,02,03,04,05,06,07 06:00/15:00 UTC" in new_york  # the repeated 01:xx EST
    # no DST in the zone, or no fire time on those nights: nothing added
    assert systemd.timer_lines(parse_schedule("cron 30 2 * * *"), UTC, NOW) == \
        ["OnCalendar=*-*-* 02:30:00", "Persistent=true"]
    assert systemd.timer_lines(parse_schedule("daily 07:00"), BERLIN, NOW) == \
        ["OnCalendar=*-*-* 07:00:00", "Persistent=true"]


def test_the_timers_are_the_same_whichever_year_they_are_written_in():
    for spec in ("cron 30 2 * * *", "cron */15 * * * *", "weekly sat,sun 00:30"):
        for zone in (BERLIN, ZoneInfo("Australia/Sydney")):
            written = {tuple(systemd.timer_lines(parse_schedule(spec), zone, NOW.replace(year=y)))
                       for y in (2026, 2029, 2040)}
            assert len(written) == 1, (spec, zone)


def test_a_zone_whose_dst_nights_follow_no_weekday_rule_gets_a_note_instead():
    casablanca = ZoneInfo("Africa/Casablanca")  # its changes follow Ramadan
    lines = systemd.timer_lines(parse_schedule("daily 02:30"), casablanca, NOW)
    assert [ln for ln in lines if ln.startswith("OnCalendar=")] == ["OnCalendar=*-*-* 02:30:00"]
    notes = systemd.notes(units.PLACEHOLDERS, [job("daily 02:30")], NOW, casablanca)
    assert len(notes) == 1 and notes[0].startswith("task.x (daily 02:30): ")
    assert "systemd skips" in notes[0] and "Africa/Casablanca" in notes[0]
    assert f"# alive: {notes[0].split(': ', 1)[1]}" in lines
    assert systemd.notes(units.PLACEHOLDERS, [job("daily 02:30")], NOW, BERLIN) == []


@needs_systemd
def test_systemd_analyze_verify_passes_the_units_with_dst_lines(tmp_path):
    from test_units import analyze_verify

    home = tmp_path / "home"
    fleet(home, '[tasks.night]\nschedule = "cron 30 2 * * *"\nrun = ["/bin/true"]\n')
    r = run_alive("schedule", "systemd", "--out", tmp_path / "units", home=home, env={"TZ": "Europe/Berlin"})
    assert r.returncode == 0, r.stderr
    timer = (tmp_path / "units" / "local.alive.task.night.timer").read_text()
    assert "OnCalendar=Sun *-03-25/1 01:00:00 UTC" in timer
    names = sorted(p.name for p in (tmp_path / "units").iterdir())
    v = analyze_verify(tmp_path / "units", names, tmp_path)
    assert (v.returncode, v.stderr) == (0, "")


# ---------------------------------------------------------------- cron


@pytest.mark.parametrize("zone_name", ZONES)
@pytest.mark.parametrize("spec", CALENDAR_SPECS + EVERY_SPECS)
def test_cron_lines_run_on_dst_nights_when_next_says_or_a_comment_says_why_not(spec, zone_name):
    zone = ZoneInfo(zone_name)
    lines = crontab.job_lines(units.PLACEHOLDERS, job(spec), NOW, zone)
    if any("offset changes with daylight saving time" in ln for ln in lines):
        assert spec.startswith("every")  # every 2h counts from 00:00 UTC: its local hours move
        return
    cron_lines = [ln for ln in lines if not ln.startswith("#")]
    for change in nights(zone_name, years=(2026,)):
        start, end = change - timedelta(hours=6), change + timedelta(hours=6)
        # cron starts a job once per time it missed (`0,30 2` twice at 03:00); next lists an instant once
        ran = sorted(set(vixie_cron.runs(cron_lines, zone, start, end)))
        assert ran == promised(spec, zone, start, end), (spec, zone_name, change)


def test_daily_and_weekly_lines_are_fixed_time_lines_for_cron():
    """A `*` first in the minute or hour field makes cron treat a job as a wildcard job,
    which loses a time the clock jumps over: daily and weekly never start with one."""
    assert crontab.calendar_specs(parse_schedule("daily 00:00,06:00,12:00,18:00")) == ["0 0-18/6 * * *"]
    assert crontab.calendar_specs(parse_schedule("weekly sun 00:00,01:00,02:00,03:00")) == ["0 0,1,2,3 * * 0"]
    assert crontab.calendar_specs(parse_schedule("daily 07:00")) == ["0 7 * * *"]


@pytest.mark.parametrize("spec, line", [
    ("cron 0 9 * * mon-sun", "0 9 * * 0-6"), ("cron 0 9 * * Mon-Sun", "0 9 * * 0-6"),
    ("cron 0 9 * * 5-0", "0 9 * * 0,5,6"), ("cron 0 9 * * fri-sun", "0 9 * * 0,5,6"),
    ("cron 0 9 * * 5-7", "0 9 * * 5-7"), ("cron 0 9 * * mon-fri", "0 9 * * mon-fri"),
    ("cron 0 9 1 * mon-sun", "0 9 1 * 0-6"),
])
def test_a_day_range_ending_on_sunday_is_written_so_that_cron_takes_it(spec, line):
    """Vixie cron refuses `mon-sun` and `5-0` (it reads Sunday as 0 there, and 1-0 runs
    backwards): such a field is written as the days it means, never as `*`."""
    assert crontab.calendar_specs(parse_schedule(spec)) == [line]
    back, meant = parse_schedule("cron " + line), parse_schedule(spec)
    assert (back.weekdays, back.dow_any, back.days_and) == (meant.weekdays, meant.dow_any, meant.days_and)


@pytest.mark.parametrize("spec, line", [
    ("cron 5/20 0 * * *", "5-59/20 0 * * *"), ("cron 0 12 * * 1/2", "0 12 * * 1-7/2"),
    ("cron 0 3/6 2/10 1/3 mon/3", "0 3-23/6 2-31/10 1-12/3 mon-7/3"), ("cron 0,30/15 * * * *", "0,30-59/15 * * * *"),
])
def test_a_step_from_one_number_is_written_as_a_range_cronie_takes(spec, line):
    """cronie's src/entry.c get_range() refuses `5/20` (its state R_NUM1 takes only `-`, `~`
    or a separator), and `crontab -` then refuses the whole file: it is written as the range
    it means, `N-LAST/step`, which every cron reads alike (7 is Sunday in the day of the week)."""
    assert crontab.calendar_specs(parse_schedule(spec)) == [line]
    back, meant = parse_schedule("cron " + line), parse_schedule(spec)
    assert (back.times, back.days, back.months, back.weekdays) == (meant.times, meant.days, meant.months, meant.weekdays)


# ---------------------------------------------------------------- launchd


def test_launchd_says_which_jobs_fall_in_a_skipped_or_repeated_hour():
    notes = launchd.notes(units.PLACEHOLDERS, [job("daily 02:30"), job("daily 07:00", "task.y"),
                                               job("every 15m", "task.z"), job("cron 30 * * * *", "task.w")],
                          NOW, BERLIN)
    assert len(notes) == 2
    assert notes[0].startswith("task.x (daily 02:30): 02:30 does not exist on 2026-03-29 and happens twice "
                               "on 2026-10-25 in Europe/Berlin")
    assert "launchd does not document" in notes[0] and "`alive schedule next`" in notes[0]
    assert notes[1].startswith("task.w (cron 30 * * * *): 02:30 does not exist on 2026-03-29 and happens twice")
    assert launchd.notes(units.PLACEHOLDERS, [job("daily 02:30")], NOW, UTC) == []
    # the plist itself is what it always was
    assert launchd.plist_for(job("daily 02:30"), units.PLACEHOLDERS)["StartCalendarInterval"] == \
        {"Hour": 2, "Minute": 30}


def test_schedule_launchd_prints_the_note_on_stderr_and_the_plists_on_stdout(tmp_path):
    home = tmp_path / "home"
    fleet(home, '[tasks.night]\nschedule = "daily 02:30"\nrun = ["/bin/true"]\n')
    r = run_alive("schedule", "launchd", home=home, env={"TZ": "Europe/Berlin"})
    assert r.returncode == 0 and "==> local.alive.task.night.plist <==" in r.stdout
    notes = r.stderr.splitlines()
    assert len(notes) == 1 and notes[0].startswith("alive schedule: note: task.night (daily 02:30): 02:30 ")
    r = run_alive("schedule", "launchd", home=home, env={"TZ": "UTC"})
    assert (r.returncode, r.stderr) == (0, "")


# ---------------------------------------------------------------- dry runs without the tools


@pytest.mark.parametrize("kind, tool", [("launchd", "launchctl"), ("systemd", "systemctl"), ("crontab", "crontab")])
@pytest.mark.parametrize("action", ["--install", "--uninstall"])
def test_a_dry_run_works_without_the_scheduler_installed(tmp_path, kind, tool, action):
    home, user, no_tools = (tmp_path / name for name in ("home", "user", "bin"))
    example(home)
    for folder in (user, no_tools):
        folder.mkdir()
    r = run_alive("schedule", kind, action, "--dry-run", home=home,
                  env={"PATH": str(no_tools), "HOME": str(user), "TZ": "UTC"})
    assert r.returncode == 0, r.stderr
    assert r.stderr == f"alive schedule: note: {tool} not found on PATH: without --dry-run this refuses\n"
    assert re.search(r"^would ", r.stdout, re.M) or "nothing to remove" in r.stdout
    assert list(user.iterdir()) == [] and not (home / "logs").exists()
