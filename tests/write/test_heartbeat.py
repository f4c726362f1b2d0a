import json
import os
from datetime import datetime, timedelta, timezone

import pytest

from alive.base import atomic
from alive.write import heartbeat

NOW = datetime(2026, 5, 2, 1, 55, 30, tzinfo=timezone.utc)


def valid(**over):
    hb = heartbeat.build("daily-dq", NOW)
    hb.update(over)
    return hb


def test_build_fills_the_defaults():
    hb = heartbeat.build("daily-dq", NOW)
    assert hb["status"] == "ok"
    assert hb["started_at"] == hb["completed_at"] == "2026-05-02T01:55:30Z"
    assert hb["summary"] == "daily-dq ok"
    assert hb["warnings"] == [] and hb["errors"] == [] and hb["metrics"] == {}
    assert heartbeat.check(hb) == ([], [])


@pytest.mark.parametrize("task_id", ["../x", "a/b", "", ".hidden", "x" * 129, "has space", "-dash", None])
def test_invalid_task_ids_are_refused(task_id):
    with pytest.raises(ValueError, match="task id"):
        heartbeat.build(task_id, NOW)


def test_the_longest_task_id_is_accepted():
    assert heartbeat.build("x" * 128, NOW)["task_id"] == "x" * 128


@pytest.mark.parametrize("status", ["GREEN", "YELLOW", "RED", "OK", "fine", ""])
def test_only_the_four_canonical_statuses_are_written(status):
    with pytest.raises(ValueError) as err:
        heartbeat.build("t", NOW, status=status)
    assert "ok, partial, skipped, error" in str(err.value)


def test_a_long_summary_is_cut_to_200_with_a_warning():
    hb = heartbeat.build("t", NOW, summary="y" * 250)
    assert hb["summary"] == "y" * 200
    assert hb["warnings"] == ["summary was 250 characters; cut to 200: keep the job's summary to one line of "
                              "at most 200 characters (details go in warnings, errors or metrics)"]


def test_a_summary_of_exactly_200_is_kept_without_warning():
    hb = heartbeat.build("t", NOW, summary="y" * 200)
    assert hb["summary"] == "y" * 200 and hb["warnings"] == []


def test_a_multiline_summary_becomes_one_line():
    assert heartbeat.build("t", NOW, summary="a\nb\r\n c")["summary"] == "a b c"


def test_completed_before_started_is_refused():
    with pytest.raises(ValueError, match="before started_at"):
        heartbeat.build("t", NOW, started_at=NOW, completed_at=NOW - timedelta(seconds=1))


def test_file_names_come_from_started_at_in_utc():
    hb = heartbeat.build("my_task.v2", NOW, started_at=NOW - timedelta(hours=3))
    assert heartbeat.canonical_stem(hb) == "2026-05-01_my_task.v2_2255"


@pytest.mark.parametrize("name,expected", [
    ("2026-05-02_daily-dq_0155.json", ("canonical", "daily-dq", ("2026-05-02", "0155", 1))),
    ("2026-05-02_daily-dq_0155-3.json", ("canonical", "daily-dq", ("2026-05-02", "0155", 3))),
    ("2026-05-02_my_task_2_0155.json", ("canonical", "my_task_2", ("2026-05-02", "0155", 1))),
    ("daily-dq_latest.json", ("latest", "daily-dq", None)),
    ("task_2026-05-02T130640Z.json", ("legacy", None, None)),
    (".2026-05-02_x_0155.json.123.tmp", None),
    ("notes.txt", None),
    ("2026-13-02_x_0155.json", ("legacy", None, None)),
])
def test_names_are_split_by_their_fixed_parts(name, expected):
    assert heartbeat.parse_name(name) == expected


def test_canonical_order_is_started_at_order():
    names = ["2026-05-02_t_0155-2.json", "2026-05-01_t_2359.json", "2026-05-02_t_0155-10.json", "2026-05-02_t_0155.json"]
    ordered = sorted(names, key=lambda n: heartbeat.parse_name(n)[2])
    assert ordered == ["2026-05-01_t_2359.json", "2026-05-02_t_0155.json", "2026-05-02_t_0155-2.json", "2026-05-02_t_0155-10.json"]


@pytest.mark.parametrize("change,problem", [
    ({"task_id": None}, "required field task_id is null"),
    ({"status": None}, "required field status is null"),
    ({"started_at": None}, "required field started_at is null"),
    ({"summary": "x" * 201}, "summary is 201 characters"),
    ({"summary": ""}, "summary is empty"),
    ({"status": "done"}, "is not one of ok, partial, skipped, error"),
    ({"warnings": "oops"}, "warnings must be a list of strings"),
    ({"errors": [1]}, "errors must be a list of strings"),
    ({"metrics": []}, "metrics must be an object"),
    ({"started_at": "yesterday"}, "started_at:"),
    ({"completed_at": "2026-05-01T00:00:00Z"}, "completed_at is before started_at"),
    ({"interval_s": "15m"}, "interval_s has the wrong type"),
    ({"complete": "yes"}, "complete has the wrong type"),
    ({"exit_code": True}, "exit_code has the wrong type"),
])
def test_check_names_each_problem(change, problem):
    errors, _ = heartbeat.check(valid(**change))
    assert any(problem in e for e in errors), errors


def test_a_missing_field_is_named():
    hb = valid()
    del hb["metrics"]
    assert heartbeat.check(hb)[0] == ["required field metrics is missing"]


def test_legacy_colors_are_read_as_statuses_and_reported():
    hb, errors, warnings = heartbeat.loads(json.dumps(valid(status="YELLOW")).encode())
    assert errors == [] and hb["status"] == "partial" and hb["legacy_status"] == "YELLOW"
    assert warnings == ["legacy status 'YELLOW' (write 'partial')"]


@pytest.mark.parametrize("data,problem", [
    (b"{", "not valid JSON"), (b"\xff\xfe\x00garbage", "not"), (b"[1, 2]", "not a JSON object"),
    (b"null", "not a JSON object"), (b"[" * 100000, "JSON"),
])
def test_loads_never_raises(data, problem):
    hb, errors, _ = heartbeat.loads(data)
    assert errors and problem in errors[0]


def test_write_never_overwrites_a_run_in_the_same_minute(tmp_path):
    hb = heartbeat.build("t", NOW)
    paths = [heartbeat.write(tmp_path, hb) for _ in range(3)]
    assert [os.path.basename(p) for p in paths] == ["2026-05-02_t_0155.json", "2026-05-02_t_0155-2.json", "2026-05-02_t_0155-3.json"]
    assert json.loads((tmp_path / "t_latest.json").read_text()) == hb
    assert not [p for p in os.listdir(tmp_path) if p.startswith(".")]  # no temp files left


def test_a_failed_write_leaves_no_temp_file_and_no_partial_file(tmp_path, monkeypatch):
    def broken_fsync(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "fsync", broken_fsync)
    with pytest.raises(OSError):
        heartbeat.write(tmp_path, heartbeat.build("t", NOW))
    assert os.listdir(tmp_path) == []


def test_write_atomic_keeps_the_old_file_when_the_new_one_fails(tmp_path, monkeypatch):
    target = tmp_path / "state.json"
    atomic.write_atomic(target, b'{"old": true}')

    def broken_write(fd, data):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(atomic.os, "write", broken_write)
    with pytest.raises(OSError):
        atomic.write_atomic(target, b'{"new": true}')
    assert target.read_bytes() == b'{"old": true}'
    assert os.listdir(tmp_path) == ["state.json"]


def test_create_new_falls_back_when_hard_links_are_not_supported(tmp_path, monkeypatch):
    def no_links(src, dst):
        raise OSError(1, "Operation not permitted")

    monkeypatch.setattr(atomic.os, "link", no_links)
    first = atomic.create_new(tmp_path, ["a.json", "b.json"], b"1")
    second = atomic.create_new(tmp_path, ["a.json", "b.json"], b"2")
    assert (os.path.basename(first), os.path.basename(second)) == ("a.json", "b.json")
    assert (tmp_path / "a.json").read_bytes() == b"1" and (tmp_path / "b.json").read_bytes() == b"2"
    assert sorted(os.listdir(tmp_path)) == ["a.json", "b.json"]


@pytest.mark.parametrize("data,key", [
    (b'{"task_id": "t", "status": "error", "started_at": "2026-05-02T01:55:00Z", "completed_at": '
     b'"2026-05-02T01:55:00Z", "summary": "s", "warnings": [], "errors": ["x"], "metrics": {}, "status": "ok"}',
     "status"),
    (b'{"task_id": "t", "status": "ok", "started_at": "2026-05-02T01:55:00Z", "completed_at": '
     b'"2026-05-02T01:55:00Z", "summary": "s", "warnings": [], "errors": [], "metrics": {"rows": 1, "rows": 2}}',
     "rows"),
])
def test_a_key_given_twice_makes_the_file_invalid(data, key):
    """issue 19 item 3: json.loads keeps the last of two equal keys without a word, so one
    reader may see "error" where another sees "ok" (RFC 8259 §4: names SHOULD be unique)."""
    hb, errors, _ = heartbeat.loads(data)
    assert errors == [f"key {key!r} appears twice (which value counts is ambiguous)"]


def test_the_same_key_in_two_objects_is_fine():
    data = (b'{"task_id": "t", "status": "ok", "started_at": "2026-05-02T01:55:00Z", "completed_at": '
            b'"2026-05-02T01:55:00Z", "summary": "s", "warnings": [], "errors": [], '
            b'"metrics": {"a": {"n": 1}, "b": {"n": 2}}}')
    hb, errors, _ = heartbeat.loads(data)
    assert errors == [] and hb["metrics"]["b"] == {"n": 2}
