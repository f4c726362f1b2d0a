"""`alive schedule next SPEC [--count N] [--after ISO]`, through the real bin/alive and in-process."""
import time

import pytest
from freezegun import freeze_time

from alive import cli
from conftest import run_alive


def next_fires(*args, tz="Europe/Berlin"):
    return run_alive("schedule", "next", *args, env={"TZ": tz})


def test_prints_five_fire_times_in_local_time_with_the_offset():
    r = next_fires("daily 07:00", "--after", "2026-05-02T06:00:00+02:00")
    assert (r.returncode, r.stderr) == (0, "")
    assert r.stdout.splitlines() == [f"2026-05-0{d}T07:00:00+02:00" for d in range(2, 7)]


def test_count_sets_how_many():
    r = next_fires("cron */15 * * * *", "--after", "2026-05-02T10:00:00Z", "--count", "3")
    assert r.stdout.splitlines() == ["2026-05-02T12:15:00+02:00", "2026-05-02T12:30:00+02:00",
                                     "2026-05-02T12:45:00+02:00"]


def test_an_after_without_offset_is_local_time():
    r = next_fires("daily 07:00", "--after", "2026-05-02T06:59", "--count", "1", tz="America/New_York")
    assert r.stdout == "2026-05-02T07:00:00-04:00\n"
    r = next_fires("daily 07:00", "--after", "2026-05-02T07:00", "--count", "1", tz="America/New_York")
    assert r.stdout == "2026-05-03T07:00:00-04:00\n"  # strictly after


def test_the_spec_may_be_given_as_separate_words():
    r = next_fires("weekly", "mon,thu", "06:00", "--after", "2026-05-02T00:00Z", "--count", "2", tz="UTC")
    assert r.stdout.splitlines() == ["2026-05-04T06:00:00+00:00", "2026-05-07T06:00:00+00:00"]


def test_daylight_saving_both_ways_in_TZ():
    spring = next_fires("daily 02:30", "--after", "2026-03-28T12:00", "--count", "2")
    assert spring.stdout.splitlines() == ["2026-03-29T03:00:00+02:00", "2026-03-30T02:30:00+02:00"]
    autumn = next_fires("daily 02:30", "--after", "2026-10-24T12:00", "--count", "2")  # once, as cron runs it
    assert autumn.stdout.splitlines() == ["2026-10-25T02:30:00+02:00", "2026-10-26T02:30:00+01:00"]


def test_every_is_anchored_at_the_epoch_whatever_the_zone():
    r = next_fires("every 1d", "--after", "2026-05-02T12:00:00Z", "--count", "1", tz="Asia/Kolkata")
    assert r.stdout == "2026-05-03T05:30:00+05:30\n"


@pytest.mark.parametrize("args, message", [
    (["daily 25:00"], "alive schedule: bad schedule: 'daily 25:00': '25:00' is not a time of day"),
    (["cron 0 0 31 2 *"], "alive schedule: bad schedule: 'cron 0 0 31 2 *' never fires"),
    (["daily 07:00", "--after", "yesterday"], "alive schedule: --after: 'yesterday' is not an ISO 8601 time"),
    (["daily 07:00", "--count", "0"], "alive schedule next: argument --count: '0' is not a count from 1 to 1000"),
    (["daily 07:00", "--count", "1001"], "is not a count from 1 to 1000"),
    (["daily 07:00", "--count", "many"], "is not a count from 1 to 1000"),
    ([], "the following arguments are required: SPEC"),
])
def test_bad_input_is_one_line_on_stderr_and_exit_3(args, message):
    r = next_fires(*args)
    assert r.returncode == 3 and r.stdout == ""
    assert len(r.stderr.splitlines()) == 1 and message in r.stderr


def test_schedule_is_listed_in_help():
    assert "schedule" in run_alive("help").stdout


def test_the_common_options_are_accepted(tmp_path):
    r = next_fires("--home", str(tmp_path), "daily 07:00", "--count", "1", "--config", str(tmp_path / "x.toml"))
    assert r.returncode == 0 and len(r.stdout.splitlines()) == 1


@pytest.fixture
def berlin(local_zone):
    local_zone("Europe/Berlin")


def test_the_default_start_is_now(berlin, capsys):
    with freeze_time("2026-05-02T05:00:00Z"):  # 07:00 in Berlin: that fire is not after now
        assert cli.main(["schedule", "next", "daily 07:00", "--count", "2"]) == 0
    assert capsys.readouterr().out.splitlines() == ["2026-05-03T07:00:00+02:00", "2026-05-04T07:00:00+02:00"]


def test_one_second_before_a_fire_time_it_is_next(berlin, capsys):
    with freeze_time("2026-05-02T04:59:59Z"):
        assert cli.main(["schedule", "next", "daily 07:00", "--count", "1"]) == 0
    assert capsys.readouterr().out == "2026-05-02T07:00:00+02:00\n"


def test_a_thousand_fire_times_are_quick(berlin, capsys):
    start = time.perf_counter()
    assert cli.main(["schedule", "next", "cron 0 0 29 2 *", "--count", "1000", "--after", "2026-01-01T00:00Z"]) == 0
    assert time.perf_counter() - start < 5
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 1000 and lines[0] == "2028-02-29T00:00:00+01:00"
