import errno
import json
import os
from datetime import date, datetime, timezone

import pytest
from conftest import run_alive
from freezegun import freeze_time

from alive.write import heartbeat
from alive.check import prune

UTC = timezone.utc
TODAY = date(2026, 5, 31)


def listing_of(*names):
    """task -> canonical names, from names alone (heartbeat.parse_name; no disk), as
    prune.plan takes them; every other name is left out, as scan.grouped does."""
    groups = {}
    for name in names:
        kind = heartbeat.parse_name(name)
        if kind and kind[0] == "canonical":
            groups.setdefault(kind[1], []).append(name)
    return groups


def touch(folder, *names):
    folder.mkdir(parents=True, exist_ok=True)
    for name in names:
        (folder / name).write_text('{"task_id": "x"}')


def present(folder):
    return sorted(p.name for p in folder.iterdir())


# ---------------------------------------------------------------- the pure rule


def test_a_file_dated_exactly_n_days_ago_is_kept_and_one_day_older_goes():
    listing = listing_of("2026-04-30_t_2359.json",   # 31 days before today
                         "2026-05-01_t_0000.json",   # 30 days: kept
                         "2026-05-02_t_0000.json",   # 29 days
                         "2026-05-31_t_0800.json")   # today, the newest
    assert prune.plan(listing, TODAY, 30) == ["2026-04-30_t_2359.json"]


def test_each_tasks_newest_is_kept_however_old():
    listing = listing_of("2020-01-01_weekly_0600.json",
                         "2019-12-25_done_0600.json", "2020-01-01_done_0600.json",
                         "2020-01-01_done_0600-2.json")  # same minute, second run: the newest
    assert prune.plan(listing, TODAY, 30) == ["2019-12-25_done_0600.json", "2020-01-01_done_0600.json"]


def test_latest_legacy_and_unknown_files_are_never_planned():
    listing = listing_of("t_latest.json", "t_2020-01-01T000000Z.json", "notes.txt",
                         "2020-01-01_t_0000.json", "2026-05-31_t_0000.json")
    assert prune.plan(listing, TODAY, 30) == ["2020-01-01_t_0000.json"]


def test_a_date_that_does_not_exist_is_not_judged_so_kept():
    listing = listing_of("2020-02-30_t_0000.json", "2020-01-01_t_0000.json", "2026-05-31_t_0000.json")
    assert prune.plan(listing, TODAY, 30) == ["2020-01-01_t_0000.json"]


def test_zero_days_keeps_only_today_and_the_newest_and_future_dates_stay():
    listing = listing_of("2026-05-30_t_2359.json", "2026-05-31_t_0000.json",
                         "2026-05-29_u_0000.json", "2026-05-30_u_0000.json", "2999-01-01_u_0000.json")
    assert prune.plan(listing, TODAY, 0) == ["2026-05-29_u_0000.json", "2026-05-30_t_2359.json",
                                             "2026-05-30_u_0000.json"]


def test_a_huge_number_of_days_removes_nothing():
    listing = listing_of("0001-01-01_t_0000.json", "2026-05-31_t_0000.json")
    assert prune.plan(listing, TODAY, 10**12) == []


# ---------------------------------------------------------------- the clock at the UTC day boundary


@pytest.mark.parametrize("now,kept", [
    ("2026-05-30T23:59:59Z", True),    # the file is 30 days old today
    ("2026-05-31T00:00:00Z", False),   # a new UTC day: 31
    ("2026-05-31T00:00:01Z", False),
])
def test_the_day_changes_at_midnight_utc(home, capsys, now, kept):
    health = home / "health"
    touch(health, "2026-04-30_t_2359.json", "2026-05-30_t_0000.json")
    with freeze_time(now):
        assert prune.main([]) == 0
    assert ((health / "2026-04-30_t_2359.json").exists()) is kept
    assert (health / "2026-05-30_t_0000.json").exists()
    assert capsys.readouterr().out.splitlines()[-1].startswith(f"removed {0 if kept else 1} of 2 ")


def test_the_date_in_the_name_is_the_judge_not_mtime(home, capsys):
    health = home / "health"
    touch(health, "2026-05-30_t_0000.json", "2026-05-31_t_0000.json")
    os.utime(health / "2026-05-30_t_0000.json", (0, 0))  # mtime 1970: still only a day old
    with freeze_time("2026-05-31T12:00:00Z"):
        assert prune.main(["--days", "1"]) == 0
    assert present(health) == ["2026-05-30_t_0000.json", "2026-05-31_t_0000.json"]


# ---------------------------------------------------------------- the real command


def test_prune_removes_old_canonical_files_and_nothing_else(home, tmp_path):
    health = home / "health"
    touch(health, "2000-01-01_t_0000.json", "2000-01-02_t_0000.json", "2999-01-01_t_0000.json",
          "2000-01-01_solo_0000.json", "t_latest.json", "t_2000-01-01T000000Z.json", "notes.txt",
          ".2000-01-01_t_0000.json.1.ab.tmp")
    touch(home, "2000-01-01_t_0000.json")  # outside health/
    r = run_alive("prune", home=home)
    assert r.returncode == 0, r.stderr
    assert r.stdout.splitlines() == [
        "removed health/2000-01-01_t_0000.json",
        "removed health/2000-01-02_t_0000.json",
        "removed 2 of 4 canonical heartbeats older than 30 days (each task's newest kept)",
    ]
    assert present(health) == [".2000-01-01_t_0000.json.1.ab.tmp", "2000-01-01_solo_0000.json",
                               "2999-01-01_t_0000.json", "notes.txt", "t_2000-01-01T000000Z.json", "t_latest.json"]
    assert (home / "2000-01-01_t_0000.json").exists()


def test_dry_run_says_would_remove_and_removes_nothing(home):
    health = home / "health"
    touch(health, "2000-01-01_t_0000.json", "2999-01-01_t_0000.json")
    r = run_alive("prune", "--dry-run", home=home)
    assert r.returncode == 0
    assert r.stdout.splitlines() == [
        "would remove health/2000-01-01_t_0000.json",
        "would remove 1 of 2 canonical heartbeats older than 30 days (each task's newest kept)",
    ]
    assert present(health) == ["2000-01-01_t_0000.json", "2999-01-01_t_0000.json"]


def test_a_symlink_is_never_followed_nor_removed_and_its_target_outside_survives(home, tmp_path):
    health = home / "health"
    target = tmp_path / "precious.json"
    target.write_text("precious")
    (tmp_path / "precious-dir").mkdir()
    touch(health, "2000-01-01_t_0000.json", "2026-01-01_t_0000.json")
    os.symlink(target, health / "2000-01-02_t_0000.json")
    os.symlink(tmp_path / "precious-dir", health / "2000-01-03_t_0000.json")
    (health / "2000-01-04_t_0000.json").mkdir()
    os.symlink(target, health / "2999-01-01_t_0000.json")  # a symlink is never the newest kept
    r = run_alive("prune", "--json", home=home)
    assert r.returncode == 0, r.stderr
    assert json.loads(r.stdout)["removed"] == ["health/2000-01-01_t_0000.json"]
    assert present(health) == ["2000-01-02_t_0000.json", "2000-01-03_t_0000.json", "2000-01-04_t_0000.json",
                               "2026-01-01_t_0000.json", "2999-01-01_t_0000.json"]
    assert target.read_text() == "precious" and (tmp_path / "precious-dir").is_dir()


def test_a_task_whose_only_newer_entry_is_a_symlink_keeps_its_newest_real_file(home, tmp_path):
    health = home / "health"
    touch(health, "2000-01-01_t_0000.json")
    os.symlink(health / "2000-01-01_t_0000.json", health / "2026-01-01_t_0000.json")
    assert run_alive("prune", home=home).returncode == 0
    assert present(health) == ["2000-01-01_t_0000.json", "2026-01-01_t_0000.json"]


def test_days_defaults_to_retention_days_of_fleet_toml_and_the_option_wins(home):
    health = home / "health"
    (home / "fleet.toml").write_text("[settings]\nretention_days = 20000\n")
    touch(health, "2000-01-01_t_0000.json", "2026-01-01_t_0000.json")
    assert run_alive("prune", home=home).stdout.splitlines()[-1].startswith("removed 0 of 2 ")
    r = run_alive("prune", "--days", "30", home=home)
    assert r.stdout.splitlines()[-1].startswith("removed 1 of 2 canonical heartbeats older than 30 days")
    assert present(health) == ["2026-01-01_t_0000.json"]


def test_a_missing_health_folder_is_nothing_to_do(home):
    r = run_alive("prune", home=home)
    assert (r.returncode, r.stdout.strip()) == (0, "removed 0 of 0 canonical heartbeats older than 30 days "
                                                   "(each task's newest kept)")


@pytest.mark.parametrize("args,message", [
    (["--days", "-1"], "'-1' is not a whole number of days"),
    (["--days", "x"], "'x' is not a whole number of days"),
    (["--days", "1.5"], "'1.5' is not a whole number of days"),
    (["--days"], "expected one argument"),
    (["--bogus"], "unrecognized arguments"),
])
def test_bad_usage_is_exit_3_with_one_line_and_removes_nothing(home, args, message):
    touch(home / "health", "2000-01-01_t_0000.json", "2026-01-01_t_0000.json")
    r = run_alive("prune", *args, home=home)
    assert r.returncode == 3 and message in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr
    assert len(present(home / "health")) == 2


def test_a_broken_fleet_toml_is_exit_3_and_removes_nothing(home):
    (home / "fleet.toml").write_text("[settings]\nretention_days = 0\n")
    touch(home / "health", "2000-01-01_t_0000.json", "2026-01-01_t_0000.json")
    r = run_alive("prune", home=home)
    assert r.returncode == 3 and "fleet.toml:2: settings.retention_days" in r.stderr
    assert len(present(home / "health")) == 2


def test_a_removal_that_fails_is_named_and_exit_1_and_the_rest_goes_on(home, capsys, monkeypatch):
    health = home / "health"
    touch(health, "2000-01-01_t_0000.json", "2000-01-02_t_0000.json", "2026-01-01_t_0000.json")
    real_unlink = os.unlink

    def unlink(path, *a, **kw):
        if os.fspath(path).endswith("2000-01-01_t_0000.json"):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_unlink(path, *a, **kw)

    monkeypatch.setattr(os, "unlink", unlink)
    with freeze_time(datetime(2026, 5, 31, tzinfo=UTC)):
        assert prune.main([]) == 1
    out, err = capsys.readouterr()
    assert err == "alive prune: health/2000-01-01_t_0000.json: cannot remove: Permission denied\n"
    assert out.splitlines()[-1].endswith("; 1 could not be removed")
    assert present(health) == ["2000-01-01_t_0000.json", "2026-01-01_t_0000.json"]
