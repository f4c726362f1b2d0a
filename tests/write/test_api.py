import os

import pytest
from conftest import heartbeats
from freezegun import freeze_time

import alive


def only(home, task):
    [(_, hb)] = heartbeats(home, task)
    return hb


@freeze_time("2026-05-02T01:55:00Z")
def test_a_clean_block_writes_one_ok_heartbeat(home):
    with alive.task("extract", interval="15m") as run:
        run.metric("rows", 12)
    hb = only(home, "extract")
    assert hb["status"] == "ok" and hb["metrics"] == {"rows": 12} and hb["interval_s"] == 900
    assert hb["started_at"] == "2026-05-02T01:55:00Z"


def test_warnings_make_it_partial_and_errors_make_it_error(home):
    with alive.task("warned") as run:
        run.warn("3 rows late")
    with alive.task("failed") as run:
        run.error("upstream empty")
    assert only(home, "warned")["status"] == "partial"
    assert only(home, "failed")["status"] == "error"
    assert only(home, "failed")["errors"] == ["upstream empty"]


def test_status_and_summary_can_be_set(home):
    with alive.task("quiet") as run:
        run.status = "skipped"
        run.summary = "nothing new"
    hb = only(home, "quiet")
    assert (hb["status"], hb["summary"]) == ("skipped", "nothing new")


def test_complete_marks_the_job_finished_for_good(home):
    with alive.task("backfill") as run:
        run.complete()
    assert only(home, "backfill")["complete"] is True


def test_an_exception_is_an_error_heartbeat_and_propagates(home):
    with pytest.raises(KeyError):
        with alive.task("crashy") as run:
            run.metric("before", 1)
            raise KeyError("missing column")
    hb = only(home, "crashy")
    assert hb["status"] == "error" and hb["errors"] == ["KeyError: 'missing column'"]
    assert hb["metrics"] == {"before": 1}


def test_a_heartbeat_that_cannot_be_written_never_masks_the_jobs_exception(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(ZeroDivisionError):
        with alive.task("t", home=blocker / "home"):
            1 / 0
    assert "could not write heartbeat for t" in capsys.readouterr().err


def test_a_heartbeat_that_cannot_be_written_does_not_break_a_good_job(tmp_path, capsys):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with alive.task("t", home=blocker / "home") as run:
        run.metric("a", 1)
    assert "could not write heartbeat" in capsys.readouterr().err


def test_an_invalid_status_set_in_the_block_is_reported_not_raised(home, capsys):
    with alive.task("odd") as run:
        run.status = "GREEN"
    assert "health color" in capsys.readouterr().err
    assert not heartbeats(home, "odd")


def test_an_invalid_task_id_is_refused_at_once(home):
    with pytest.raises(ValueError, match="task id"):
        alive.task("../x")


def test_exactly_one_heartbeat_per_block(home):
    for _ in range(3):
        with alive.task("repeat"):
            pass
    assert len(heartbeats(home, "repeat")) == 3
    assert os.path.exists(home / "health" / "repeat_latest.json")
