"""Health rules (DESIGN §5), each threshold one second before, at, and after."""
import json
import os
from datetime import datetime, timedelta, timezone

import pytest
from helpers import fleet

from alive.write import heartbeat
from alive.check import health
from alive.check.cmd_check import run_check

T0 = datetime(2026, 5, 2, 7, 0, 0, tzinfo=timezone.utc)
S = timedelta(seconds=1)


def beat(home, task, at, status="ok", took=0, **kw):
    """helpers.beat, but a run takes no time unless said: these thresholds count from one instant."""
    hb = heartbeat.build(task, at, status=status, started_at=at - timedelta(seconds=took), completed_at=at, **kw)
    heartbeat.write(home / "health", hb)


def item(home, reg, now, name, kind="task"):
    result = run_check(home, reg, now)
    return next(i for i in result.items if i.name == name and i.kind == kind)


# ---- max_gap ---------------------------------------------------------------

@pytest.mark.parametrize("offset,color", [(-1, "GREEN"), (0, "GREEN"), (1, "RED")])
def test_max_gap_from_the_registry(home, offset, color):
    reg = fleet(home, '[tasks.dq]\nmax_gap = "36h"\n')
    beat(home, "dq", T0)
    it = item(home, reg, T0 + timedelta(hours=36) + offset * S, "dq")
    assert it.color == color
    if color == "RED":
        assert it.reasons == ["no heartbeat for 36h (max gap 36h)"]
        assert it.details["max_gap_s"] == 129600


def test_max_gap_of_a_scheduled_task_is_reported_as_twice_its_longest_gap(home):
    """A schedule is judged by lateness (tests/check/test_lateness.py); max_gap_s still says the
    ceiling a tool may use (twice the longest gap of the schedule)."""
    reg = fleet(home, '[tasks.report]\nschedule = "daily 08:00,12:00,16:00"\n')
    beat(home, "report", T0)
    assert item(home, reg, T0 + timedelta(minutes=1), "report").details["max_gap_s"] == 32 * 3600


@pytest.mark.parametrize("offset,color", [(-1, "GREEN"), (0, "GREEN"), (1, "RED")])
def test_max_gap_of_a_discovered_task_is_twice_its_interval(home, offset, color):
    reg = fleet(home)
    beat(home, "found", T0, interval_s=900)
    assert item(home, reg, T0 + timedelta(minutes=30) + offset * S, "found").color == color


@pytest.mark.parametrize("offset,color", [(-1, "GREEN"), (0, "GREEN"), (1, "RED")])
def test_max_gap_falls_back_to_the_default(home, offset, color):
    reg = fleet(home, '[settings]\ndefault_max_gap = "2h"\n')
    beat(home, "plain", T0)
    assert item(home, reg, T0 + timedelta(hours=2) + offset * S, "plain").color == color


def test_a_registered_task_that_never_reported_is_red(home):
    reg = fleet(home, '[tasks.ghost]\nschedule = "every 15m"\n')
    it = item(home, reg, T0, "ghost")
    assert it.color == "RED" and it.reasons == ["never reported: no heartbeat in health/"]


def test_discovery_can_be_turned_off(home):
    reg = fleet(home, "[settings]\ndiscover = false\n")
    beat(home, "stray", T0, status="error")
    assert run_check(home, reg, T0).items == []


# ---- statuses and alert_after ----------------------------------------------

def test_ok_and_skipped_are_green(home):
    reg = fleet(home)
    beat(home, "a", T0)
    beat(home, "b", T0, status="skipped")
    result = run_check(home, reg, T0)
    assert [i.color for i in result.items] == ["GREEN", "GREEN"] and result.overall == "GREEN"


def test_an_error_is_red_by_default_with_the_first_error_as_reason(home):
    reg = fleet(home)
    beat(home, "etl", T0, status="error", errors=["upstream empty", "second"])
    it = item(home, reg, T0, "etl")
    assert it.color == "RED" and it.reasons == ["latest run failed: upstream empty"]
    assert it.details["consecutive_errors"] == 1 and it.details["last_status"] == "error"


@pytest.mark.parametrize("errors,color", [(2, "YELLOW"), (3, "RED"), (4, "RED")])
def test_alert_after_counts_consecutive_errors(home, errors, color):
    reg = fleet(home, "[tasks.flaky]\nalert_after = 3\n")
    beat(home, "flaky", T0 - timedelta(hours=5))
    for n in range(errors):
        beat(home, "flaky", T0 - timedelta(hours=4 - n), status="error", errors=[f"try {n}"])
    it = item(home, reg, T0, "flaky")
    assert it.color == color and it.details["consecutive_errors"] == errors
    if color == "YELLOW":
        assert it.reasons == [f"latest run failed: try {errors - 1} ({errors} of 3 consecutive errors before RED)"]


def test_an_ok_run_resets_the_error_count(home):
    reg = fleet(home, "[tasks.flaky]\nalert_after = 2\n")
    beat(home, "flaky", T0 - timedelta(hours=3), status="error")
    beat(home, "flaky", T0 - timedelta(hours=2), status="ok")
    beat(home, "flaky", T0 - timedelta(hours=1), status="error")
    assert item(home, reg, T0, "flaky").color == "YELLOW"


def test_partial_and_warnings_are_yellow(home):
    reg = fleet(home)
    beat(home, "p", T0, status="partial", summary="3 rows late")
    beat(home, "w", T0, warnings=["disk 91% full", "slow"])
    assert item(home, reg, T0, "p").reasons == ["latest run partial: 3 rows late"]
    w = item(home, reg, T0, "w")
    assert w.color == "YELLOW" and w.reasons == ["warning: disk 91% full (and 1 more)"]


@pytest.mark.parametrize("took,color", [(4, "YELLOW"), (5, "GREEN"), (6, "GREEN")])
def test_min_duration_flags_runs_that_were_too_fast(home, took, color):
    reg = fleet(home, '[tasks.backup]\nmin_duration = "5s"\n')
    beat(home, "backup", T0, took=took)
    it = item(home, reg, T0, "backup")
    assert it.color == color
    if color == "YELLOW":
        assert "too fast" in it.reasons[0] and "min duration 5s" in it.reasons[0]


@pytest.mark.parametrize("ahead,color", [(299, "GREEN"), (300, "GREEN"), (301, "YELLOW")])
def test_a_completed_at_more_than_5_minutes_ahead_is_clock_skew(home, ahead, color):
    reg = fleet(home)
    beat(home, "skewed", T0 + timedelta(seconds=ahead))
    it = item(home, reg, T0, "skewed")
    assert it.color == color
    if color == "YELLOW":
        assert "in the future (clock skew?)" in it.reasons[0]


def test_a_complete_task_is_green_however_old(home):
    reg = fleet(home, '[tasks.backfill]\nmax_gap = "1h"\n')
    beat(home, "backfill", T0 - timedelta(days=400), complete=True)
    it = item(home, reg, T0, "backfill")
    assert it.color == "GREEN" and it.reasons[0].startswith("complete")


def test_legacy_status_values_are_read(home):
    reg = fleet(home)
    data = heartbeat.build("old", T0)
    data["status"] = "RED"
    (home / "health").mkdir()
    (home / "health" / "old_2026-05-02T070000Z.json").write_text(json.dumps(data))
    it = item(home, reg, T0, "old")
    assert it.color == "RED" and it.details["legacy_status"] == "RED"


# ---- invalid files -----------------------------------------------------------

def test_an_invalid_latest_file_is_red_and_listed(home):
    reg = fleet(home)
    beat(home, "broken", T0 - timedelta(hours=1))
    (home / "health" / "2026-05-02_broken_0700.json").write_text('{"task_id": null}')
    result = run_check(home, reg, T0)
    it = next(i for i in result.items if i.name == "broken")
    assert it.color == "RED" and "latest heartbeat file is invalid: 2026-05-02_broken_0700.json" in it.reasons[0]
    assert result.invalid_files == [{"file": "health/2026-05-02_broken_0700.json", "problem": "required field task_id is null"}]


def test_only_the_files_a_decision_needs_are_read(home):
    reg = fleet(home)
    for hour in range(1, 6):
        beat(home, "steady", T0 - timedelta(hours=hour))
    # Older history is garbage; the checker must not even open it.
    (home / "health" / "2026-04-01_steady_0100.json").write_text("{garbage")
    assert run_check(home, reg, T0).invalid_files == []


# ---- hung runs ----------------------------------------------------------------

@pytest.mark.parametrize("offset,color", [(-1, "GREEN"), (0, "GREEN"), (1, "RED")])
def test_a_run_in_progress_longer_than_max_runtime_is_hung(home, offset, color):
    reg = fleet(home, '[tasks.long]\nmax_runtime = "1h"\n')
    beat(home, "long", T0 - timedelta(minutes=5))
    start = T0 - timedelta(hours=1) - offset * S
    running = home / "state" / "running"
    running.mkdir(parents=True)
    (running / "long.json").write_text(json.dumps({"pid": os.getpid(), "task_id": "long",
                                                   "started_at": start.strftime("%Y-%m-%dT%H:%M:%SZ")}))
    it = item(home, reg, T0, "long")
    assert it.color == color
    if color == "RED":
        assert it.reasons[-1].startswith("hung: run in progress for 1h") and "max runtime 1h" in it.reasons[-1]


def test_a_marker_whose_process_is_gone_is_ignored(home):
    reg = fleet(home, '[tasks.long]\nmax_runtime = "1m"\n')
    beat(home, "long", T0)
    running = home / "state" / "running"
    running.mkdir(parents=True)
    (running / "long.json").write_text(json.dumps({"pid": 2 ** 22 + 12345, "task_id": "long",
                                                   "started_at": "2026-05-01T00:00:00Z"}))
    assert item(home, reg, T0, "long").color == "GREEN"


# ---- pauses and dependencies ---------------------------------------------------

@pytest.mark.parametrize("offset,color", [(-1, "RED"), (0, "RED"), (1, "GREY")])
def test_a_pause_holds_until_its_end(home, offset, color):
    reg = fleet(home)
    beat(home, "noisy", T0, status="error")
    until = T0 + offset * S
    (home / "state").mkdir()
    (home / "state" / "pauses.json").write_text(json.dumps(
        {"task:noisy": {"until": until.strftime("%Y-%m-%dT%H:%M:%SZ"), "reason": "vendor outage"}}))
    result = run_check(home, reg, T0)
    it = result.items[0]
    assert it.color == color
    if color == "GREY":
        assert it.reasons[0] == f"paused until {until.strftime('%Y-%m-%dT%H:%M:%SZ')}: vendor outage"
        assert result.overall == "GREEN"


def test_a_task_blocked_by_a_red_dependency_is_yellow(home):
    reg = fleet(home, '[tasks.extract]\n[tasks.load]\ndepends_on = ["extract"]\n[tasks.report]\ndepends_on = ["extract"]\n')
    beat(home, "extract", T0, status="error")
    beat(home, "load", T0, status="error")
    beat(home, "report", T0)
    result = run_check(home, reg, T0)
    by = {i.name: i for i in result.items}
    assert by["extract"].color == "RED"
    assert by["load"].color == "YELLOW" and by["load"].reasons[0] == "blocked by extract"
    assert by["load"].details["blocked_by"] == ["extract"]
    assert by["report"].color == "GREEN"


def test_overall_is_the_worst_non_grey_color(home):
    reg = fleet(home)
    assert run_check(home, reg, T0).overall == "GREEN"
    beat(home, "y", T0, status="partial")
    assert run_check(home, reg, T0).overall == "YELLOW"
    beat(home, "r", T0, status="error")
    assert run_check(home, reg, T0).overall == "RED"
    assert health.worst(["GREY"]) == "GREEN"


# ---- sources ---------------------------------------------------------------------

def source_fleet(home, extra=""):
    return fleet(home, f'[sources.track]\npath = "data/track.json"\nmax_age = "15m"\n{extra}')


def data(home, **doc):
    (home / "data").mkdir(exist_ok=True)
    (home / "data" / "track.json").write_text(json.dumps(doc))


@pytest.mark.parametrize("offset,color", [(-1, "GREEN"), (0, "GREEN"), (1, "YELLOW")])
def test_a_source_is_stale_after_max_age(home, offset, color):
    reg = source_fleet(home)
    data(home, captured_at=(T0 - timedelta(minutes=15) - offset * S).strftime("%Y-%m-%dT%H:%M:%SZ"))
    it = item(home, reg, T0, "track", "source")
    assert it.color == color and it.details["max_age_s"] == 900
    if color == "YELLOW":
        assert it.reasons == ["data is 15m old (max age 15m)"]


def test_source_capture_time_as_epoch_offset_or_mtime(home):
    reg = source_fleet(home)
    data(home, captured_at=(T0 - timedelta(minutes=1)).timestamp())
    assert item(home, reg, T0, "track", "source").details["age_s"] == 60
    data(home, captured_at="2026-05-02T08:59:00+02:00")
    assert item(home, reg, T0, "track", "source").details["age_s"] == 60
    reg = source_fleet(home, 'timestamp = "mtime"\n')
    os.utime(home / "data" / "track.json", (T0.timestamp() - 120, T0.timestamp() - 120))
    assert item(home, reg, T0, "track", "source").details["age_s"] == 120


@pytest.mark.parametrize("content,problem", [
    (None, "data file is missing"),
    ("not json", "data file is not valid JSON"),
    ("[1]", "data file holds no JSON object"),
    ('{"rows": 3}', "data file has no captured_at field"),
    ('{"captured_at": null}', "data file has captured_at = null, not a time"),
    ('{"captured_at": "last tuesday"}', 'data file has captured_at = "last tuesday", not a time'),
])
def test_a_missing_or_unreadable_data_file_is_red(home, content, problem):
    reg = source_fleet(home)
    if content is not None:
        (home / "data").mkdir()
        (home / "data" / "track.json").write_text(content)
    it = item(home, reg, T0, "track", "source")
    assert it.color == "RED" and it.reasons[0].startswith(problem)


def test_a_capture_time_in_the_future_is_clock_skew(home):
    reg = source_fleet(home)
    data(home, captured_at=(T0 + timedelta(minutes=6)).strftime("%Y-%m-%dT%H:%M:%SZ"))
    it = item(home, reg, T0, "track", "source")
    assert it.color == "YELLOW" and "clock skew" in it.reasons[0]


@pytest.mark.parametrize("failures,color", [(1, "YELLOW"), (2, "YELLOW"), (3, "RED")])
def test_failed_refreshes_count_toward_alert_after(home, failures, color):
    reg = source_fleet(home, "alert_after = 3\n")
    data(home, captured_at=T0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    (home / "state").mkdir()
    (home / "state" / "watchdog.json").write_text(json.dumps(
        {"sources": {"track": {"consecutive_failures": failures, "last_error": "exit 1: boom"}}}))
    it = item(home, reg, T0, "track", "source")
    assert it.color == color and it.details["consecutive_failures"] == failures
    assert "exit 1: boom" in it.reasons[0]


PROBED = '[probes.browser]\ncommand = ["true"]\ninterval = "10m"\n'


@pytest.mark.parametrize("state,color", [("alive", "GREEN"), ("expired", "RED"), ("no_tab", "RED"), ("error", "GREEN")])
def test_a_source_whose_probe_says_expired_is_red(home, state, color):
    reg = fleet(home, PROBED + '[sources.track]\npath = "data/track.json"\nmax_age = "15m"\nprobe = "browser"\n')
    data(home, captured_at=T0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text(json.dumps({"browser": {"state": state, "checked_at": "2026-05-02T06:55:00Z"}}))
    it = item(home, reg, T0, "track", "source")
    assert it.color == color and it.details["probe"] == state
    if color == "RED":
        assert it.reasons == [f"probe browser says {state}: a person must re-authenticate"]


@pytest.mark.parametrize("offset,state", [(-1, "expired"), (0, "expired"), (1, "unknown")])
def test_a_probe_state_older_than_three_intervals_is_unknown(home, offset, state):
    reg = fleet(home, PROBED + '[sources.track]\npath = "data/track.json"\nmax_age = "15m"\nprobe = "browser"\n')
    data(home, captured_at=T0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    checked = T0 - timedelta(minutes=30) - offset * S
    (home / "state").mkdir()
    (home / "state" / "probes.json").write_text(json.dumps(
        {"browser": {"state": "expired", "checked_at": checked.strftime("%Y-%m-%dT%H:%M:%SZ")}}))
    assert item(home, reg, T0, "track", "source").details["probe"] == state


def test_a_bad_status_field_value_is_red(home):
    reg = source_fleet(home, 'status_field = "bridge"\nbad_status = ["auth_expired"]\n')
    data(home, captured_at=T0.strftime("%Y-%m-%dT%H:%M:%SZ"), bridge="auth_expired")
    assert item(home, reg, T0, "track", "source").reasons == ["bridge is 'auth_expired'"]


def test_sources_imply_a_watchdog_task_that_is_red_until_it_reports(home):
    reg = source_fleet(home)
    data(home, captured_at=T0.strftime("%Y-%m-%dT%H:%M:%SZ"))
    it = item(home, reg, T0, "alive-watchdog")
    assert it.color == "RED" and it.reasons[0].startswith("never reported")
    beat(home, "alive-watchdog", T0)
    assert item(home, reg, T0 + timedelta(minutes=15), "alive-watchdog").color == "GREEN"
    assert item(home, reg, T0 + timedelta(minutes=15) + S, "alive-watchdog").color == "RED"


def test_a_heartbeat_with_a_key_given_twice_is_invalid_and_red(home):
    """issue 19 item 3: "status":"error", ..., "status":"ok" must not read as ok."""
    reg = fleet(home)
    hb = heartbeat.build("dq", T0, status="error", errors=["disk full"])
    text = heartbeat.serialize(hb).decode().rstrip().rstrip("}") + ',\n  "status": "ok"\n}\n'
    (home / "health").mkdir(exist_ok=True)
    (home / "health" / "2026-05-02_dq_0700.json").write_text(text)
    it = item(home, reg, T0 + timedelta(minutes=1), "dq")
    assert it.color == "RED"
    assert it.reasons == ["latest heartbeat file is invalid: 2026-05-02_dq_0700.json: "
                          "key 'status' appears twice (which value counts is ambiguous)"]


def write_raw(home, name, hb):
    (home / "health").mkdir(exist_ok=True)
    (home / "health" / name).write_bytes(heartbeat.serialize(hb))


def test_a_past_named_file_whose_content_is_dated_years_ahead_is_invalid_and_red(home):
    """issue 19 item 2: the name said a past minute, the content 3,000 days ahead: it was
    YELLOW "completed_at is 2999d in the future" until 2035, never RED, never notified."""
    reg = fleet(home)
    ahead = T0 + timedelta(days=3000)
    write_raw(home, "2026-05-02_dq_0700.json", heartbeat.build("dq", ahead, started_at=ahead))
    it = item(home, reg, T0 + timedelta(minutes=1), "dq")
    assert it.color == "RED"
    assert it.reasons == ["latest heartbeat file is invalid: 2026-05-02_dq_0700.json: started_at "
                          "2034-07-19T07:00:00Z is not the time in the file name (2026-05-02 07:00 UTC): "
                          "another day, or later than the name"]


@pytest.mark.parametrize("minutes,valid", [(-1, True), (0, True), (1, False)])
def test_content_later_than_its_name_by_a_minute_is_invalid(home, minutes, valid):
    reg = fleet(home)
    started = T0 + timedelta(minutes=minutes)
    write_raw(home, "2026-05-02_dq_0700.json", heartbeat.build("dq", started, started_at=started))
    it = item(home, reg, T0 + timedelta(minutes=2), "dq")
    assert (it.color == "GREEN") is valid, it.reasons


def test_content_earlier_the_same_day_is_still_counted(home):
    """A name later than its content (a writer that named the file when it finished) only
    misorders runs of one day: lint warns, check counts it."""
    reg = fleet(home)
    write_raw(home, "2026-05-02_dq_0700.json", heartbeat.build("dq", T0 - timedelta(hours=6),
                                                               started_at=T0 - timedelta(hours=6)))
    assert item(home, reg, T0 + timedelta(minutes=2), "dq").color == "GREEN"


@pytest.mark.parametrize("offset,color", [(-1, "YELLOW"), (0, "YELLOW"), (1, "RED")])
def test_a_completed_at_years_ahead_does_not_stop_the_max_gap_counting_from_the_start(home, offset, color):
    """issue 19 item 2: with completed_at 3,000 days ahead the age was negative, so max_gap
    never ran out. A completion in the future cannot be trusted: the gap counts from the start."""
    reg = fleet(home, '[tasks.dq]\nmax_gap = "36h"\n')
    write_raw(home, "2026-05-02_dq_0700.json",
              heartbeat.build("dq", T0, started_at=T0, completed_at=T0 + timedelta(days=3000)))
    it = item(home, reg, T0 + timedelta(hours=36) + offset * S, "dq")
    assert it.color == color, it.reasons
    if color == "RED":
        assert it.reasons[0] == "no heartbeat for 36h (max gap 36h; completed_at is in the future, so counted " \
                                "from started_at)"


# ---- a task id one typo away from a registered one (issue 19 item 4) -------------------

def test_a_discovered_task_one_typo_from_a_registered_one_is_yellow_with_did_you_mean(home):
    reg = fleet(home, '[tasks.nightly-backup]\nmax_gap = "36h"\n')
    beat(home, "nightly-bakup", T0)
    it = item(home, reg, T0 + timedelta(minutes=1), "nightly-bakup")
    assert it.color == "YELLOW"
    assert it.reasons == ["not in fleet.toml: did you mean nightly-backup? (a typo in the task id leaves "
                          "nightly-backup without runs)"]
    assert it.details["did_you_mean"] == "nightly-backup"


@pytest.mark.parametrize("found,near", [
    ("nightly-bakup", True), ("nigthly-backup", True), ("Nightly-Backup", True), ("nightly-backup-2", True),
    ("nightly-bkp", False), ("nightly-restore", False), ("daily-backup", False),
])
def test_did_you_mean_is_within_two_edits_for_longer_ids(found, near):
    assert health.near_miss(found, ["nightly-backup", "etl"]) == ("nightly-backup" if near else None)


@pytest.mark.parametrize("found,registered,near", [
    ("sync", "synk", True), ("sync", "snyc", False), ("etl", "et1", False), ("t", "T", False),
    ("report-v2", "report-v3", True),
])
def test_short_ids_get_one_edit_and_the_shortest_none(found, registered, near):
    """4-7 characters: one edit; under 4 every id is a typo of another (etl, et1): none."""
    assert health.near_miss(found, [registered]) == (registered if near else None)


def test_the_closest_registered_id_is_suggested():
    assert health.near_miss("nightly-bakup", ["nightly-backups", "nightly-backup"]) == "nightly-backup"


def test_a_registered_task_and_a_distant_discovered_one_stay_green(home):
    reg = fleet(home, '[tasks.nightly-backup]\nmax_gap = "36h"\n')
    beat(home, "nightly-backup", T0)
    beat(home, "weekly-report", T0)
    result = run_check(home, reg, T0 + timedelta(minutes=1))
    assert {i.name: i.color for i in result.items} == {"nightly-backup": "GREEN", "weekly-report": "GREEN"}


# ---- ages are never negative (issue 19 review: machine output) ------------------------

@pytest.mark.parametrize("ahead,age", [(timedelta(seconds=30), 0), (timedelta(days=3000), 7200)])
def test_a_task_age_never_goes_negative_and_counts_from_the_start_when_completed_at_is_far_ahead(home, ahead, age):
    """Within the skew allowance the age is 0 (README: durations are never negative); beyond
    it completed_at is not trusted, and the age counts from started_at as max_gap does."""
    reg = fleet(home, '[tasks.dq]\nmax_gap = "36h"\n')
    start = T0 - timedelta(hours=2)
    write_raw(home, "2026-05-02_dq_0500.json", heartbeat.build("dq", start, started_at=start, completed_at=T0 + ahead))
    assert item(home, reg, T0, "dq").details["age_s"] == age


def test_a_source_captured_in_the_future_has_age_zero_not_negative(home):
    reg = source_fleet(home)
    data(home, captured_at="2030-01-01T00:00:00Z")
    it = item(home, reg, T0, "track", "source")
    assert it.details["age_s"] == 0 and "clock skew" in it.reasons[0]
