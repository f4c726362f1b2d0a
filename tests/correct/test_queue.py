"""The trigger queue's spool backend: enqueue, pending, and `alive trigger`."""
import json
import os
from datetime import datetime, timezone

import pytest
from conftest import run_alive

from alive.config import registry
from alive.correct import queue
from alive.base.errors import UsageError

NOW = datetime(2026, 5, 2, 8, 0, 5, tzinfo=timezone.utc)
FLEET = '[sources.track]\npath = "track.json"\nmax_age = "15m"\n\n[sources."sales.eu"]\npath = "s.json"\nmax_age = "1h"\n'


def fleet(home, text=FLEET):
    (home / "fleet.toml").write_text(text)
    return registry.load(home / "fleet.toml", home)


def test_enqueue_writes_one_json_request_named_after_the_source(home):
    reg = fleet(home)
    path = queue.enqueue(home, reg, "track", "cli", NOW)
    assert path.parent == home / "triggers"
    source, stamp, rid, ext = path.name.rsplit(".", 3)
    assert (source, stamp, ext) == ("track", "20260502T080005Z", "json") and len(rid) == 12
    assert json.loads(path.read_text()) == {"source": "track", "requested_at": "2026-05-02T08:00:05Z",
                                            "origin": "cli", "id": rid}
    assert [p for p in os.listdir(home / "triggers") if p.startswith(".")] == []   # no temp file left


def test_two_requests_in_the_same_second_are_two_files(home):
    reg = fleet(home)
    a, b = queue.enqueue(home, reg, "track", "cli", NOW), queue.enqueue(home, reg, "track", "cli", NOW)
    assert a != b and len(queue.pending(home)) == 2


def test_a_source_name_with_a_dot_is_read_back_from_the_content(home):
    reg = fleet(home)
    queue.enqueue(home, reg, "sales.eu", "serve/form", NOW)
    [request] = queue.pending(home)
    assert request["source"] == "sales.eu" and request["origin"] == "serve/form"


@pytest.mark.parametrize("name", ["nope", "../../x", "track/../../x", "", ".", "..", "/etc/passwd", None, "track\n"])
def test_unknown_or_tricky_names_are_refused_before_any_path_is_made(home, name):
    reg = fleet(home)
    with pytest.raises(UsageError, match="unknown source"):
        queue.enqueue(home, reg, name, "cli", NOW)
    assert not (home / "triggers").exists()
    assert sorted(os.listdir(home)) == ["fleet.toml"]


def test_pending_is_oldest_first_and_skips_temp_files_and_garbage(home):
    reg = fleet(home)
    later = queue.enqueue(home, reg, "track", "cli", NOW.replace(second=30))
    earlier = queue.enqueue(home, reg, "sales.eu", "cli", NOW)
    folder = home / "triggers"
    (folder / ".track.json.123.abcd.tmp").write_text('{"source": "track"}')      # a writer's temp file
    (folder / "garbage.json").write_text("{not json")
    (folder / "list.json").write_text("[1, 2]")
    (folder / "partial.json").write_text('{"source": "track"}')                 # fields missing
    (folder / "notes.txt").write_text("hello")
    (folder / "dir.json").mkdir()
    os.symlink("/etc/hostname", folder / "link.json")
    os.mkfifo(folder / "fifo.json")
    got = queue.pending(home)
    assert [r["file"] for r in got] == [earlier.name, later.name]


def test_pending_of_a_home_without_triggers_is_empty(home):
    assert queue.pending(home) == []


def test_alive_trigger_queues_and_exits_0(home):
    fleet(home)
    r = run_alive("trigger", "track", home=home)
    assert r.returncode == 0, r.stderr
    assert "queued a refresh of track" in r.stdout
    [request] = queue.pending(home)
    assert request["source"] == "track" and request["origin"] == "cli"


def test_alive_trigger_of_an_unknown_source_is_exit_3_in_one_line(home):
    fleet(home)
    r = run_alive("trigger", "../../etc", home=home)
    assert r.returncode == 3
    assert r.stderr.count("\n") == 1 and "unknown source '../../etc' (known: sales.eu, track)" in r.stderr
    assert not (home / "triggers").exists()


def test_alive_trigger_without_a_fleet_names_that_there_are_no_sources(home):
    r = run_alive("trigger", "track", home=home)
    assert r.returncode == 3 and "none registered in fleet.toml" in r.stderr


def test_alive_trigger_into_an_unwritable_folder_is_exit_1(home):
    fleet(home)
    (home / "triggers").write_text("a file where the folder should be")
    r = run_alive("trigger", "track", home=home)
    assert r.returncode == 1 and "cannot write to" in r.stderr and "Traceback" not in r.stderr


@pytest.mark.parametrize("raw, problem", [
    (b"{half", "is not JSON"),
    (b"[1, 2]", "holds a JSON list, not an object"),
    (b'{"source": "track"}', "has no string requested_at, id"),
    (b'{"source": 7, "requested_at": "2026-05-02T08:00:00Z", "id": "a"}', "has no string source"),
    (b"\xff\xfe", "is not JSON"),
])
def test_parse_request_names_what_is_wrong(raw, problem):
    assert queue.parse_request(raw) == (None, problem)


def test_parse_request_gives_back_a_well_formed_request():
    doc = {"source": "track", "requested_at": "2026-05-02T08:00:00Z", "id": "a", "origin": "cli"}
    assert queue.parse_request(json.dumps(doc).encode()) == (doc, None)


def test_read_request_never_follows_a_symlink(home, tmp_path):
    target = tmp_path / "elsewhere.json"
    target.write_text('{"source": "track", "requested_at": "2026-05-02T08:00:00Z", "id": "a"}')
    os.symlink(target, home / "link.json")
    assert queue.read_request(home / "link.json") == (None, "is a symbolic link (not followed)")


def test_alive_trigger_timeout_below_one_second_is_exit_3(home):
    fleet(home)
    r = run_alive("trigger", "track", "--timeout", "0s", home=home)
    assert r.returncode == 3 and r.stderr.strip() == "alive trigger: --timeout must be at least 1s"
