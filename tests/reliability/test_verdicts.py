"""Wrong verdicts (issue 10, items 5, 6, 9, 10, 11, 14, 15, 17): each was a way for a
failure to read GREEN, or for one odd file to hide or take down the fleet. Every test
here reproduces what a person could do to a real ALIVE_HOME, through the real bin/alive.
"""
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from conftest import heartbeats, run_alive
from helpers import iso

NOW = datetime.now(timezone.utc).replace(microsecond=0)


def beat(task, started, status="ok", **extra):
    hb = {"task_id": task, "status": status, "started_at": iso(started), "completed_at": iso(started),
          "summary": f"{task} {status}", "warnings": [], "errors": [] if status != "error" else ["boom"],
          "metrics": {}}
    hb.update(extra)
    return hb


def put(home, name, hb):
    folder = home / "health"
    folder.mkdir(exist_ok=True)
    (folder / name).write_text(json.dumps(hb) if not isinstance(hb, str) else hb)


def canonical(hb):
    t = hb["started_at"]
    return f"{t[:10]}_{hb['task_id']}_{t[11:13]}{t[14:16]}.json"


def check(home, *extra, config=None):
    if config is not None:
        (home / "fleet.toml").write_text(config)
        os.utime(home / "fleet.toml", (0, 0))        # registered long ago: no first-run wait
    proc = run_alive("check", "--json", *extra, home=home)
    doc = json.loads(proc.stdout) if proc.stdout.strip().startswith("{") else None
    return proc, doc


def item(doc, name):
    return next(i for i in doc["items"] if i["name"] == name)


# ---------------------------------------------------------------- 5: a future-dated file

def test_a_future_dated_heartbeat_does_not_hide_three_later_errors(home):
    future = beat("job", NOW + timedelta(days=178))
    put(home, canonical(future), future)
    for hours in (3, 2, 1):
        hb = beat("job", NOW - timedelta(hours=hours), status="error")
        put(home, canonical(hb), hb)
    proc, doc = check(home, config='[tasks.job]\nschedule = "every 1h"\nalert_after = 3\n')
    job = item(doc, "job")
    assert job["color"] == "RED", job
    assert job["consecutive_errors"] == 3
    assert proc.returncode == 2
    # The future file is named, not silently dropped.
    assert any("future" in f["problem"] and canonical(future) in f["file"] for f in doc["invalid_files"])


def test_a_future_dated_heartbeat_within_the_skew_window_still_counts(home):
    soon = beat("job", NOW + timedelta(minutes=4))
    put(home, canonical(soon), soon)
    _, doc = check(home)
    assert item(doc, "job")["color"] == "GREEN"
    assert doc["invalid_files"] == []


def test_a_task_whose_only_heartbeat_is_in_the_future_is_red_not_green(home):
    future = beat("job", NOW + timedelta(days=30))
    put(home, canonical(future), future)
    proc, doc = check(home, config='[tasks.job]\nschedule = "every 1h"\n')
    job = item(doc, "job")
    assert job["color"] == "RED"
    assert "future" in " ".join(job["reasons"])


# ---------------------------------------------------------------- 6: a broken home

def test_a_missing_alive_home_is_exit_3_not_green(tmp_path):
    proc = run_alive("check", home=tmp_path / "nope")
    assert proc.returncode == 3, proc.stdout
    assert "GREEN" not in proc.stdout
    assert "does not exist" in proc.stderr and str(tmp_path / "nope") in proc.stderr
    assert len(proc.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize("command", [["check"], ["report"], ["export", "prometheus"], ["prune", "--dry-run"]])
def test_every_reader_refuses_a_missing_home(tmp_path, command):
    proc = run_alive(*command, home=tmp_path / "nope")
    assert proc.returncode == 3, (proc.stdout, proc.stderr)
    assert "does not exist" in proc.stderr
    assert not (tmp_path / "nope").exists()   # a reader creates nothing


def test_home_given_by_option_must_exist_too(tmp_path):
    proc = run_alive("check", "--home", tmp_path / "typo", home=tmp_path)
    assert proc.returncode == 3 and "does not exist" in proc.stderr


@pytest.mark.parametrize("how", ["option", "env"])
def test_a_config_that_does_not_exist_is_exit_3(home, how):
    missing = home / "fleet-typo.toml"
    if how == "option":
        proc = run_alive("check", "--config", missing, home=home)
    else:
        proc = run_alive("check", home=home, env={"ALIVE_CONFIG": str(missing)})
    assert proc.returncode == 3
    assert "fleet-typo.toml" in proc.stderr and "does not exist" in proc.stderr


def test_health_that_is_a_file_is_exit_3(home):
    (home / "health").write_text("oops")
    proc = run_alive("check", home=home)
    assert proc.returncode == 3
    assert "health" in proc.stderr and "not a folder" in proc.stderr


def test_unreadable_health_is_exit_3_not_internal_error(home):
    (home / "health").symlink_to("health")        # a loop: ELOOP, even for root
    proc = run_alive("check", home=home)
    assert proc.returncode == 3, proc.stderr
    assert "internal error" not in proc.stderr
    assert "cannot be read" in proc.stderr


def test_a_dangling_health_link_is_not_an_empty_green_fleet(home, tmp_path):
    (home / "health").symlink_to(tmp_path / "unmounted-volume" / "health")
    proc = run_alive("check", home=home)
    assert proc.returncode == 3
    assert "GREEN" not in proc.stdout


def test_a_fresh_home_without_health_is_still_fine(home):
    proc = run_alive("check", home=home)
    assert proc.returncode == 0


# ---------------------------------------------------------------- 9: bare numbers as durations

@pytest.mark.parametrize("key", ["max_gap", "max_runtime", "min_duration"])
def test_a_bare_number_duration_in_fleet_toml_is_refused_with_the_fix(home, key):
    proc, _ = check(home, config=f'[tasks.job]\n{key} = 36\n')
    assert proc.returncode == 3
    assert f"tasks.job.{key}" in proc.stderr and '"36h"' in proc.stderr


def test_a_bare_number_string_duration_is_refused_too(home):
    proc, _ = check(home, config='[tasks.job]\nmax_gap = "36"\n')
    assert proc.returncode == 3 and '"36h"' in proc.stderr


@pytest.mark.parametrize("argv", [["write", "job", "--interval", "900"],
                                  ["run", "job", "--timeout", "30", "--", "true"],
                                  ["pause", "job", "--for", "2"]])
def test_a_bare_number_duration_on_the_command_line_is_refused(home, argv):
    proc = run_alive(*argv, home=home)
    assert proc.returncode == 3
    assert "unit" in proc.stderr
    assert heartbeats(home) == []


def test_the_shim_still_takes_seconds(home):
    from conftest import SHIM
    import subprocess

    subprocess.run(["bash", str(SHIM), "job", "900"], env={**os.environ, "ALIVE_HOME": str(home)},
                   check=True, timeout=30, capture_output=True)
    [(_, hb)] = heartbeats(home)
    assert hb["interval_s"] == 900


@pytest.mark.parametrize("interval", [0, -3600])
def test_a_heartbeat_with_a_non_positive_interval_falls_back_visibly(home, interval):
    hb = beat("job", NOW - timedelta(minutes=1), interval_s=interval)
    put(home, canonical(hb), hb)
    _, doc = check(home)
    job = item(doc, "job")
    assert job["color"] == "YELLOW"
    assert any("interval_s" in r and "36h" in r for r in job["reasons"]), job["reasons"]
    assert job["max_gap_s"] == 36 * 3600
    lint = run_alive("lint", "--json", home=home)
    assert lint.returncode == 2
    assert any("interval_s" in p["problem"] and p["severity"] == "error"
               for p in json.loads(lint.stdout)["problems"])


def test_zero_interval_is_refused_at_write_time(home):
    proc = run_alive("write", "job", "--interval", "0s", home=home)
    assert proc.returncode == 3 and "--interval" in proc.stderr


# ---------------------------------------------------------------- 10: legacy _latest.json writers

def test_a_fresh_latest_file_newer_than_every_other_file_is_not_ignored(home):
    old = beat("job", NOW - timedelta(days=3))
    put(home, canonical(old), old)
    os.utime(home / "health" / canonical(old), (NOW.timestamp() - 3 * 86400,) * 2)
    fresh = beat("job", NOW - timedelta(minutes=5), status="error")   # a legacy writer's run
    put(home, "job_latest.json", fresh)
    _, doc = check(home, config='[tasks.job]\nschedule = "every 1h"\n')
    job = item(doc, "job")
    assert job["last_status"] == "error" and job["color"] == "RED", job


def test_a_latest_file_older_than_the_canonical_one_changes_nothing(home):
    new = beat("job", NOW - timedelta(minutes=5))
    put(home, canonical(new), new)
    stale = beat("job", NOW - timedelta(days=3), status="error")
    put(home, "job_latest.json", stale)
    os.utime(home / "health" / "job_latest.json", (NOW.timestamp() - 3 * 86400,) * 2)
    _, doc = check(home)
    assert item(doc, "job")["color"] == "GREEN"


def test_a_task_whose_only_file_is_latest_json_is_judged_and_linted(home):
    put(home, "job_latest.json", beat("job", NOW - timedelta(days=5)))
    _, doc = check(home, config='[tasks.job]\nschedule = "every 1h"\n')
    job = item(doc, "job")
    assert job["color"] == "RED" and "never reported" not in " ".join(job["reasons"]), job
    # discovered too, without a registry
    (home / "fleet.toml").unlink()
    put(home, "other_latest.json", beat("other", NOW - timedelta(minutes=1), status="error"))
    _, doc = check(home)
    assert item(doc, "other")["color"] == "RED"
    lint = json.loads(run_alive("lint", "--json", home=home).stdout)
    assert any("other_latest.json" in p["file"] and p["severity"] == "warning" for p in lint["problems"])


def test_alives_own_writer_is_judged_by_its_canonical_files(home):
    run_alive("write", "job", "--status", "error", home=home)
    _, doc = check(home)
    assert item(doc, "job")["consecutive_errors"] == 1


# ---------------------------------------------------------------- 11: names that are not canonical

@pytest.mark.parametrize("name", [
    "notes_misc.json",                       # a bare name that is not <task>_...
    "2026-05-02_other_0900.json.json",
    "backup_2026-05-02_job_0900.json",
    "{date}_job_{hhmm}-01.json",             # not a canonical suffix (-2, -3, ...)
    "{date}_job_{hhmm}-1.json",
    "{date}_job_{hhmm}-0.json",
])
def test_a_non_canonical_name_does_not_make_a_never_reported_task_green(home, name):
    hb = beat("job", NOW - timedelta(minutes=2))
    put(home, name.format(date=iso(NOW)[:10], hhmm=iso(NOW)[11:13] + iso(NOW)[14:16]), hb)
    proc, doc = check(home, config='[tasks.job]\nschedule = "every 1h"\n')
    assert item(doc, "job")["color"] == "RED", doc
    assert proc.returncode == 2
    assert doc["invalid_files"], "the odd file is named"


def test_the_documented_legacy_name_still_counts(home):
    hb = beat("job", NOW - timedelta(minutes=2))
    put(home, "job_2026-05-02T130640Z.json", hb)
    _, doc = check(home, config='[tasks.job]\nschedule = "every 1h"\n')
    assert item(doc, "job")["color"] == "GREEN"


# ---------------------------------------------------------------- 14: one health folder

def test_health_dir_other_than_health_is_refused_with_why(home):
    proc, _ = check(home, config='[settings]\nhealth_dir = "beats"\n')
    assert proc.returncode == 3
    assert "settings.health_dir" in proc.stderr and "ALIVE_HOME" in proc.stderr


def test_health_dir_set_to_the_default_is_accepted_with_a_lint_warning(home):
    proc, _ = check(home, config='[settings]\nhealth_dir = "health"\n')
    assert proc.returncode == 0
    lint = json.loads(run_alive("lint", "--json", home=home).stdout)
    assert any("health_dir" in p["problem"] and p["severity"] == "warning" for p in lint["problems"])


# ---------------------------------------------------------------- 15: digits that are not ASCII

@pytest.mark.parametrize("value", ["５", "٣", "1٣", "５.5"])
def test_non_ascii_digits_in_a_metric_value_are_refused(home, value):
    proc = run_alive("write", "job", "--metric", f"rows={value}", home=home)
    assert proc.returncode == 3 and "rows" in proc.stderr
    assert heartbeats(home) == []


@pytest.mark.parametrize("value", ["５m", "٣h", "1٣m"])
def test_non_ascii_digits_in_a_duration_are_refused(home, value):
    proc = run_alive("write", "job", "--interval", value, home=home)
    assert proc.returncode == 3
    proc, _ = check(home, config=f'[tasks.job]\nmax_gap = "{value}"\n')
    assert proc.returncode == 3


# ---------------------------------------------------------------- 17: absurd numbers

ABSURD = {"duration_s": "1" * 400, "interval_s": "1" * 400, "exit_code": "9" * 30}


@pytest.mark.parametrize("field,raw", [*ABSURD.items(), ("duration_s", "1e400"), ("duration_s", "-1e400"),
                                       ("duration_s", "NaN"), ("metrics", '{"rows": 1e400}'),
                                       ("metrics", '{"rows": ' + "7" * 400 + "}")])
def test_an_absurd_number_never_takes_down_the_fleets_reports(home, field, raw):
    good = beat("good", NOW - timedelta(minutes=1))
    put(home, canonical(good), good)
    bad = beat("bad", NOW - timedelta(minutes=1))
    text = json.dumps(bad)[:-1] + f', "{field}": {raw}}}'
    if field == "metrics":
        text = json.dumps({k: v for k, v in bad.items() if k != "metrics"})[:-1] + f', "metrics": {raw}}}'
    put(home, canonical(bad), text)
    for argv in (["check", "--json"], ["report", "--format", "html"], ["report", "--format", "json"],
                 ["report", "--format", "markdown"], ["report"], ["export", "prometheus"]):
        proc = run_alive(*argv, home=home)
        assert "internal error" not in proc.stderr and "Traceback" not in proc.stderr, (argv, proc.stderr)
        assert proc.returncode in (0, 1, 2), (argv, proc.stderr)
        assert "good" in proc.stdout, argv
    _, doc = check(home)
    assert item(doc, "bad")["color"] == "RED"
    assert item(doc, "good")["color"] == "GREEN"
    lint = json.loads(run_alive("lint", "--json", home=home).stdout)
    assert any(canonical(bad) in p["file"] and p["severity"] == "error" for p in lint["problems"])
