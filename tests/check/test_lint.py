import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from conftest import run_alive
from freezegun import freeze_time

from alive.check import lint

UTC = timezone.utc
NOW = datetime(2026, 5, 2, 8, 0, 0, tzinfo=UTC)
MTIME = 1_777_700_000  # a fixed instant for mtime-based thresholds (2026-05-02)


def beat(task="t", started="2026-05-02T01:55:00Z", **over):
    hb = {"task_id": task, "status": "ok", "started_at": started, "completed_at": started,
          "summary": f"{task} ok", "warnings": [], "errors": [], "metrics": {}, "schema": 1}
    hb.update(over)
    return hb


def put(folder, name, content):
    """Write bytes, or a dict as JSON, under a str or bytes name; returns the bytes path."""
    folder.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else json.dumps(content).encode()
    path = os.path.join(os.fsencode(folder), os.fsencode(name))
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
    return path


def lint_json(home, *args):
    r = run_alive("lint", "--json", *args, home=home, timeout=30)
    assert "Traceback" not in r.stderr and r.stderr == "", r.stderr
    return r.returncode, json.loads(r.stdout)["problems"]


def by_file(problems):
    out = {}
    for p in problems:
        out.setdefault(p["file"], []).append((p["severity"], p["problem"]))
    return out


def has(found, severity, fragment):
    return any(s == severity and fragment in text for s, text in found)


# ---------------------------------------------------------------- clean, warnings, errors


def test_a_folder_written_by_alive_itself_is_clean_and_exits_0(home):
    for args in (["write", "etl"], ["write", "etl", "--status", "partial", "--warning", "late"],
                 ["write", "backup", "--started-at", "1970-01-01T00:00:00Z"]):
        assert run_alive(*args, home=home).returncode == 0
    r = run_alive("lint", home=home)
    assert r.returncode == 0, r.stdout
    assert r.stdout.splitlines() == ["clean (5 files in health/ checked)"]
    assert lint_json(home) == (0, [])


def test_no_health_folder_at_all_is_clean(home):
    assert lint_json(home) == (0, [])


def test_readable_but_not_canonical_files_are_warnings_only_exit_1(home):
    health = home / "health"
    put(health, "2026-05-02_t_0155.json", beat(status="GREEN"))
    put(health, "t_2026-05-02T015500Z.json", beat(status="RED"))
    old_temp = put(health, ".2026-05-02_t_0155.json.123.abcd.tmp", b"{")
    os.utime(old_temp, (0, 0))
    code, problems = lint_json(home)
    assert code == 1
    found = by_file(problems)
    assert has(found["health/2026-05-02_t_0155.json"], "warning", "legacy status 'GREEN' (write 'ok')")
    legacy = found["health/t_2026-05-02T015500Z.json"]
    assert has(legacy, "warning", "legacy status 'RED' (write 'error')")
    assert has(legacy, "warning", "legacy bare file name")
    assert has(legacy, "warning", "this one would be 2026-05-02_t_0155.json")
    assert has(found["health/.2026-05-02_t_0155.json.123.abcd.tmp"], "warning", "stray temp file")
    assert {p["severity"] for p in problems} == {"warning"}


def test_text_output_is_one_line_per_problem_and_a_count(home):
    put(home / "health", "2026-05-02_t_0155.json", beat(status="done"))
    put(home / "health", "notes.txt", b"hello")
    r = run_alive("lint", home=home)
    assert r.returncode == 2
    assert r.stdout.splitlines() == [
        "ERROR health/2026-05-02_t_0155.json: status 'done' is not one of ok, partial, skipped, error",
        "WARNING health/notes.txt: not a heartbeat file",
        "1 error, 1 warning (2 files in health/ checked)",
    ]


def test_lint_reads_every_file_not_only_the_newest(home):
    health = home / "health"
    put(health, "2026-05-02_t_0155.json", beat())
    put(health, "2026-05-01_t_0155.json", b'{"task_id": "t", "status": "ok"')
    code, problems = lint_json(home)
    assert code == 2
    assert [p["file"] for p in problems] == ["health/2026-05-01_t_0155.json"]


# ---------------------------------------------------------------- a hostile health/


def hostile(home, tmp_path):
    """Every kind of trouble, and what lint must say about each (severity, fragment)."""
    health = home / "health"
    outside = tmp_path / "outside.json"
    outside.write_text(json.dumps(beat("outside")))
    nulls = {field: None for field in beat()}
    wrong_types = {"task_id": 5, "status": ["ok"], "started_at": 1714614900, "completed_at": True,
                   "summary": 3, "warnings": "w", "errors": [1], "metrics": []}
    put(health, "2026-05-02_trunc_0155.json", json.dumps(beat("trunc")).encode()[:40])
    put(health, "2026-05-02_garbage_0155.json", b"\x89PNG\r\n\x1a\n\x00\x00\xff\xd8garbage")
    put(health, "2026-05-02_deep_0155.json", b"[" * 100_000)
    with open(health / "2026-05-02_huge_0155.json", "wb") as f:
        f.truncate(50 * 1024 * 1024)  # sparse: 50 MB on paper, nothing on disk
    put(health, "2026-05-02_nulls_0155.json", nulls)
    put(health, "2026-05-02_empty_0155.json", {})
    put(health, "2026-05-02_types_0155.json", wrong_types)
    put(health, "2026-05-02_legacy_0155.json", beat("legacy", status="GREEN"))
    put(health, "2026-05-02_unknown_0155.json", beat("unknown", status="OK"))
    put(health, "2026-05-02_long_0155.json", beat("long", summary="x" * 201))
    put(health, "2026-05-02_alpha_0155.json", beat("beta"))
    put(health, "alpha_latest.json", beat("beta"))
    put(health, "2026-05-02_backwards_0155.json", beat("backwards", completed_at="2026-05-02T01:54:59Z"))
    put(health, "9999-12-31_future_2359.json", beat("future", "9999-12-31T23:59:00Z"))
    put(health, "9999-12-31_overflow_2359.json", beat("overflow", "9999-12-31T23:59:00-01:00"))
    put(health, "1970-01-01_epoch_0000.json", beat("epoch", "1970-01-01T00:00:00Z"))
    put(health, "2026-05-03_renamed_0155.json", beat("renamed"))
    os.symlink(outside, health / "2026-05-02_link_0155.json")
    os.symlink(outside, health / "elsewhere")
    (health / "2026-05-02_folder_0155.json").mkdir()
    os.mkfifo(health / "2026-05-02_fifo_0155.json")
    put(health, b"\xff\xfe_bytes.json", beat("bytes"))
    put(health, b"notes-\xe9.txt", b"hello")
    put(health, "has space_latest.json", beat("x"))
    put(health, "README.txt", b"what is this")
    put(health, "two\nlines.json", b"{}")
    expected = {
        "2026-05-02_trunc_0155.json": [("error", "not valid JSON")],
        "2026-05-02_garbage_0155.json": [("error", "not UTF-8 text")],
        "2026-05-02_deep_0155.json": [("error", "nested too deeply")],
        "2026-05-02_huge_0155.json": [("error", "52428800 bytes (over the 1048576-byte limit; not read)")],
        "2026-05-02_nulls_0155.json": [("error", f"required field {f} is null") for f in nulls if f != "schema"],
        "2026-05-02_empty_0155.json": [("error", f"required field {f} is missing") for f in wrong_types],
        "2026-05-02_types_0155.json": [
            ("error", "task id 5 is not valid"), ("error", "status ['ok'] is not one of"),
            ("error", "started_at: 1714614900 is not an ISO 8601 time"),
            ("error", "completed_at: True is not an ISO 8601 time"),
            ("error", "summary must be a string, not int"), ("error", "warnings must be a list of strings"),
            ("error", "errors must be a list of strings"), ("error", "metrics must be an object, not list")],
        "2026-05-02_legacy_0155.json": [("warning", "legacy status 'GREEN'")],
        "2026-05-02_unknown_0155.json": [("error", "status 'OK' is not one of ok, partial, skipped, error")],
        "2026-05-02_long_0155.json": [("error", "summary is 201 characters (at most 200)")],
        "2026-05-02_alpha_0155.json": [("error", "task_id 'beta' does not match the file name's task 'alpha'")],
        "alpha_latest.json": [("error", "task_id 'beta' does not match the file name's task 'alpha'")],
        "2026-05-02_backwards_0155.json": [("error", "completed_at is before started_at")],
        "9999-12-31_future_2359.json": [("error", "started_at 9999-12-31T23:59:00Z is more than 5 minutes in the future")],
        "9999-12-31_overflow_2359.json": [("error", "started_at: '9999-12-31T23:59:00-01:00' is out of range")],
        # another day in the name than in the content: invalid (issue 19 item 2)
        "2026-05-03_renamed_0155.json": [("error", "started_at 2026-05-02T01:55:00Z is not the time in the file "
                                                   "name (2026-05-03 01:55 UTC): another day, or later than the name")],
        "2026-05-02_link_0155.json": [("error", "named like a heartbeat but is a symbolic link, not followed")],
        "elsewhere": [("warning", "not a heartbeat file (a symbolic link, not followed)")],
        "2026-05-02_folder_0155.json": [("error", "named like a heartbeat but is a folder")],
        "2026-05-02_fifo_0155.json": [("error", "named like a heartbeat but is a FIFO, not read")],
        # not <task-id>_...: no legacy name, so check does not count it (an error)
        "\ufffd\ufffd_bytes.json": [("warning", "file name is not UTF-8"), ("error", "not a heartbeat name")],
        "notes-\ufffd.txt": [("warning", "file name is not UTF-8"), ("warning", "not a heartbeat file")],
        "has space_latest.json": [("error", "not a heartbeat name")],  # no task id, no legacy name: not counted
        "README.txt": [("warning", "not a heartbeat file")],
        "two\nlines.json": [("warning", "not a heartbeat file")],
    }
    return outside, expected


def test_a_hostile_health_folder_is_linted_to_the_end_naming_every_problem(home, tmp_path):
    outside, expected = hostile(home, tmp_path)
    code, problems = lint_json(home)  # a FIFO that blocked would time out here
    found = by_file(problems)
    assert code == 2
    assert set(found) == {f"health/{name}" for name in expected}  # the 1970 file is fine
    for name, wanted in expected.items():
        for severity, fragment in wanted:
            assert has(found[f"health/{name}"], severity, fragment), (name, fragment, found[f"health/{name}"])
    assert json.loads(outside.read_text())["task_id"] == "outside"


def test_a_hostile_health_folder_prints_as_text_too(home, tmp_path):
    _, expected = hostile(home, tmp_path)
    r = run_alive("lint", home=home, timeout=30)
    assert r.returncode == 2 and r.stderr == ""
    assert r.stdout.splitlines()[-1].endswith(f"({len(expected) + 1} files in health/ checked)")
    assert "WARNING health/\ufffd\ufffd_bytes.json: file name is not UTF-8" in r.stdout
    assert "WARNING health/two\\nlines.json: not a heartbeat file\n" in r.stdout


def test_a_health_dir_that_is_a_file_is_an_error_line_not_a_crash(home):
    (home / "health").write_text("oops")
    code, problems = lint_json(home)
    assert code == 2
    assert problems == [{"file": "health", "severity": "error", "problem": "is not a folder"}]


# ---------------------------------------------------------------- thresholds, clock frozen


@pytest.mark.parametrize("age,warned", [(3599, False), (3600, False), (3601, True)])
def test_a_temp_file_is_a_stray_only_when_older_than_an_hour(home, capsys, age, warned):
    temp = put(home / "health", ".2026-05-02_t_0155.json.1.ab.tmp", b"{")
    os.utime(temp, (MTIME, MTIME))
    with freeze_time(datetime.fromtimestamp(MTIME + age, UTC)):
        code = lint.main(["--json"])
    problems = json.loads(capsys.readouterr().out)["problems"]
    assert (code, len(problems)) == ((1, 1) if warned else (0, 0))
    if warned:
        assert problems[0]["problem"] == "stray temp file, 1h old (safe to remove)"


@pytest.mark.parametrize("ahead,warned", [(299, False), (300, False), (301, True)])
def test_a_run_is_in_the_future_only_beyond_five_minutes_of_clock_skew(home, ahead, warned):
    completed = NOW + timedelta(seconds=ahead)
    put(home / "health", "2026-05-02_t_0800.json",
        beat(started="2026-05-02T08:00:00Z", completed_at=completed.strftime("%Y-%m-%dT%H:%M:%SZ")))
    problems, checked = lint.lint_health(home / "health", home, NOW)
    assert checked == 1
    assert [p["severity"] for p in problems] == (["warning"] if warned else [])


@pytest.mark.parametrize("length,ok", [(199, True), (200, True), (201, False)])
def test_a_summary_may_be_200_characters_and_no_more(home, length, ok):
    put(home / "health", "2026-05-02_t_0155.json", beat(summary="s" * length))
    problems, _ = lint.lint_health(home / "health", home, NOW)
    assert (problems == []) is ok


def test_a_suffixed_canonical_name_matches_its_started_at(home):
    put(home / "health", "2026-05-02_t_0155-2.json", beat())
    put(home / "health", "2026-05-02_t_0155-x.json", beat())  # a legacy bare name, not a suffix
    problems, _ = lint.lint_health(home / "health", home, NOW)
    assert [p["file"] for p in problems] == ["health/2026-05-02_t_0155-x.json"]


# ---------------------------------------------------------------- fleet.toml


# A step from a single number (`1/2`, `5/15`) is read differently by each cron: FreeBSD's
# (and macOS's) usr.sbin/cron/lib/entry.c get_range() runs it to the field's end
# (`if (ch == '/') num2 = high;`, and the day of the week ends at 7, Sunday); cronie's
# src/entry.c get_range() refuses it (state R_NUM1 takes only `-`, `~` or a separator: "bad
# day-of-week"), as Vixie cron and Debian's do; croniter stops the day of the week at 6.
@pytest.mark.parametrize("spec, said", [
    ("cron 0 12 * * 1/2", "day-of-week 1/2 is mon,wed,fri,sun (1,3,5,7: 7 is Sunday)"),
    ("cron 0 12 * * mon/3", "day-of-week mon/3 is mon,thu,sun (1,4,7: 7 is Sunday)"),
    ("cron 5/20 * * * *", "minute 5/20 is 5,25,45"),
])
def test_lint_says_which_values_a_step_from_one_number_means_since_crons_differ(home, spec, said):
    (home / "fleet.toml").write_text(f'[tasks.dq]\nschedule = "{spec}"\n')
    code, problems = lint_json(home)
    assert code == 1
    [p] = problems
    assert (p["file"], p["line"], p["severity"]) == ("fleet.toml", 2, "warning")
    assert p["problem"].startswith(f"tasks.dq.schedule: {said}")
    assert "cronie" in p["problem"] and "refuse" in p["problem"] and "FreeBSD" in p["problem"]


def test_lint_is_quiet_about_steps_every_cron_reads_alike(home):
    (home / "fleet.toml").write_text('[tasks.dq]\nschedule = "cron */15 1-23/2 * * 1-5/2"\n')
    assert lint_json(home) == (0, [])


def test_a_broken_fleet_toml_is_an_error_line_with_its_line_not_exit_3(home):
    (home / "fleet.toml").write_text('[tasks.dq]\nschedule = "daily 07:00"\nmax_gap = "36 hours"\n')
    put(home / "health", "2026-05-02_dq_0155.json", beat("dq"))
    code, problems = lint_json(home)
    assert code == 2
    assert problems == [{"file": "fleet.toml", "line": 3, "severity": "error",
                         "problem": 'tasks.dq.max_gap: "36 hours" is not a duration (use 36h)'}]
    r = run_alive("lint", home=home)
    assert r.returncode == 2
    assert r.stdout.splitlines()[0] == 'ERROR fleet.toml:3: tasks.dq.max_gap: "36 hours" is not a duration (use 36h)'


def test_toml_that_does_not_parse_is_an_error_and_health_is_still_linted(home):
    (home / "fleet.toml").write_text("[settings\n")
    put(home / "health", "notes.txt", b"x")
    code, problems = lint_json(home)
    assert code == 2
    assert [(p["file"], p["severity"]) for p in problems] == [("fleet.toml", "error"), ("health/notes.txt", "warning")]
    assert "not valid TOML" in problems[0]["problem"]


def test_a_program_that_cannot_be_found_is_a_warning(home):
    (home / "fleet.toml").write_text('[tasks.dq]\nrun = ["/nonexistent/alive-test-program"]\n')
    code, problems = lint_json(home)
    assert code == 1
    [p] = problems
    assert (p["file"], p["line"], p["severity"]) == ("fleet.toml", 2, "warning")
    assert "not found" in p["problem"]


def test_health_is_the_one_folder_linted_and_another_health_dir_is_an_error_line(home):
    """Every writer puts heartbeats in ALIVE_HOME/health: a health_dir elsewhere would split
    the fleet, so it is refused (an error line, lint goes on with health/)."""
    put(home / "beats", "notes.txt", b"x")
    put(home / "health", "seen.txt", b"x")
    (home / "fleet.toml").write_text('[settings]\nhealth_dir = "beats"\n')
    code, problems = lint_json(home)
    assert code == 2
    assert [(p["file"], p["severity"]) for p in problems] == [("fleet.toml", "error"), ("health/seen.txt", "warning")]
    assert "settings.health_dir" in problems[0]["problem"] and "ALIVE_HOME" in problems[0]["problem"]


def test_a_config_outside_home_is_shown_by_its_path(home, tmp_path):
    config = tmp_path / "elsewhere.toml"
    config.write_text("bogus = 1\n")
    code, problems = lint_json(home, "--config", config)
    assert code == 2
    assert problems[0]["file"] == str(config) and problems[0]["line"] == 1


def test_bad_usage_is_exit_3_with_one_line(home):
    r = run_alive("lint", "--bogus", home=home)
    assert r.returncode == 3 and len(r.stderr.strip().splitlines()) == 1 and "Traceback" not in r.stderr


def test_a_key_given_twice_is_an_error(home):
    """issue 19 item 3: the last "status" would win silently."""
    text = json.dumps(beat(status="error", errors=["disk full"]))[:-1] + ', "status": "ok"}'
    put(home / "health", "2026-05-02_t_0155.json", text.encode())
    problems, _ = lint.lint_health(home / "health", home, NOW)
    assert [(p["severity"], p["problem"]) for p in problems] == [
        ("error", "key 'status' appears twice (which value counts is ambiguous)")]


def test_a_past_name_over_content_dated_years_ahead_is_an_error(home):
    """issue 19 item 2: name and content disagree about the date: the file cannot be trusted."""
    put(home / "health", "2026-05-02_t_0155.json", beat(started="2034-07-19T01:55:00Z"))
    problems, _ = lint.lint_health(home / "health", home, NOW)
    assert ("error", "started_at 2034-07-19T01:55:00Z is not the time in the file name (2026-05-02 01:55 UTC): "
                     "another day, or later than the name") in [(p["severity"], p["problem"]) for p in problems]


def test_a_task_one_typo_from_a_registered_one_is_a_warning_with_did_you_mean(home):
    """issue 19 item 4: `nightly-bakup` beside a registered `nightly-backup` was lint clean."""
    (home / "fleet.toml").write_text('[tasks.nightly-backup]\nmax_gap = "36h"\n')
    put(home / "health", "2026-05-02_nightly-bakup_0155.json", beat("nightly-bakup"))
    put(home / "health", "2026-05-02_nightly-bakup_0255.json", beat("nightly-bakup", started="2026-05-02T02:55:00Z"))
    put(home / "health", "2026-05-02_nightly-backup_0155.json", beat("nightly-backup"))
    code, problems = lint_json(home)
    assert code == 1
    assert problems == [{"file": "health/2026-05-02_nightly-bakup_0255.json", "severity": "warning",
                         "problem": "task nightly-bakup is not in fleet.toml: did you mean nightly-backup? "
                                    "(a typo in the task id leaves nightly-backup without runs)"}]


@pytest.mark.parametrize("name", ["t_latest.json", "2026-05-02_t_{hhmm}.json"])
@pytest.mark.parametrize("start,error", [("08:05:59", False), ("08:06:00", True), ("08:06:01", True)])
def test_a_run_check_does_not_count_for_starting_in_the_future_is_an_error_as_check_says(home, name, start, error):
    """check leaves out a run that starts after the minute of now + 5 minutes and lists the
    file as invalid (facts.task_files, Facts.cutoff); lint says error, not warning, there."""
    name = name.format(hhmm=start[:5].replace(":", ""))
    put(home / "health", name, beat(started=f"2026-05-02T{start}Z", completed_at="2035-01-01T00:00:00Z"))
    problems = [p for p in lint.lint_health(home / "health", home, NOW)[0] if "future" in p["problem"]]
    assert [p["severity"] for p in problems] == ["error" if error else "warning"], problems
    if error:
        assert "check does not count it" in problems[0]["problem"], problems
