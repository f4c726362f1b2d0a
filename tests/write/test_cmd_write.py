import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import ALIVE, heartbeats, run_alive


def test_write_with_defaults_prints_the_path_it_wrote(home):
    r = run_alive("write", "nightly-backup", home=home)
    assert r.returncode == 0, r.stderr
    path = Path(r.stdout.strip())
    hb = json.loads(path.read_text())
    assert path.parent == home / "health"
    assert (hb["status"], hb["summary"]) == ("ok", "nightly-backup ok")
    assert hb["started_at"] == hb["completed_at"]
    assert json.loads((home / "health" / "nightly-backup_latest.json").read_text()) == hb


def test_write_takes_every_field(home):
    r = run_alive("write", "etl", "--status", "partial", "--summary", "3 rows late",
                  "--started-at", "2026-05-02T01:55:00Z", "--completed-at", "2026-05-02T02:05:00+00:00",
                  "--warning", "w1", "--warning", "w2", "--error", "e1",
                  "--metric", "rows=12", "--metric", "ratio=0.25", "--metric", "fresh=true",
                  "--metric", "label=eu-west", "--metric", "eq=a=b", "--interval", "1h30m", "--complete", home=home)
    assert r.returncode == 0, r.stderr
    [(path, hb)] = heartbeats(home)
    assert path.name == "2026-05-02_etl_0155.json"
    assert hb["status"] == "partial" and hb["summary"] == "3 rows late"
    assert hb["completed_at"] == "2026-05-02T02:05:00Z"
    assert hb["warnings"] == ["w1", "w2"] and hb["errors"] == ["e1"]
    assert hb["metrics"] == {"rows": 12, "ratio": 0.25, "fresh": True, "label": "eu-west", "eq": "a=b"}
    assert hb["interval_s"] == 5400 and hb["complete"] is True


CUT_WARNING = ("summary was 300 characters; cut to 200: keep the job's summary to one line of at most "
               "200 characters (details go in warnings, errors or metrics)")


def test_a_long_summary_is_cut_and_warned(home):
    run_alive("write", "t", "--summary", "z" * 300, home=home)
    [(_, hb)] = heartbeats(home)
    assert len(hb["summary"]) == 200 and hb["warnings"] == [CUT_WARNING]


def test_a_task_yellow_for_its_long_summary_says_in_one_line_how_to_fix_it(home):
    # DESIGN §9: the run reads YELLOW until the job's author fixes the summary, so the
    # reason must tell that person what to change.
    run_alive("write", "t", "--summary", "z" * 300, home=home)
    r = run_alive("check", "--json", home=home)
    [item] = json.loads(r.stdout)["items"]
    assert r.returncode == 1 and item["color"] == "YELLOW"
    assert item["reasons"] == [f"warning: {CUT_WARNING}"] and "\n" not in item["reasons"][0]


@pytest.mark.parametrize("args,message", [
    (["t", "--status", "GREEN"], "ok, partial, skipped, error"),
    (["t", "--status", "YELLOW"], "health color"),
    (["t", "--status", "done"], "ok, partial, skipped, error"),
    (["../x"], "task id '../x' is not valid"),
    (["a/b"], "task id 'a/b'"),
    ([""], "task id ''"),
    ([".hidden"], "task id '.hidden'"),
    (["x" * 129], "is not valid"),
    (["has space"], "is not valid"),
    (["t", "--started-at", "yesterday"], "--started-at: 'yesterday' is not an ISO 8601 time"),
    (["t", "--completed-at", "2026-02-30T00:00:00Z"], "--completed-at"),
    (["t", "--started-at", "2026-05-02T02:00:00Z", "--completed-at", "2026-05-02T01:00:00Z"], "before started_at"),
    (["t", "--metric", "rows"], "--metric 'rows' must be KEY=VALUE"),
    (["t", "--metric", "=3"], "must be KEY=VALUE"),
    (["t", "--interval", "5 hours"], "is not a duration"),
    (["t", "--bogus"], "unrecognized arguments"),
    ([], "required: task"),
])
def test_refused_input_exits_3_with_one_line_and_writes_nothing(home, args, message):
    r = run_alive("write", *args, home=home)
    assert r.returncode == 3
    assert message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "Traceback" not in r.stderr
    assert not (home / "health").exists() or not list((home / "health").iterdir())


def test_an_unwritable_health_folder_is_exit_1_naming_the_folder(tmp_path):
    blocker = tmp_path / "file"
    blocker.write_text("not a folder")
    r = run_alive("write", "t", home=blocker / "home")
    assert r.returncode == 1
    assert str(blocker / "home" / "health") in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert blocker.read_text() == "not a folder"


def test_home_option_wins_over_the_environment(tmp_path):
    other = tmp_path / "other"
    r = run_alive("write", "t", "--home", other, home=tmp_path / "env-home")
    assert r.returncode == 0 and Path(r.stdout.strip()).parent == other / "health"
    assert not (tmp_path / "env-home").exists()


def test_unknown_command_and_no_command_are_usage_errors():
    assert run_alive("frobnicate").returncode == 3
    r = run_alive()
    assert r.returncode == 3 and "usage" in r.stdout


def test_the_first_write_says_it_created_the_home_and_later_ones_say_nothing(tmp_path):
    """Issue 19: writers created a missing ALIVE_HOME silently (a typo in ALIVE_HOME made a
    new, unwatched folder nobody heard of)."""
    home = tmp_path / "new-home"
    r = run_alive("write", "etl", home=home)
    assert r.returncode == 0 and r.stderr == f"alive write: created ALIVE_HOME {home}\n", r.stderr
    assert len(heartbeats(home, "etl")) == 1
    r = run_alive("write", "etl", home=home)
    assert r.returncode == 0 and r.stderr == ""


def test_a_closed_stderr_does_not_turn_a_written_heartbeat_into_a_failure(tmp_path):
    home = tmp_path / "new-home"
    r = subprocess.run(["sh", "-c", 'exec 2>&-; exec "$0" "$1" write etl', sys.executable, str(ALIVE)],
                       env=dict(os.environ, ALIVE_HOME=str(home)), capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and r.stdout.strip().endswith(".json") and len(heartbeats(home, "etl")) == 1, r


# ---- a time readers would not count is refused (issue 19 review) ----------------------

def test_a_started_at_years_ahead_is_refused_with_one_line_and_nothing_written(home):
    r = run_alive("write", "t", "--started-at", "2035-01-01T00:00:00Z", home=home)
    assert r.returncode == 3 and r.stdout == "", r
    assert len(r.stderr.splitlines()) == 1 and "--started-at 2035-01-01T00:00:00Z" in r.stderr, r.stderr
    assert "would not count it" in r.stderr and "Traceback" not in r.stderr
    assert not (home / "health").exists() or list((home / "health").iterdir()) == []


@pytest.mark.parametrize("option", ["--started-at", "--completed-at"])
@pytest.mark.parametrize("ahead,refused", [(299, False), (300, False), (301, True)])
def test_a_time_more_than_five_minutes_ahead_is_refused(home, option, ahead, refused):
    """check takes a time more than 5 minutes (health.SKEW_S) ahead for clock skew and does
    not count the run: writing it would look like success and count for nothing."""
    from datetime import datetime, timedelta, timezone

    from freezegun import freeze_time

    from alive.write import cmd_write
    from alive.base.errors import UsageError

    now = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)
    when = (now + timedelta(seconds=ahead)).strftime("%Y-%m-%dT%H:%M:%SZ")
    argv = ["t", option, when] + (["--started-at", "2026-05-02T07:59:00Z"] if option == "--completed-at" else [])
    with freeze_time(now):
        if refused:
            with pytest.raises(UsageError, match=f"{option} {when} is more than 5 minutes in the future"):
                cmd_write.main(argv)
        else:
            assert cmd_write.main(argv) == 0
    assert len(heartbeats(home)) == (0 if refused else 1)


@pytest.mark.parametrize("back,written", [(300, True), (301, False)])
def test_the_api_does_not_write_a_start_the_clock_has_stepped_back_past(home, capsys, back, written):
    """The Python API takes its times from the clock: a start left more than 5 minutes ahead
    by a clock stepped back during the block is refused the same way, with one line."""
    from datetime import datetime, timedelta, timezone

    from freezegun import freeze_time

    import alive

    start = datetime(2026, 5, 2, 8, 0, 0, tzinfo=timezone.utc)
    with freeze_time(start) as clock:
        with alive.task("t", home=home):
            clock.move_to(start - timedelta(seconds=back))
    assert len(heartbeats(home)) == (1 if written else 0)
    err = capsys.readouterr().err
    assert (err == "") if written else ("more than 5 minutes in the future" in err and len(err.splitlines()) == 1)
