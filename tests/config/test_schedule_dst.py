"""alive.config.schedule on daylight-saving nights, and the spec mistakes it refuses.

`alive schedule next` follows cron (Vixie cron, Debian's cron, cronie), the scheduler that
runs these lines on Linux: a fixed-time job whose time the clock jumps over runs right after
the jump, and one whose time happens twice runs once, the first time; a wildcard job (minute
or hour field starting with `*`) runs by the clock as it is, so it loses the skipped times
and runs in both passes of a repeated hour. tests/vixie_cron.py is cron.c's loop, minute by
minute; every answer of next_fires on those nights is checked against it.
"""
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

import vixie_cron
from test_units import needs_systemd, systemd_fires
from alive.config.schedule import next_fires, parse_schedule
from conftest import run_alive
from helpers import at

UTC = timezone.utc
BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")

# The nights of 2026 on which these zones change their UTC offset (the instant, in UTC).
CHANGES = {
    "Europe/Berlin": ["2026-03-29T01:00Z", "2026-10-25T01:00Z"],           # 02:00 -> 03:00, 03:00 -> 02:00
    "America/New_York": ["2026-03-08T07:00Z", "2026-11-01T06:00Z"],        # 02:00 -> 03:00, 02:00 -> 01:00
    "Australia/Sydney": ["2026-04-04T16:00Z", "2026-10-03T16:00Z"],        # 03:00 -> 02:00, 02:00 -> 03:00
    "Australia/Lord_Howe": ["2026-04-04T15:00Z", "2026-10-03T15:30Z"],     # half an hour each way
    "America/Havana": ["2026-03-08T05:00Z", "2026-11-01T05:00Z"],          # at midnight: 00:00 -> 01:00
}
NIGHTS = [(zone, change) for zone, changes in CHANGES.items() for change in changes]

CRON_SPECS = [
    "30 2 * * *", "0 2 * * *", "59 1 * * *", "0,30 2 * * *", "15 2-3 * * *", "0 1-3 * * *", "45 1 * * *",
    "0 0 * * *", "30 0 * * *", "0 2 * * 0", "30 2 1,15 * sun", "30 0-23 * * *", "0 0-23/3 * * *",
    "*/15 * * * *", "30 * * * *", "*/20 1-3 * * *", "*/5 1-2 * * sun", "0 */2 * * *", "* 2 * * *",
    "30 2 */2 * sun", "30 2 1-31/2 * sun",
]


def fires(spec, after, count, zone):
    return [t.isoformat() for t in next_fires(parse_schedule(spec), at(after), count, zone)]


def window(spec, zone, start, end):
    """next_fires from start up to end, as UTC instants."""
    out = next_fires(parse_schedule(spec), start, 500, zone)
    assert out[-1] >= end, "count too small for the window"
    return [t.astimezone(UTC) for t in out if t <= end]


# ---------------------------------------------------------------- the issue's example


@pytest.mark.parametrize("zone, after, want", [
    (BERLIN, "2026-03-28T12:00Z", ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]),
    (BERLIN, "2026-10-24T12:00Z", ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]),
    (NEW_YORK, "2026-03-07T12:00Z", ["2026-03-08T03:00:00-04:00", "2026-03-09T02:30:00-04:00"]),
    (NEW_YORK, "2026-10-31T12:00Z", ["2026-11-01T02:30:00-05:00", "2026-11-02T02:30:00-05:00"]),
])
def test_cron_30_2_fires_once_on_both_nights(zone, after, want):
    assert fires("cron 30 2 * * *", after, 2, zone) == want


def test_a_time_repeated_by_fall_back_fires_once_the_first_time():
    assert fires("cron 30 1 * * *", "2026-10-31T12:00Z", 2, NEW_YORK) == [
        "2026-11-01T01:30:00-04:00", "2026-11-02T01:30:00-05:00"]
    # from inside the second pass, today's 01:30 has been: tomorrow's is next
    assert fires("daily 01:30", "2026-11-01T06:10Z", 1, NEW_YORK) == ["2026-11-02T01:30:00-05:00"]


def test_a_wildcard_job_runs_by_the_clock_in_both_passes_and_loses_the_skipped_times():
    assert fires("cron 30 * * * *", "2026-10-25T00:00Z", 3, BERLIN) == [
        "2026-10-25T02:30:00+02:00", "2026-10-25T02:30:00+01:00", "2026-10-25T03:30:00+01:00"]
    # `*/5 1-2` on the spring Sunday: 02:xx does not exist and is not moved (croniter moves it)
    assert fires("cron */5 1-2 * * sun", "2026-03-29T00:50Z", 2, BERLIN) == [
        "2026-03-29T01:55:00+01:00", "2026-04-05T01:00:00+02:00"]


def test_a_fixed_time_written_as_a_full_range_of_hours_is_still_moved_out_of_the_gap():
    # 0-23 is not `*`: cron treats the job as fixed-time (croniter skips the lost 02:30)
    assert fires("cron 30 0-23 * * *", "2026-03-29T00:00Z", 3, BERLIN) == [
        "2026-03-29T01:30:00+01:00", "2026-03-29T03:00:00+02:00", "2026-03-29T03:30:00+02:00"]


# ---------------------------------------------------------------- against cron.c itself


@pytest.mark.parametrize("zone_name, change", NIGHTS)
def test_next_fires_is_what_vixie_cron_runs_on_every_dst_night(zone_name, change):
    zone = ZoneInfo(zone_name)
    start, end = at(change) - timedelta(hours=6), at(change) + timedelta(hours=6)
    for spec in CRON_SPECS:
        # cron starts a job once per time it missed (`0,30 2` twice at 03:00); next lists an instant once
        cron = sorted(set(vixie_cron.runs([f"{spec} /bin/true"], zone, start, end)))
        assert window(f"cron {spec}", zone, start, end) == cron, (spec, zone_name, change)


def test_the_simulated_cron_is_not_trivially_equal():
    """The loop does tell the rules apart: on the spring night a fixed job is run once after
    the jump and a wildcard job loses its times; in autumn only the wildcard job runs twice."""
    start, end = at("2026-03-28T20:00Z"), at("2026-03-29T06:00Z")
    assert vixie_cron.runs(["30 2 * * * x"], BERLIN, start, end) == [at("2026-03-29T01:00Z")]
    assert vixie_cron.runs(["*/30 2 * * * x"], BERLIN, start, end) == []
    start, end = at("2026-10-24T20:00Z"), at("2026-10-25T06:00Z")
    assert vixie_cron.runs(["30 2 * * * x"], BERLIN, start, end) == [at("2026-10-25T00:30Z")]
    assert vixie_cron.runs(["*/30 2 * * * x"], BERLIN, start, end) == [
        at("2026-10-25T00:00Z"), at("2026-10-25T00:30Z"), at("2026-10-25T01:00Z"), at("2026-10-25T01:30Z")]


# ---------------------------------------------------------------- digits and day ranges


@pytest.mark.parametrize("spec, digit, write", [
    ("cron ５ * * * *", "５", "5"), ("cron 0 ٣ * * *", "٣", "3"), ("cron */１５ * * * *", "１", "1"),
    ("cron 0 0 * * 1-５", "５", "5"), ("cron 0 0 １ * *", "１", "1"), ("daily ０8:00", "０", "0"),
    ("daily 08:٣0", "٣", "3"), ("weekly mon ٠٦:00", "٠", "0"), ("every ５m", "５", "5"),
    ("every 1h３0m", "３", "3"),
])
def test_a_digit_that_is_not_ascii_is_refused_with_the_digit_to_write(spec, digit, write):
    with pytest.raises(ValueError) as err:
        parse_schedule(spec)
    assert f"{digit!r} is not an ASCII digit (write {write})" in str(err.value)


def test_other_unicode_number_signs_are_refused_too():
    with pytest.raises(ValueError, match=r"'²' is not an ASCII digit \(use 0-9\)"):
        parse_schedule("cron ² * * * *")


def test_schedule_next_refuses_a_non_ascii_digit_in_one_line():
    r = run_alive("schedule", "next", "cron ５ 9 * * *", env={"TZ": "UTC"})
    assert r.returncode == 3 and r.stdout == ""
    assert r.stderr == "alive schedule: bad schedule: 'cron ５ 9 * * *': '５' is not an ASCII digit (write 5)\n"


def test_fleet_toml_refuses_a_non_ascii_digit_in_a_schedule(tmp_path):
    (tmp_path / "fleet.toml").write_text('[tasks.x]\nschedule = "daily ０7:00"\n', encoding="utf-8")
    r = run_alive("check", home=tmp_path)
    assert r.returncode == 3 and "tasks.x.schedule" in r.stderr and "'０' is not an ASCII digit (write 0)" in r.stderr


@pytest.mark.parametrize("field, days", [
    ("mon-sun", {0, 1, 2, 3, 4, 5, 6}), ("Mon-Sun", {0, 1, 2, 3, 4, 5, 6}), ("fri-sun", {5, 6, 0}),
    ("5-0", {5, 6, 0}), ("5-7", {5, 6, 0}), ("1-0/2", {1, 3, 5, 0}), ("sat-sun,wed", {6, 0, 3}),
    ("sun-sun", {0}), ("0-0", {0}), ("sun-sat", {0, 1, 2, 3, 4, 5, 6}),
])
def test_a_day_range_may_end_on_sunday_as_cronie_reads_it(field, days):
    s = parse_schedule(f"cron 0 9 * * {field}")
    assert s.weekdays == days and s.dow_any == (days == {0, 1, 2, 3, 4, 5, 6})  # all days: nothing restricted


@pytest.mark.parametrize("field, hint", [
    ("7-fri", "range 7-fri runs backwards (7 is Sunday: write 0-fri)"),
    ("7-5", "range 7-5 runs backwards (7 is Sunday: write 0-5)"),
    ("fri-mon", "range fri-mon runs backwards (write it as two ranges: fri-6,0-mon)"),
])
def test_a_backwards_day_range_names_its_fix(field, hint):
    with pytest.raises(ValueError) as err:
        parse_schedule(f"cron 0 9 * * {field}")
    assert hint in str(err.value)
    fixed = hint.split("write ")[1].rstrip(")").replace("it as two ranges: ", "")
    assert parse_schedule(f"cron 0 9 * * {fixed}")  # the fix it names is accepted


# ---------------------------------------------------------------- one spec per call


@pytest.mark.parametrize("args", [
    ["daily 08:00", "weekly mon 06:00"],
    ["daily", "08:00", "weekly", "mon", "06:00"],
    ["every 15m", "cron 0 7 * * *"],
])
def test_schedule_next_takes_one_spec_per_call(args):
    r = run_alive("schedule", "next", *args, env={"TZ": "UTC"})
    assert r.returncode == 3 and r.stdout == "" and r.stderr.count("\n") == 1
    assert r.stderr.startswith("alive schedule next: one SPEC per call, got ")
    assert "run it once for each" in r.stderr


def test_a_spec_in_separate_words_is_still_one_spec():
    r = run_alive("schedule", "next", "cron", "0", "7", "*", "*", "*", "--after", "2026-05-02T00:00Z",
                  "--count", "1", env={"TZ": "UTC"})
    assert (r.returncode, r.stdout) == (0, "2026-05-02T07:00:00+00:00\n")


# ---------------------------------------------------------------- adopted systemd timers

# An adopted timer keeps its OnCalendar value as `systemd SPEC` and is judged by systemd's
# rule, not cron's: systemd skips a wall time the clock jumps over and fires a repeated one
# once, the first time (src/shared/calendarspec.c, find_next(): a time that mktime()
# normalizes elsewhere is out of bounds, tm_out_of_bounds(), and skipped). The oracle is
# systemd-analyze itself, run over both 2026 DST nights of three zones.
SYSTEMD_SPECS = ["02:30", "*:0/15", "Mon..Fri *-*-* 06:30", "*-*-* 01,02,03:00,30", "Sun *-*-1/2 02:15",
                 "daily", "hourly", "*-*-* 00/2:45:00"]
SYSTEMD_ZONES = ["Europe/Berlin", "America/New_York", "Australia/Sydney"]


@needs_systemd
@pytest.mark.parametrize("zone_name", SYSTEMD_ZONES)
@pytest.mark.parametrize("spec", SYSTEMD_SPECS)
def test_an_adopted_timer_fires_where_systemd_analyze_says_on_both_dst_nights(spec, zone_name):
    zone = ZoneInfo(zone_name)
    schedule = parse_schedule(f"systemd {spec}")
    for change in CHANGES[zone_name]:
        after, end = at(change) - timedelta(days=8), at(change) + timedelta(days=8)  # a Sunday each side
        found = systemd_fires([spec], after, 1600, zone_name)
        assert found[-1] > end, "too few iterations to cover the window"
        want = [t for t in found if t <= end]
        got = [t.astimezone(UTC) for t in next_fires(schedule, after, 1600, zone) if t <= end]
        assert got == want, (spec, zone_name, change)


def test_the_issues_two_timers_by_systemds_rule():
    # 02:30 in Berlin: systemd skips the night the clock jumps over it (cron runs it at 03:00).
    assert fires("systemd 02:30", "2026-03-28T12:00Z", 2, BERLIN) == [
        "2026-03-30T02:30:00+02:00", "2026-03-31T02:30:00+02:00"]
    # *:0/15 in New York: the repeated 01:00-01:45 runs once, not 4 more times in the second pass.
    got = fires("systemd *:0/15", "2026-11-01T05:30Z", 6, NEW_YORK)
    assert got == ["2026-11-01T01:45:00-04:00", "2026-11-01T02:00:00-05:00", "2026-11-01T02:15:00-05:00",
                   "2026-11-01T02:30:00-05:00", "2026-11-01T02:45:00-05:00", "2026-11-01T03:00:00-05:00"]
    assert fires("cron */15 * * * *", "2026-11-01T05:30Z", 2, NEW_YORK)[1] == "2026-11-01T01:00:00-05:00"


@pytest.mark.parametrize("spec, same_as", [
    ("systemd Mon..Fri *-*-* 06:30:00", "cron 30 6 * * 1-5"),
    ("systemd *:0/15", "cron */15 * * * *"),
    ("systemd monthly", "cron 0 0 1 * *"),
    ("systemd weekly", "cron 0 0 * * mon"),
    ("systemd *-01,07-01 12:00", "cron 0 12 1 1,7 *"),
    ("systemd *-*-* 08:00:00; *-*-* 12:30", "daily 08:00,12:30"),
    ("systemd Sat,Sun 10:00; Sat,Sun 18:00", "weekly sat,sun 10:00,18:00"),
])
def test_a_systemd_spec_has_the_fire_times_of_the_cron_spec_away_from_dst(spec, same_as):
    after = datetime(2026, 5, 2, 9, 17, tzinfo=UTC)
    assert next_fires(parse_schedule(spec), after, 40, UTC) == next_fires(parse_schedule(same_as), after, 40, UTC)
    assert parse_schedule(spec).text == spec


def test_systemd_needs_both_a_weekday_and_a_day_of_the_month():
    # Friday the 13th (systemd ANDs them), where cron's `0 0 13 * 5` is the 13th or any Friday.
    assert fires("systemd Fri *-*-13 00:00", "2026-01-01T00:00Z", 2, UTC) == [
        "2026-02-13T00:00:00+00:00", "2026-03-13T00:00:00+00:00"]


@pytest.mark.parametrize("spec, why", [
    ("systemd 2027-*-* 00:00:00", "a year"), ("systemd *-*-* 06:00:30", "seconds other than 0"),
    ("systemd *-*~01 00:00:00", "`~`"), ("systemd *-*-* 03:00:00 UTC", "'UTC': a time zone"),
    ("systemd *-*-* 03:00 Europe/Berlin", "a time zone"), ("systemd", "needs an OnCalendar= value"),
    ("systemd 25:00", "'25' is not a hour"), ("systemd Fri..Mon 10:00", "runs backwards"),
    ("systemd 08:00; Mon 09:00", "differ in more than one of"),
])
def test_a_systemd_spec_alive_cannot_say_is_refused_with_the_reason(spec, why):
    with pytest.raises(ValueError) as err:
        parse_schedule(spec)
    assert why in str(err.value)
